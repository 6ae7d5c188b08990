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
    let mut db = app.db();
    let reviewer = accounts::add(
        &mut db,
        "alice",
        Some("Alice Example"),
        "reviewer,pii,images",
        "cli:test",
    )
    .expect("user");
    let masked = accounts::add(&mut db, "bob", None, "reviewer,auditor", "cli:test").expect("user");
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
