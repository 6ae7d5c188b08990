//! The console in headless Chromium (tests/browser/console.py, Playwright): sign-in with password and TOTP,
//! the oldest case opened from the queue by keyboard, the four images rendered, personal fields revealed for
//! a purpose, an approval with a note, the person's name on the case's timeline, a form without its token
//! refused, axe-core on every page, and nothing personal for someone without the pii role. Runs when
//! KYC_TEST_CHROMIUM names the browser, and then fails, never skips, when it is broken. Screenshots go to
//! target/console-screenshots/BACKEND/.

use std::process::Command;

use kyc_receiver::console::accounts;

use crate::helpers::{Backend, TestApp, fixture_json, repo_root};
use crate::records_support::submit_many;

fn python() -> String {
    std::env::var("KYC_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

async fn console_in_a_browser(backend: Backend, name: &str) {
    let Ok(chromium) = std::env::var("KYC_TEST_CHROMIUM") else {
        eprintln!("KYC_TEST_CHROMIUM not set: browser tests not run");
        return;
    };
    let app = TestApp::spawn(backend, "").await;
    submit_many(&app, "ditto-v3-full.json", 2, "browser").await;
    submit_many(&app, "ditto-v3-small.json", 3, "browser-small").await;
    // One refused submission for the quarantine page.
    let mut unknown = fixture_json("ditto-v3-small.json");
    unknown["kyc_info"]["document"]["version"] = serde_json::json!("9.9");
    assert_eq!(app.submit(unknown.to_string()).await.status(), 422);
    let mut db = app.db();
    let key = crate::helpers::protection().audit_key();
    let reviewer = accounts::add(
        &mut db,
        &key,
        "alice",
        Some("Alice Example"),
        "reviewer,pii,images,admin",
        "cli:test",
    )
    .expect("user");
    let masked =
        accounts::add(&mut db, &key, "bob", None, "reviewer,auditor", "cli:test").expect("user");
    let data = &fixture_json("ditto-v3-full.json")["kyc_info"]["document"]["identity_data"];
    let personal: Vec<&str> = ["Given name", "Surname", "Document number"]
        .iter()
        .filter_map(|k| data[*k].as_str())
        .collect();
    let shots = repo_root().join("target/console-screenshots").join(name);
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let out = Command::new(python())
        .arg(repo_root().join("tests/browser/console.py"))
        .env("KYC_TEST_CHROMIUM", &chromium)
        .env("KYC_BASE", &app.base)
        .env("KYC_REVIEWER", "alice")
        .env("KYC_REVIEWER_PASSWORD", &reviewer)
        .env("KYC_REVIEWER_NAME", "user:alice")
        .env("KYC_MASKED", "bob")
        .env("KYC_MASKED_PASSWORD", &masked)
        .env("KYC_PERSONAL", personal.join("\n"))
        .env("KYC_SHOTS", &shots)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser_sqlite() {
    console_in_a_browser(Backend::Sqlite, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_a_browser_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    console_in_a_browser(Backend::Postgres, "postgres").await;
}

/// A port free now (the receiver's callback URL must be known before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Sign-in through a real OpenID provider (`oidc-provider` from npm, tests/browser/oidc), its `groups` claim
/// mapped to console roles.
async fn oidc_in_a_browser(backend: Backend, name: &str) {
    use std::io::BufRead;
    let Ok(chromium) = std::env::var("KYC_TEST_CHROMIUM") else {
        eprintln!("KYC_TEST_CHROMIUM not set: browser tests not run");
        return;
    };
    let dir = repo_root().join("tests/browser/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "run `npm install` in tests/browser/oidc (.ci/run does)"
    );
    let (app_port, idp_port) = (free_port(), free_port());
    let redirect = format!("https://127.0.0.1:{app_port}/console/oidc/callback");
    let mut provider = Command::new("node")
        .arg(dir.join("provider.mjs"))
        .env("PORT", idp_port.to_string())
        .env("REDIRECT", &redirect)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    // Its output is drained for as long as it runs: a closed pipe would end it at its next log line.
    let stdout = provider.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the OpenID provider did not start");
    let label = "Sign in with the test provider";
    let app = TestApp::spawn_with(
        backend,
        |s| {
            s.server.bind = format!("127.0.0.1:{app_port}");
            s.console.oidc = Some(kyc_receiver::config::OidcSettings {
                issuer: format!("http://127.0.0.1:{idp_port}"),
                client_id: "kyc-console".into(),
                client_secret: secrecy::SecretString::from("console-test-secret-0123456789abcdef"),
                redirect_url: redirect.clone(),
                scopes: vec!["profile".into(), "groups".into()],
                roles_claim: "groups".into(),
                role_map: [
                    ("kyc-reviewers".to_string(), vec!["reviewer".to_string()]),
                    (
                        "kyc-dpo".to_string(),
                        vec!["pii".to_string(), "images".to_string()],
                    ),
                ]
                .into(),
                label: label.into(),
                ca_file: None,
            });
        },
        "",
    )
    .await;
    let shots = repo_root().join("target/console-screenshots").join(name);
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let out = Command::new(python())
        .arg(repo_root().join("tests/browser/console.py"))
        .arg("oidc")
        .env("KYC_TEST_CHROMIUM", &chromium)
        .env("KYC_BASE", &app.base)
        .env("KYC_OIDC_LABEL", label)
        .env("KYC_PERSONAL", "")
        .env("KYC_SHOTS", &shots)
        .output()
        .expect("python runs");
    let _ = provider.kill();
    let _ = provider.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "OIDC browser checks failed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_in_a_browser_sqlite() {
    oidc_in_a_browser(Backend::Sqlite, "sqlite-oidc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_in_a_browser_postgres() {
    if !crate::helpers::postgres_configured() {
        return;
    }
    oidc_in_a_browser(Backend::Postgres, "postgres-oidc").await;
}
