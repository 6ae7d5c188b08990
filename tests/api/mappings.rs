//! Mapping files on a running service: decisions per the file, live reload, broken edits refused.

use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, fixture, fixture_json};
use kyc_receiver::store::submissions;

fn shipped_mapping() -> String {
    std::fs::read_to_string(format!(
        "{}/mappings/ditto-v3.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("shipped mapping")
}

async fn decisions_follow_the_shipped_mapping(app: &TestApp) {
    for (name, status, reasons) in [
        (
            "ditto-v3-small.json",
            "pending_review",
            json!(["nfc_not_verified"]),
        ),
        (
            "ditto-v3-rejectable.json",
            "rejected",
            json!([
                "face_mismatch",
                "liveness_failed",
                "document_invalid",
                "document_expired"
            ]),
        ),
        (
            "ditto-v3-full.json",
            "pending_review",
            json!(["nfc_not_verified"]),
        ),
    ] {
        let answer: Value = app.submit(fixture(name)).await.json().await.expect("json");
        let reference = answer["reference_number"].as_str().expect("reference");
        let row = submissions::find(&mut app.db(), &crate::helpers::reference(reference))
            .expect("query")
            .expect("stored");
        assert_eq!(row.status, status, "{name}");
        assert_eq!(row.decision, status, "{name}");
        assert_eq!(
            serde_json::from_str::<Value>(&row.reasons).expect("reasons"),
            reasons,
            "{name}"
        );
        assert_eq!(row.mapping_name, "ditto-v3");
        assert_eq!(row.content_hash, row.compute_content_hash());
        let fields: Value = serde_json::from_str(&row.fields).expect("fields");
        assert!(fields["face_match_score"].is_number(), "{name}: type kept");
    }
}
both_backends!(decisions_follow_the_shipped_mapping);

async fn an_unknown_document_version_is_refused_naming_it(app: &TestApp) {
    let mut body = fixture_json("ditto-v3-small.json");
    body["kyc_info"]["document"]["version"] = json!("9.1");
    let r = app.submit(body.to_string()).await;
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.expect("json");
    assert_eq!(err["error"], "mapping_failed");
    assert!(
        err["message"].as_str().is_some_and(|m| m.contains("9.1")),
        "{err}"
    );
    assert_eq!(app.submission_count(), 0);
}
both_backends!(an_unknown_document_version_is_refused_naming_it);

async fn readiness(app: &TestApp) -> Value {
    app.client
        .get(app.url("/readyz"))
        .bearer_auth(app.operator_token().await)
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json")
}

async fn wait_for(app: &TestApp, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let r = readiness(app).await;
        if check(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn submit_as(app: &TestApp, requester_id: &str) -> submissions::SubmissionRow {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!(requester_id);
    let answer: Value = app
        .submit(body.to_string())
        .await
        .json()
        .await
        .expect("json");
    let reference = answer["reference_number"].as_str().expect("reference");
    submissions::find(&mut app.db(), &crate::helpers::reference(reference))
        .expect("query")
        .expect("stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_apply_live_and_broken_edits_are_refused_while_the_old_set_serves() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("ditto-v3.toml");
    std::fs::write(&file, shipped_mapping()).expect("write");
    let mapping_dir = dir.path().to_path_buf();
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        move |s| {
            s.mappings.dir = mapping_dir;
            s.mappings.poll_interval_ms = 100;
        },
        "",
    )
    .await;

    let first = submit_as(&app, "reload-1").await;
    assert_eq!(first.status, "pending_review");

    // The sample's face-match score is 2.36: raising the threshold to 3.0 rejects it.
    std::fs::write(&file, shipped_mapping().replace("< 1.6", "< 3.0")).expect("edit");
    let old_hash = first.mapping_hash.clone();
    wait_for(&app, "the edited set", |r| {
        r["checks"]["mappings"]["active"][0]["sha256"].as_str() != Some(old_hash.as_str())
    })
    .await;
    let second = submit_as(&app, "reload-2").await;
    assert_eq!(second.status, "rejected");
    assert!(second.reasons.contains("face_mismatch"));
    assert_ne!(second.mapping_hash, first.mapping_hash);

    // A broken edit: refused with file:line, the edited set keeps serving, readiness shows why.
    std::fs::write(&file, shipped_mapping().replace("< 1.6", "< < 3.0")).expect("break");
    let r = wait_for(&app, "the refusal", |r| {
        !r["checks"]["mappings"]["reload_error"].is_null()
    })
    .await;
    let error = r["checks"]["mappings"]["reload_error"]
        .as_str()
        .expect("error text");
    assert!(error.contains("ditto-v3.toml:"), "{error}");
    assert_eq!(r["status"], "ready");
    let third = submit_as(&app, "reload-3").await;
    assert_eq!(third.status, "rejected");
    assert_eq!(third.mapping_hash, second.mapping_hash);
}
