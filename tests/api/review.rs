//! The review workflow and the audit of reads: pending → approved once, 409 afterwards, one transaction with
//! its audit event, `audit verify` still green; image bytes as submitted; every unmasked read or image read
//! leaves an audit event naming the reader, the record and the purpose, never a personal value.

use base64::Engine;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, fixture_json};
use crate::records_support::{auditor, get, submit_many};

async fn post_review(app: &TestApp, token: &str, reference: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/submissions/{reference}/review")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn a_pending_case_is_resolved_once(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "rev")
        .await
        .remove(0);
    let rejected = submit_many(app, "ditto-v3-rejectable.json", 1, "rej")
        .await
        .remove(0);
    let reviewer = auditor(app, "kyc:read kyc:review").await;
    let (status, body) = post_review(
        app,
        &reviewer,
        &reference,
        json!({"decision": "approved", "note": "chip checked by video call"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["review"]["reviewer"], "auditor");

    let (status, again) = post_review(
        app,
        &reviewer,
        &reference,
        json!({"decision": "rejected", "note": "second"}),
    )
    .await;
    assert_eq!(
        (status, again["error"].as_str()),
        (409, Some("not_pending_review"))
    );
    let (status, _) = post_review(
        app,
        &reviewer,
        &rejected,
        json!({"decision": "approved", "note": "x"}),
    )
    .await;
    assert_eq!(status, 409, "an automatic rejection is not a pending case");
    let (status, _) = post_review(
        app,
        &reviewer,
        "KYC-missing",
        json!({"decision": "approved", "note": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, bad) = post_review(
        app,
        &reviewer,
        &reference,
        json!({"decision": "maybe", "note": "x"}),
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (422, Some("invalid_payload"))
    );

    let (_, detail) = get(app, &reviewer, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(detail["status"], "approved");
    assert_eq!(
        detail["decision"], "pending_review",
        "the automatic decision is kept"
    );
    assert_eq!(detail["reviews"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        detail["reviews"][0]["note"], "***",
        "notes need kyc:read_pii"
    );
    assert_eq!(detail["content_hash_ok"], true);
    let kinds: Vec<&str> = detail["audit_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["submission_stored", "submission_reviewed"]);
    let event = &detail["audit_events"][1];
    assert_eq!(event["actor"], "auditor");
    assert_eq!(event["details"]["to"], "approved");
    assert!(
        !event.to_string().contains("video call"),
        "the note stays out of the trail"
    );

    let (status, report) = get(app, &reviewer, "/v1/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["submissions_checked"], 2);
    let (_, events) = get(app, &reviewer, "/v1/audit/events?kind=submission_reviewed").await;
    assert_eq!(events["items"].as_array().map(Vec::len), Some(1));
}
both_backends!(a_pending_case_is_resolved_once);

async fn concurrent_reviews_record_exactly_one(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "race")
        .await
        .remove(0);
    let reviewer = auditor(app, "kyc:review").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, url, token) = (
                app.client.clone(),
                app.url(&format!("/v1/submissions/{reference}/review")),
                reviewer.clone(),
            );
            let decision = if i % 2 == 0 { "approved" } else { "rejected" };
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"decision": decision, "note": format!("reviewer {i}")}))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("join").expect("send"));
    }
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    let report = kyc_receiver::audit::verify(&mut app.db()).expect("verify");
    assert!(report.ok, "{report:?}");
}
both_backends!(concurrent_reviews_record_exactly_one);

async fn a_changed_record_cannot_be_reviewed(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "tamper")
        .await
        .remove(0);
    app.db()
        .batch_execute(&format!(
            "UPDATE submissions SET user_id = 'someone-else' WHERE reference = '{reference}'"
        ))
        .expect("tamper");
    let reviewer = auditor(app, "kyc:review").await;
    let (status, body) = post_review(
        app,
        &reviewer,
        &reference,
        json!({"decision": "approved", "note": "x"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("integrity_check_failed"))
    );
    let report = kyc_receiver::audit::verify(&mut app.db()).expect("verify");
    assert_eq!(
        report.changed_submissions,
        vec![reference],
        "the change is not laundered"
    );
}
both_backends!(a_changed_record_cannot_be_reviewed);

fn selfie_bytes() -> Vec<u8> {
    let v = fixture_json("ditto-v3-full.json");
    let text = v["kyc_info"]["liveness_check"]["video"]["autocapture_result"]["selfie_image"]
        .as_str()
        .expect("selfie");
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64")
}

async fn images_download_as_submitted_and_reads_are_audited(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-full.json", 1, "img")
        .await
        .remove(0);
    let images = auditor(app, "kyc:images").await;
    let r = app
        .client
        .get(app.url(&format!(
            "/v1/submissions/{reference}/images/selfie?purpose=case%2042"
        )))
        .bearer_auth(&images)
        .send()
        .await
        .expect("image");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), selfie_bytes());
    let (status, _) = get(
        app,
        &images,
        &format!("/v1/submissions/{reference}/images/signature"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(
        app,
        &images,
        &format!("/v1/submissions/{reference}/images/raw_payload"),
    )
    .await;
    assert_eq!(status, 403, "the raw payload also needs kyc:read_pii");

    let masked = auditor(app, "kyc:read").await;
    get(app, &masked, &format!("/v1/submissions/{reference}")).await;
    let open = auditor(app, "kyc:read kyc:read_pii").await;
    get(
        app,
        &open,
        &format!("/v1/submissions/{reference}?purpose=complaint%201"),
    )
    .await;
    get(app, &open, "/v1/submissions?status=pending_review").await;

    let reader = auditor(app, "kyc:read").await;
    let (_, trail) = get(app, &reader, "/v1/audit/events?actor=auditor").await;
    let events = trail["items"].as_array().expect("items");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["image_read", "personal_data_read", "personal_data_listed"],
        "a masked read is not an event"
    );
    assert_eq!(events[0]["reference"], reference.as_str());
    assert_eq!(events[0]["details"]["kind"], "selfie");
    assert_eq!(events[0]["details"]["purpose"], "case 42");
    assert_eq!(events[1]["details"]["purpose"], "complaint 1");
    assert_eq!(events[2]["details"]["references"][0], reference.as_str());
    let text = trail.to_string();
    let data = &fixture_json("ditto-v3-full.json")["kyc_info"]["document"]["identity_data"];
    for key in ["Given name", "Surname", "Document number", "Date of birth"] {
        let value = data[key].as_str().expect("value");
        assert!(!text.contains(value), "{value} in the audit trail");
    }
}
both_backends!(images_download_as_submitted_and_reads_are_audited);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purpose_is_required_when_configured() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.audit.require_purpose = true, "").await;
    let reference = submit_many(&app, "ditto-v3-small.json", 1, "purpose")
        .await
        .remove(0);
    let open = auditor(&app, "kyc:read kyc:read_pii").await;
    let (status, body) = get(&app, &open, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("purpose_required"))
    );
    let (status, _) = get(&app, &open, "/v1/submissions").await;
    assert_eq!(status, 400);
    let (status, _) = get(
        &app,
        &open,
        &format!("/v1/submissions/{reference}?purpose=audit%202026"),
    )
    .await;
    assert_eq!(status, 200);
    let masked = auditor(&app, "kyc:read").await;
    let (status, _) = get(&app, &masked, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(status, 200, "masked reads need no purpose");
}
