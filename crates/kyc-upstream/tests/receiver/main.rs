//! `kyc-upstream`, run as a user runs it (the built binary), against the real receiver: `send` with each
//! cipher family and response encryption, the receiver's token endpoint and a static Basic header, and
//! `load` with retries checked against the database. `auth_modes` covers the token cache and header
//! handling in detail against a stand-in receiver that counts what it sees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use diesel::prelude::*;
use kyc_crypto::ProfileSettings;
use kyc_receiver::auth::AuthMode;
use kyc_receiver::auth::settings::BasicUserSettings;
use kyc_receiver::store::submissions_table as submissions;
use kyc_upstream::{Generator, GeneratorSettings, ImageSize};
use serde_json::Value;

use kyc_test_support::{Backend, TestApp, UPSTREAM, fixture, postgres_configured};

mod auth_modes;

/// Runs `kyc-upstream` with `args`; returns (success, stdout, stderr).
pub async fn upstream<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_kyc-upstream"))
        .args(args)
        .env_remove("KYC_UPSTREAM_CLIENT_SECRET")
        .output()
        .await
        .expect("run kyc-upstream");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The receiver's token endpoint with the `upstream` test client, then `rest`.
fn with_token(app: &TestApp, rest: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--token-url".into(),
        app.url("/oauth/token"),
        "--client-id".into(),
        UPSTREAM.0.into(),
        "--client-secret".into(),
        UPSTREAM.1.into(),
    ];
    args.extend(rest.iter().map(|a| (*a).to_owned()));
    args
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// One cipher case: the same TOML block configures the receiver and the simulator.
struct Case {
    name: &'static str,
    request: String,
    response: Option<String>,
}

fn cases() -> Vec<Case> {
    let b64_key = kyc_crypto::generate_key();
    vec![
        Case {
            name: "cbc-static-utf8",
            request: r#"enable = true
algorithm = "AES"
cipherSpec = "AES/CBC/PKCS5Padding"
key = "k3y-0f-16-chars!"
ivParamSpec = "iv-0f-16-chars!!"
blockSizeBytes = 16"#
                .into(),
            response: None,
        },
        Case {
            name: "gcm-prefix-with-cbc-response",
            request: format!(
                "enable = true\ncipher_spec = \"AES/GCM/NoPadding\"\nkey = \"{b64_key}\"\nkey_encoding = \"base64\"\niv = \"prefix\""
            ),
            response: Some(
                "enable = true\ncipherSpec = \"AES/CBC/PKCS5Padding\"\nkey = \"00112233445566778899aabbccddeeff\"\n\
                 keyEncoding = \"hex\"\niv = \"prefix\""
                    .into(),
            ),
        },
        Case {
            name: "ctr-static-hex",
            request: "enable = true\ncipherSpec = \"AES/CTR/NoPadding\"\n\
                      key = \"000102030405060708090a0b0c0d0e0f1011121314151617\"\nkeyEncoding = \"hex\"\n\
                      ivParamSpec = \"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\"\nivEncoding = \"hex\""
                .into(),
            response: None,
        },
        Case {
            name: "jwe-both-ways",
            request: format!("enable = true\ncipherSpec = \"JWE\"\nkey = \"{b64_key}\"\nkeyEncoding = \"base64\""),
            response: Some(format!(
                "enable = true\ncipherSpec = \"JWE\"\nkey = \"{b64_key}\"\nkeyEncoding = \"base64\""
            )),
        },
    ]
}

fn profile(block: &str) -> ProfileSettings {
    toml::from_str(block).expect("profile block")
}

async fn send_with_each_cipher(backend: Backend) {
    for case in cases() {
        let (req, resp) = (
            profile(&case.request),
            case.response.as_deref().map(profile),
        );
        let app = TestApp::spawn_with(
            backend,
            move |s| {
                s.encryption.request = req;
                if let Some(r) = resp {
                    s.encryption.response = r;
                }
            },
            "",
        )
        .await;
        let dir = tempfile::tempdir().expect("dir");
        let mut config = format!(
            "token_url = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
             submit_url = \"{}\"\nca = \"{}\"\nheader = [\"apiversion: v2\"]\n\n[encryption.request]\n{}\n",
            app.url("/oauth/token"),
            UPSTREAM.0,
            UPSTREAM.1,
            app.url("/kyc"),
            app.cert_path().display(),
            case.request
        );
        if let Some(r) = &case.response {
            config.push_str(&format!("\n[encryption.responseDecryption]\n{r}\n"));
        }
        let config = write(dir.path(), "upstream.toml", config);
        let payload = write(dir.path(), "p.json", fixture("ditto-v3-small.json"));
        let (ok, stdout, stderr) = upstream(&["--config", &config, "send", &payload]).await;
        assert!(ok, "{}: {stderr}", case.name);
        let answer: Value = serde_json::from_str(stdout.trim()).expect("decrypted JSON printed");
        assert_eq!(answer["result"], true, "{}", case.name);
        assert_eq!(
            answer["user_id"], "sofía.953893@example.com",
            "{}",
            case.name
        );
        let rows: Vec<(String, Option<String>)> = submissions::table
            .select((submissions::reference, submissions::decryption_key))
            .load(&mut app.db())
            .expect("rows");
        assert_eq!(rows.len(), 1, "{}", case.name);
        assert_eq!(
            rows[0].0,
            answer["reference_number"].as_str().expect("reference")
        );
        assert_eq!(
            rows[0].1.as_deref(),
            Some("current"),
            "{}: the body was encrypted",
            case.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_send_with_each_cipher() {
    send_with_each_cipher(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_send_with_each_cipher() {
    if postgres_configured() {
        send_with_each_cipher(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_exits_non_zero_without_a_valid_confirmation() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    let dir = tempfile::tempdir().expect("dir");
    let bad = write(
        dir.path(),
        "bad.json",
        br#"{"request_info": {"user_id": "u"}}"#,
    );
    let good = write(dir.path(), "good.json", fixture("ditto-v3-rejectable.json"));
    let url = app.url("/kyc");
    let ca = app.cert_path().display().to_string();
    let (ok, stdout, stderr) = upstream(&with_token(
        &app,
        &["--submit-url", &url, "--ca", &ca, "send", &bad],
    ))
    .await;
    assert!(!ok);
    assert!(stdout.contains("invalid_payload"), "{stdout}");
    assert!(stderr.contains("HTTP 422 invalid_payload"), "{stderr}");
    // No credentials: the receiver's 401 is not a confirmation.
    let (ok, _, stderr) = upstream(&["--submit-url", &url, "--ca", &ca, "send", &good]).await;
    assert!(!ok && stderr.contains("HTTP 401 invalid_token"), "{stderr}");
    // A wrong secret fails at the token endpoint, and the message does not repeat it.
    let (ok, _, stderr) = upstream(&[
        "--token-url",
        &app.url("/oauth/token"),
        "--client-id",
        UPSTREAM.0,
        "--client-secret",
        "not-the-secret",
        "--submit-url",
        &url,
        "--ca",
        &ca,
        "send",
        &good,
    ])
    .await;
    assert!(
        !ok && stderr.contains("invalid_client") && !stderr.contains("not-the-secret"),
        "{stderr}"
    );
    // Without the CA the self-signed certificate is refused; --insecure accepts it.
    let (ok, _, stderr) = upstream(&with_token(&app, &["--submit-url", &url, "send", &good])).await;
    assert!(!ok && stderr.contains("unreachable"), "{stderr}");
    let (ok, stdout, stderr) = upstream(&with_token(
        &app,
        &["--submit-url", &url, "--insecure", "send", &good],
    ))
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(r#""result":false"#),
        "a rejection is still a valid confirmation: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_with_a_static_basic_header() {
    let hash = kyc_receiver::auth::hash_secret("static-password-0123456789").expect("hash");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        move |s| {
            s.auth.modes.push(AuthMode::Basic);
            s.auth.basic.push(BasicUserSettings {
                username: "ditto-static".into(),
                password_hash: hash.into(),
                scopes: vec!["kyc:submit".into()],
            });
        },
        "",
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let payload = write(dir.path(), "p.json", fixture("ditto-v3-small.json"));
    let (url, ca) = (app.url("/kyc"), app.cert_path().display().to_string());
    let basic =
        base64::engine::general_purpose::STANDARD.encode("ditto-static:static-password-0123456789");
    let header = format!("Authorization: Basic {basic}");
    let (ok, stdout, stderr) = upstream(&[
        "--submit-url",
        &url,
        "--ca",
        &ca,
        "-H",
        &header,
        "send",
        &payload,
    ])
    .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(r#""result":true"#), "{stdout}");
    assert_eq!(app.submission_count(), 1);
    let wrong = format!(
        "Authorization: Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ditto-static:nope")
    );
    let (ok, _, stderr) = upstream(&[
        "--submit-url",
        &url,
        "--ca",
        &ca,
        "-H",
        &wrong,
        "send",
        &payload,
    ])
    .await;
    assert!(!ok && stderr.contains("HTTP 401"), "{stderr}");
}

async fn load_matches_the_database(backend: Backend) {
    let app = TestApp::spawn(backend, "").await;
    let dir = tempfile::tempdir().expect("dir");
    let acked = dir.path().join("acked.txt");
    let (url, ca) = (app.url("/kyc"), app.cert_path().display().to_string());
    let acked_arg = acked.display().to_string();
    let args = with_token(
        &app,
        &[
            "--submit-url",
            &url,
            "--ca",
            &ca,
            "load",
            "--count",
            "60",
            "--concurrency",
            "8",
            "--retry-every",
            "5",
            "--images",
            "small",
            "--reject-share",
            "0.4",
            "--seed",
            "606",
            "--acked",
            &acked_arg,
            "--json",
        ],
    );
    let (ok, stdout, stderr) = upstream(&args).await;
    assert!(ok, "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("json summary");
    assert_eq!(report["acknowledged"], 60);
    assert_eq!(report["errors_total"], 0, "{report}");
    assert_eq!(report["unexpected_results"], 0, "{report}");
    let retries = report["retries"].as_u64().expect("retries");
    assert_eq!(
        retries + report["retries_skipped"].as_u64().expect("skipped"),
        12
    );
    assert!(
        retries >= 6,
        "most retries find an acknowledged id: {report}"
    );
    assert_eq!(report["retries_confirmed"], retries, "{report}");
    assert_eq!(report["requests"], 60 + retries);
    assert_eq!(
        report["token_fetches"], 1,
        "one token, cached for the whole run"
    );

    let rows: Vec<(String, String)> = submissions::table
        .select((submissions::requester_id, submissions::status))
        .load(&mut app.db())
        .expect("rows");
    assert_eq!(rows.len(), 60, "retries created no rows");
    let stored: BTreeMap<String, String> = rows.into_iter().collect();
    let listed: Vec<String> = std::fs::read_to_string(&acked)
        .expect("acked file")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed.len(), 60, "each id once");
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(listed, stored.keys().cloned().collect::<BTreeSet<_>>());

    // The generator's intent agrees with what the shipped mapping decided, row by row.
    let g = Generator::new(GeneratorSettings {
        seed: 606,
        images: ImageSize::None,
        reject_share: 0.4,
        image_variants: 1,
    })
    .expect("generator");
    let mut rejected = 0;
    for i in 0..60 {
        let p = g.payload(i).expect("payload");
        assert_eq!(
            stored[&p.requester_id],
            p.expected.decision(),
            "payload {i}: {:?}",
            p.expected
        );
        rejected += u64::from(!p.expected.result());
    }
    assert_eq!(report["rejected"], rejected);
    assert!(rejected > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_load_matches_the_database() {
    load_matches_the_database(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_load_matches_the_database() {
    if postgres_configured() {
        load_matches_the_database(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_writes_deterministic_files_with_their_expected_decisions() {
    let dir = tempfile::tempdir().expect("dir");
    let out = |name: &str| dir.path().join(name).display().to_string();
    let (a, b) = (out("a"), out("b"));
    for target in [&a, &b] {
        let (ok, _, stderr) = upstream(&[
            "generate", "--seed", "9", "--count", "3", "--images", "none", "--out", target,
        ])
        .await;
        assert!(ok, "{stderr}");
    }
    let read = |dir: &str, f: &str| std::fs::read(PathBuf::from(dir).join(f)).expect("file");
    assert_eq!(
        read(&a, "payload-9-000002.json"),
        read(&b, "payload-9-000002.json")
    );
    let manifest = String::from_utf8(read(&a, "expected.jsonl")).expect("utf8");
    assert_eq!(manifest.lines().count(), 3);
    let (ok, stdout, _) = upstream(&[
        "generate", "--seed", "9", "--count", "2", "--images", "none",
    ])
    .await;
    assert!(ok);
    let first: Value = serde_json::from_str(stdout.lines().next().expect("line")).expect("ndjson");
    assert_eq!(first["kyc_info"]["document"]["version"], "3.0");
}
