use crate::both_backends;
use crate::helpers::{TestApp, captured_logs, fixture, fixture_json};

async fn names_and_document_numbers_never_leave_in_answers_or_logs(app: &TestApp) {
    let mut bodies = Vec::new();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        bodies.push(app.submit(fixture(name)).await.text().await.expect("text"));
        bodies.push(app.submit(fixture(name)).await.text().await.expect("text"));
    }
    let mut conflicting = fixture_json("ditto-v3-small.json");
    conflicting["kyc_info"]["face_matcher_result"]["score"] = serde_json::json!(0.1);
    bodies.push(
        app.submit(conflicting.to_string())
            .await
            .text()
            .await
            .expect("text"),
    );
    let mut broken = fixture_json("ditto-v3-rejectable.json");
    broken["kyc_info"]["document"]["identity_data"]["Surname"] = serde_json::json!({"x": 1});
    broken["kyc_info"]["face_matcher_result"]["score"] = serde_json::json!("Bērziņš");
    bodies.push(
        app.submit(broken.to_string())
            .await
            .text()
            .await
            .expect("text"),
    );

    assert!(
        crate::helpers::log_violations().is_empty(),
        "{:#?}",
        crate::helpers::log_violations()
    );
    let logs = captured_logs();
    assert!(
        logs.iter().any(|l| l.contains("route=/kyc")),
        "request log lines are captured"
    );
    for value in crate::helpers::forbidden_values() {
        for body in &bodies {
            assert!(!body.contains(&value), "response contains {value}: {body}");
        }
        for line in &logs {
            assert!(!line.contains(&value), "log line contains {value}: {line}");
        }
    }
}
both_backends!(names_and_document_numbers_never_leave_in_answers_or_logs);

async fn images_and_personal_fields_are_sealed_at_rest(app: &TestApp) {
    use diesel::prelude::*;
    use kyc_receiver::store::{images, submission_images, submissions};
    let answer: serde_json::Value = app
        .submit(fixture("ditto-v3-full.json"))
        .await
        .json()
        .await
        .expect("json");
    let reference = &crate::helpers::reference(answer["reference_number"].as_str().expect("ref"));
    let mut db = app.db();
    let kinds: Vec<String> = images::kinds(&mut db, reference)
        .expect("kinds")
        .into_iter()
        .map(|k| k.0)
        .collect();
    assert_eq!(kinds, ["back", "front", "portrait", "selfie"]);
    let p = crate::helpers::protection();
    for kind in &kinds {
        let row = images::find(&mut db, reference, kind)
            .expect("query")
            .expect("row");
        assert_ne!(
            row.blob.ciphertext[..3],
            [0xFF, 0xD8, 0xFF],
            "{kind} is not stored in the clear"
        );
        assert_eq!(
            p.open_image(reference, &row).expect("opens")[..3],
            [0xFF, 0xD8, 0xFF],
            "{kind}"
        );
    }
    let row = submissions::find(&mut db, reference)
        .expect("query")
        .expect("row");
    for value in ["Jānis", "Smith", "MD2053424", "1986-01-20"] {
        assert!(
            !row.fields.contains(value),
            "{value} stored in the clear: {}",
            row.fields
        );
    }
    let fields = p
        .record_fields(&row.reference, &row.fields, row.sealed_pii().as_ref())
        .expect("open fields");
    assert_eq!(fields["document_number"], "MD2053424");
    assert_eq!(fields["given_name"], "Jānis");
    assert_eq!(
        row.document_number_hmac,
        Some(p.document_number_hmac("MD2053424"))
    );
    let total: i64 = submission_images::table
        .select(diesel::dsl::count_star())
        .first(&mut db)
        .expect("count");
    assert_eq!(total, 4);
}
both_backends!(images_and_personal_fields_are_sealed_at_rest);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_policy_stores_no_image_but_still_checks_them() {
    let app = TestApp::spawn_with(
        crate::helpers::Backend::Sqlite,
        |s| s.storage.images = kyc_receiver::config::ImagePolicy::Drop,
        "",
    )
    .await;
    assert_eq!(
        app.submit(fixture("ditto-v3-full.json")).await.status(),
        200
    );
    let mut not_an_image = fixture_json("ditto-v3-small.json");
    not_an_image["kyc_info"]["liveness_check"]["video"]["autocapture_result"]["selfie_image"] =
        serde_json::json!("aGVsbG8gd29ybGQ=");
    let r = app.submit(not_an_image.to_string()).await;
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("images.selfie")),
        "{body}"
    );
    use diesel::prelude::*;
    let total: i64 = kyc_receiver::store::submission_images::table
        .select(diesel::dsl::count_star())
        .first(&mut app.db())
        .expect("count");
    assert_eq!(total, 0);
}
