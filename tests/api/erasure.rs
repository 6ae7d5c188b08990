//! Erasure by subject: images and personal fields go, decisions, reasons and hashes stay, the audit trail
//! still verifies, and the receipt names no personal value.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{DPO, TestApp, fixture_json};
use kyc_receiver::store::{images, submissions};

async fn erasing_a_subject_removes_personal_data_and_keeps_decisions(app: &TestApp) {
    let subject = "jānis.951665@example.com";
    let mut references = Vec::new();
    for requester in ["erase-1", "erase-2"] {
        let mut body = fixture_json("ditto-v3-full.json");
        body["request_info"]["requester_id"] = json!(requester);
        let answer: Value = app
            .submit(body.to_string())
            .await
            .json()
            .await
            .expect("json");
        references.push(crate::helpers::reference(
            answer["reference_number"].as_str().expect("ref"),
        ));
    }
    let other: Value = app
        .submit(fixture_json("ditto-v3-small.json").to_string())
        .await
        .json()
        .await
        .expect("json");
    let before = submissions::find(&mut app.db(), &references[0])
        .expect("q")
        .expect("row");

    let url = app.url(&format!("/v1/subjects/{subject}"));
    let upstream = app
        .client
        .delete(&url)
        .bearer_auth(&app.token)
        .query(&[("reason", "x")])
        .send()
        .await
        .expect("send");
    assert_eq!(upstream.status(), 403, "the upstream cannot erase");
    let dpo = app.token_for(DPO.0, DPO.1, None).await;
    let no_reason = app
        .client
        .delete(&url)
        .bearer_auth(&dpo)
        .send()
        .await
        .expect("send");
    assert_eq!(no_reason.status(), 422);

    let r = app
        .client
        .delete(&url)
        .bearer_auth(&dpo)
        .query(&[("reason", "GDPR Art. 17 request 42")])
        .send()
        .await
        .expect("erase");
    assert_eq!(r.status(), 200);
    let receipt: Value = r.json().await.expect("json");
    assert_eq!(receipt["submissions"], 2);
    assert_eq!(receipt["images"], 8);
    let receipt_text = receipt.to_string();
    assert!(
        !receipt_text.contains("jānis") && !receipt_text.contains("MD2053424"),
        "{receipt_text}"
    );

    let mut db = app.db();
    for reference in &references {
        let row = submissions::find(&mut db, reference)
            .expect("q")
            .expect("row");
        assert!(images::kinds(&mut db, reference).expect("kinds").is_empty());
        assert!(row.pii_ciphertext.is_none() && row.document_number_hmac.is_none());
        assert!(row.erased_at.is_some());
        assert!(row.user_id.starts_with("erased-"));
        assert!(
            !row.response_body.contains("jānis") && !row.fields.contains("jānis"),
            "{}",
            row.response_body
        );
        assert_eq!(
            (row.decision.as_str(), row.reasons.as_str()),
            (before.decision.as_str(), before.reasons.as_str())
        );
        assert_eq!(row.content_hash, row.compute_content_hash());
    }
    let untouched = submissions::find(
        &mut db,
        &crate::helpers::reference(other["reference_number"].as_str().expect("ref")),
    )
    .expect("q")
    .expect("row");
    assert!(untouched.erased_at.is_none() && untouched.pii_ciphertext.is_some());

    let report = kyc_receiver::audit::verify(&mut db).expect("verify");
    assert!(report.ok, "{report:?}");
    let events = app.audit_events();
    let receipt_event = events
        .iter()
        .find(|e| e.0 == "subject_erased")
        .expect("receipt event");
    assert!(receipt_event.2.contains("GDPR Art. 17") && !receipt_event.2.contains("jānis"));

    // A second erasure finds nothing left, and still leaves a receipt.
    let again: Value = app
        .client
        .delete(&url)
        .bearer_auth(&dpo)
        .query(&[("reason", "repeat")])
        .send()
        .await
        .expect("again")
        .json()
        .await
        .expect("json");
    assert_eq!(again["submissions"], 0);
}
both_backends!(erasing_a_subject_removes_personal_data_and_keeps_decisions);
