//! Tamper evidence: change, delete or swap audit events, or change a submission row directly in the
//! database, and `audit verify` (library and CLI) names what was broken.

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{TestApp, fixture, fixture_json};
use kyc_receiver::audit::{self, VerifyReport};

/// Five events: three stored, one replayed, one refused.
async fn populate(app: &TestApp) -> Vec<String> {
    let mut references = Vec::new();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        let answer: serde_json::Value = app.submit(fixture(name)).await.json().await.expect("json");
        references.push(
            answer["reference_number"]
                .as_str()
                .expect("ref")
                .to_string(),
        );
    }
    assert_eq!(
        app.submit(fixture("ditto-v3-small.json")).await.status(),
        200
    );
    assert_eq!(app.submit("{").await.status(), 400);
    references
}

fn verify(app: &TestApp) -> VerifyReport {
    audit::verify(&mut app.db()).expect("verify")
}

fn cli_verify(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["audit", "verify"])
        .env_remove("KYC_CONFIG")
        .env("KYC__DATABASE__URL", &app.db_url)
        .output()
        .expect("run");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn tamper(app: &TestApp, sql: &str) {
    app.db().batch_execute(sql).expect("tamper");
}

fn assert_broken_at(app: &TestApp, seq: i64, kind: &str) {
    let report = verify(app);
    assert!(!report.ok);
    let problem = report.first_broken_event.expect("a problem");
    assert_eq!(
        (problem.seq, problem.kind),
        (seq, kind),
        "{}",
        problem.detail
    );
    let (ok, text) = cli_verify(app);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("event {seq}")) && text.contains(kind),
        "{text}"
    );
}

async fn an_untouched_trail_verifies(app: &TestApp) {
    populate(app).await;
    let report = verify(app);
    assert!(report.ok, "{report:?}");
    // The start-up's mapping activation, three stored submissions, one replay and one refusal.
    assert_eq!((report.events_checked, report.submissions_checked), (6, 3));
    let (ok, text) = cli_verify(app);
    assert!(ok && text.contains("audit trail intact"), "{text}");
}
both_backends!(an_untouched_trail_verifies);

async fn a_changed_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(
        app,
        "UPDATE audit_events SET details = '{\"status\":\"approved\"}' WHERE seq = 2",
    );
    assert_broken_at(app, 2, "content_changed");
}
both_backends!(a_changed_event_is_named);

async fn a_deleted_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(app, "DELETE FROM audit_events WHERE seq = 3");
    assert_broken_at(app, 3, "missing");
}
both_backends!(a_deleted_event_is_named);

async fn a_deleted_last_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(app, "DELETE FROM audit_events WHERE seq = 6");
    assert_broken_at(app, 6, "truncated");
}
both_backends!(a_deleted_last_event_is_named);

async fn swapped_events_are_named(app: &TestApp) {
    populate(app).await;
    tamper(
        app,
        "UPDATE audit_events SET seq = -2 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE seq = -2;",
    );
    assert_broken_at(app, 2, "order_changed");
}
both_backends!(swapped_events_are_named);

async fn a_changed_submission_row_is_named(app: &TestApp) {
    let references = populate(app).await;
    tamper(
        app,
        &format!(
            "UPDATE submissions SET status = 'approved' WHERE reference = '{}'",
            references[1]
        ),
    );
    let report = verify(app);
    assert!(!report.ok);
    assert!(report.first_broken_event.is_none());
    assert_eq!(report.changed_submissions, vec![references[1].clone()]);
    let (ok, text) = cli_verify(app);
    assert!(!ok && text.contains(&references[1]), "{text}");
}
both_backends!(a_changed_submission_row_is_named);

async fn concurrent_writers_keep_one_unbroken_chain(app: &TestApp) {
    let template = fixture_json("ditto-v3-small.json");
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let mut body = template.clone();
            body["request_info"]["requester_id"] = json!(format!("chain-{}", i % 45));
            let (client, url, token) = (app.client.clone(), app.url("/kyc"), app.token.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(&token)
                    .body(body.to_string())
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("send").as_u16(), 200);
    }
    let report = verify(app);
    assert!(report.ok, "{report:?}");
    assert_eq!(
        (report.events_checked, report.submissions_checked),
        (61, 45)
    );
}
both_backends!(concurrent_writers_keep_one_unbroken_chain);
