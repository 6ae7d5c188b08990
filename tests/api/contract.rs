//! The API contract, checked by a tool none of us wrote: `schemathesis run /openapi.json --checks all`
//! against the running service, with a token holding every scope. It runs when `KYC_TEST_SCHEMATHESIS` names
//! the `schemathesis` executable (`.ci/run` installs it from PyPI and sets it) and fails, never skips, when
//! it is set and anything is wrong.

use crate::helpers::{Backend, TestApp};

const ALL_SCOPES: &str = "kyc:submit kyc:read kyc:read_pii kyc:images kyc:review kyc:erase kyc:metrics kyc:admin kyc:events";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_and_the_service_agree() {
    let Ok(schemathesis) = std::env::var("KYC_TEST_SCHEMATHESIS") else {
        eprintln!(
            "KYC_TEST_SCHEMATHESIS not set: the schemathesis contract run is not part of this run"
        );
        return;
    };
    let secret = "contract-secret-for-tests-0123456789";
    let hash = kyc_receiver::auth::hash_secret(secret).expect("hash");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        move |s| {
            s.auth
                .clients
                .push(kyc_receiver::auth::settings::ClientSettings {
                    client_id: "contract".into(),
                    secret_hash: hash.into(),
                    scopes: ALL_SCOPES.split(' ').map(str::to_string).collect(),
                    cert_subject: None,
                    dev_secret: None,
                });
            // schemathesis sends hundreds of requests from one address; the failure limits are not its subject.
            s.rate_limit.per_second = 0.0;
            // The change feed's long poll may hold a request up to `wait` seconds; the contract run keeps it
            // short so its response-time check stays meaningful (the long poll is tested in webhooks.rs).
            s.events.max_wait_secs = 1;
        },
        "",
    )
    .await;
    let token = app.token_for("contract", secret, None).await;
    crate::helpers::forbid_in_logs(&token);
    // Something to find, so the record, image and review routes are reached with a real reference.
    let stored: serde_json::Value = app
        .submit(crate::helpers::fixture("ditto-v3-full.json"))
        .await
        .json()
        .await
        .expect("json");
    let reference = stored["reference_number"].as_str().expect("reference");
    let dir = tempfile::tempdir().expect("dir");
    let document = dir.path().join("openapi.json");
    let text = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .text()
        .await
        .expect("text");
    std::fs::write(&document, text).expect("write");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis.toml");
    let out = tokio::process::Command::new(&schemathesis)
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(&document)
        .args([
            "--url",
            &app.base,
            "--checks",
            "all",
            "--max-examples",
            "50",
        ])
        .args([
            "--seed",
            &std::env::var("KYC_TEST_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261130".into()),
            "--no-color",
        ])
        .arg("--tls-verify")
        .arg(app.cert_path())
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .env("KYC_CONTRACT_REFERENCE", reference)
        .output()
        .await
        .unwrap_or_else(|e| panic!("KYC_TEST_SCHEMATHESIS={schemathesis} cannot run: {e}"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    let summary: Vec<&str> = report.lines().rev().take(12).collect();
    eprintln!(
        "{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}
