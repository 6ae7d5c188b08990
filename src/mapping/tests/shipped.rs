//! The shipped mappings against the sample payloads (now = 2026-11-22).

use std::borrow::Cow;
use std::path::Path;

use serde_json::{Value, json};

use super::super::super::decision::Status;
use super::super::{Mapping, MappingError, MappingSet, ResponseContext};
use super::{TestResult, fixture, now};

fn shipped() -> Result<MappingSet, Box<dyn std::error::Error>> {
    Ok(MappingSet::load_dir(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/mappings"
    )))?)
}

/// Runs a payload through the selected mapping: (status, reason codes, response).
fn outcome(
    set: &MappingSet,
    payload: &Value,
) -> Result<(Status, Vec<String>, Value), Box<dyn std::error::Error>> {
    let m = set.select(payload)?;
    let mapped = m.apply(payload, now())?;
    let ctx = ResponseContext {
        payload,
        fields: &mapped.fields,
        decision: &mapped.decision,
        reference: "KYC-1",
        received_at: now(),
    };
    let response = m.render_response(&ctx)?;
    let codes = mapped
        .decision
        .reason_codes()
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok((mapped.decision.status, codes, response))
}

#[test]
fn the_shipped_directory_loads_only_ditto_v3() -> TestResult {
    let set = shipped()?;
    assert_eq!(set.names(), ["ditto-v3"]);
    let m = set.get("ditto-v3").ok_or("ditto-v3 is shipped")?;
    assert_eq!(
        m.image_kinds()[..4],
        ["selfie", "front", "back", "portrait"]
    );
    Ok(())
}

#[test]
fn small_sample_goes_to_review_because_its_nfc_chip_was_bypassed() -> TestResult {
    // Scores, status and expiry are fine, but the passport has a chip (is_nfc_document) that was
    // not read ("NFC SCAN BYPASSED", no R source): the honest outcome is review, not approval.
    let payload = fixture("ditto-v3-small.json")?;
    let set = shipped()?;
    let (status, reasons, response) = outcome(&set, &payload)?;
    assert_eq!(status, Status::PendingReview);
    assert_eq!(reasons, ["nfc_not_verified"]);
    assert_eq!(
        response,
        json!({"result": true, "reference_number": "KYC-1", "user_id": "sofía.953893@example.com"})
    );
    let m = set.select(&payload)?;
    let mapped = m.apply(&payload, now())?;
    let f = &mapped.fields;
    assert_eq!(f["given_name"], json!("Sofía"));
    assert_eq!(f["full_name"], json!("Sofía Kowalski"));
    assert_eq!(f["date_of_birth"], json!("2002-09-04"));
    assert_eq!(f["document_expiry"], json!("2032-10-02"));
    assert_eq!(f["document_number"], json!("XB2215279"));
    assert_eq!(f["document_type"], json!("Passport"));
    assert_eq!(f["document_name"], json!("Nigeria - ePassport (2019)"));
    assert_eq!(f["document_class"], json!("P"));
    assert_eq!(f["nationality"], json!("NGA"));
    assert_eq!(f["issuing_state"], json!("NGA"));
    assert_eq!(f["face_match_score"], json!(2.3629));
    assert_eq!(f["liveness_score"], json!(100));
    assert_eq!(f["nfc_document"], json!(true));
    assert_eq!(f["nfc_scan_status"], json!("NFC SCAN BYPASSED"));
    assert_eq!(f["error_list"], json!([]));
    assert_eq!(
        f["requester_id"],
        json!("3d9c1724-11e2-0b8f-6b0d-549b6f03675a")
    );
    for pii in [
        "given_name",
        "surname",
        "full_name",
        "date_of_birth",
        "document_number",
    ] {
        assert!(mapped.pii.contains(pii), "{pii} is pii");
    }
    assert!(!mapped.pii.contains("face_match_score"));
    assert!(
        mapped.images.is_empty(),
        "empty selfie and no document images"
    );
    assert!(mapped.warnings.is_empty(), "{:?}", mapped.warnings);
    Ok(())
}

#[test]
fn rejectable_sample_is_rejected_with_all_four_reasons_in_rule_order() -> TestResult {
    let payload = fixture("ditto-v3-rejectable.json")?;
    let (status, reasons, response) = outcome(&shipped()?, &payload)?;
    assert_eq!(status, Status::Rejected);
    assert_eq!(
        reasons,
        [
            "face_mismatch",
            "liveness_failed",
            "document_invalid",
            "document_expired"
        ]
    );
    assert_eq!(response["result"], json!(false), "a JSON bool, not text");
    assert_eq!(response["user_id"], json!("wei.583705@example.com"));
    Ok(())
}

#[test]
fn full_sample_keeps_its_four_images_borrowed_and_goes_to_review_for_nfc() -> TestResult {
    // Approved upstream, but the same bypassed chip read as the small sample.
    let payload = fixture("ditto-v3-full.json")?;
    let set = shipped()?;
    let (status, reasons, _) = outcome(&set, &payload)?;
    assert_eq!(status, Status::PendingReview);
    assert_eq!(reasons, ["nfc_not_verified"]);
    let mapped = set.select(&payload)?.apply(&payload, now())?;
    let kinds: Vec<&str> = mapped.images.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["selfie", "front", "back", "portrait"]);
    for img in &mapped.images {
        assert!(
            matches!(img.data, Cow::Borrowed(_)),
            "{} is borrowed, not copied",
            img.kind
        );
        assert!(
            img.data.starts_with("/9j/"),
            "{} is the JPEG base64 as sent",
            img.kind
        );
    }
    assert_eq!(mapped.fields["error_list"], json!([]));
    Ok(())
}

#[test]
fn a_completed_chip_read_with_good_scores_is_approved() -> TestResult {
    let mut payload = fixture("ditto-v3-small.json")?;
    payload["kyc_info"]["document"]["document_info"]["field_sources"] = json!(["M", "R", "V"]);
    payload["kyc_info"]["document"]["document_status"]["nfc_scan_status"] =
        json!("NFC SCAN SUCCESS");
    let (status, reasons, response) = outcome(&shipped()?, &payload)?;
    assert_eq!((status, reasons.len()), (Status::Approved, 0));
    assert_eq!(response["result"], json!(true));
    // …but a bypass status still means review, whatever the sources say.
    payload["kyc_info"]["document"]["document_status"]["nfc_scan_status"] =
        json!("NFC SCAN BYPASSED");
    assert_eq!(outcome(&shipped()?, &payload)?.1, ["nfc_not_verified"]);
    Ok(())
}

#[test]
fn missing_scores_and_odd_statuses_never_approve() -> TestResult {
    let mut payload = fixture("ditto-v3-small.json")?;
    payload["kyc_info"]["document"]["document_status"]["is_nfc_document"] = json!(false);
    assert_eq!(
        outcome(&shipped()?, &payload)?.0,
        Status::Approved,
        "baseline"
    );
    let mut p = payload.clone();
    if let Some(r) = p["kyc_info"].as_object_mut() {
        r.remove("face_matcher_result");
    }
    assert_eq!(outcome(&shipped()?, &p)?.1, ["face_match_missing"]);
    let mut p = payload.clone();
    p["kyc_info"]["face_matcher_result"]["score"] = json!("not a number");
    assert_eq!(
        outcome(&shipped()?, &p)?.1,
        ["face_match_missing"],
        "a malformed score is no score"
    );
    let mut p = payload.clone();
    p["kyc_info"]["liveness_check"] = json!(null);
    assert_eq!(outcome(&shipped()?, &p)?.1, ["liveness_missing"]);
    let mut p = payload.clone();
    p["kyc_info"]["document"]["document_status"]["overall_document_status"] = json!("NOT DONE");
    assert_eq!(outcome(&shipped()?, &p)?.1, ["document_invalid"]);
    let mut p = payload;
    p["kyc_info"]["document"]["identity_data"]["Date of expiry"] = json!("2026-11-21");
    assert_eq!(
        outcome(&shipped()?, &p)?.1,
        ["document_expired"],
        "yesterday has expired"
    );
    p["kyc_info"]["document"]["identity_data"]["Date of expiry"] = json!("2026-11-22");
    assert_eq!(
        outcome(&shipped()?, &p)?.0,
        Status::Approved,
        "valid through today"
    );
    Ok(())
}

#[test]
fn unknown_versions_and_missing_user_ids_are_refused_with_reasons() -> TestResult {
    let set = shipped()?;
    let mut payload = fixture("ditto-v3-small.json")?;
    payload["kyc_info"]["document"]["version"] = json!("2.0");
    let err = set
        .select(&payload)
        .err()
        .ok_or("version 2.0 has no mapping")?;
    assert_eq!(
        err.to_string(),
        "no mapping handles document version 2.0 (tried: ditto-v3)"
    );
    assert_eq!(err.code(), "mapping_failed");
    let err = set.select(&json!({"hello": 1})).err().ok_or("no mapping")?;
    assert_eq!(
        err.to_string(),
        "no mapping matches this submission (tried: ditto-v3)"
    );

    let mut payload = fixture("ditto-v3-small.json")?;
    payload["request_info"]["user_id"] = json!("");
    let err = set
        .select(&payload)?
        .apply(&payload, now())
        .err()
        .ok_or("user_id is required")?;
    assert!(matches!(&err, MappingError::RequiredFieldMissing { field, .. } if field == "user_id"));
    assert_eq!(
        err.to_string(),
        "mapping `ditto-v3`: required field `user_id` is empty (from `${request_info.user_id}`)"
    );
    Ok(())
}

#[test]
fn a_response_template_can_render_status_reasons_and_fields() -> TestResult {
    let text = r#"name = "r"
[fields]
uid = "${request_info.user_id}"
[[rules]]
when = "${kyc_info.face_matcher_result.score} < 1.6"
decision = "reject"
reason = "face_mismatch"
[response]
ok = "${decision.result}"
ref = "KYC ${submission.reference}"
status_code = "${decision.status}"
status_message = "${decision.reasons | join(',')}"
reasons = "${decision.reasons}"
user = { id = "${fields.uid}", at = "${submission.received_at}", fixed = [1, true, "x"] }
"#;
    let m = Mapping::from_bytes(Path::new("r.toml"), text.as_bytes())?;
    let payload = fixture("ditto-v3-rejectable.json")?;
    let mapped = m.apply(&payload, now())?;
    let ctx = ResponseContext {
        payload: &payload,
        fields: &mapped.fields,
        decision: &mapped.decision,
        reference: "7",
        received_at: now(),
    };
    assert_eq!(
        m.render_response(&ctx)?,
        json!({
            "ok": false, "ref": "KYC 7", "status_code": "rejected", "status_message": "face_mismatch",
            "reasons": ["face_mismatch"],
            "user": {"id": "wei.583705@example.com", "at": "2026-11-22T12:00:00Z", "fixed": [1, true, "x"]}
        })
    );
    Ok(())
}

#[test]
fn the_custom_template_example_maps_a_custom_request_body() -> TestResult {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/mappings/custom-template.example.toml"
    );
    let m = Mapping::from_bytes(Path::new(path), &std::fs::read(path)?)?;
    let set = MappingSet::from_files(vec![
        (Path::new(path).to_path_buf(), std::fs::read(path)?),
        (
            Path::new("ditto-v3.toml").to_path_buf(),
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/mappings/ditto-v3.toml"
            ))?,
        ),
    ])?;
    let body = json!({"name": " Jane Doe ", "dob": "04.09.2002", "documentNumber": "xb2215279", "userId": "jane@example.com"});
    assert_eq!(set.select(&body)?.name, "custom-template");
    assert_eq!(
        set.select(&fixture("ditto-v3-small.json")?)?.name,
        "ditto-v3",
        "the default payload is not custom"
    );
    let mapped = m.apply(&body, now())?;
    assert_eq!(
        Value::Object(mapped.fields.clone()),
        json!({"user_id": "jane@example.com", "requester_id": null, "full_name": "Jane Doe",
               "date_of_birth": "2002-09-04", "document_number": "XB2215279"})
    );
    assert_eq!(mapped.decision.status, Status::PendingReview);
    assert_eq!(mapped.decision.reason_codes(), ["biometrics_not_provided"]);
    let ctx = ResponseContext {
        payload: &body,
        fields: &mapped.fields,
        decision: &mapped.decision,
        reference: "R1",
        received_at: now(),
    };
    assert_eq!(
        m.render_response(&ctx)?,
        json!({"result": true, "reference_number": "R1", "user_id": "jane@example.com"})
    );
    let err = m
        .apply(
            &json!({"name": "x", "dob": "2002-09-04", "documentNumber": "1"}),
            now(),
        )
        .err();
    assert!(
        matches!(err, Some(MappingError::RequiredFieldMissing { field, .. }) if field == "user_id")
    );
    Ok(())
}

#[test]
fn a_mapping_without_a_response_answers_the_default_shape() -> TestResult {
    let text = "name = \"plain\"\n[[rules]]\nwhen = \"${kyc_info.face_matcher_result.score} < 1.6\"\ndecision = \"reject\"\nreason = \"face_mismatch\"\n";
    let m = Mapping::from_bytes(Path::new("plain.toml"), text.as_bytes())?;
    for (name, result) in [
        ("ditto-v3-small.json", true),
        ("ditto-v3-rejectable.json", false),
    ] {
        let payload = fixture(name)?;
        let mapped = m.apply(&payload, now())?;
        assert!(mapped.fields.is_empty());
        let ctx = ResponseContext {
            payload: &payload,
            fields: &mapped.fields,
            decision: &mapped.decision,
            reference: "KYC-9",
            received_at: now(),
        };
        let user = payload["request_info"]["user_id"].clone();
        assert_eq!(
            m.render_response(&ctx)?,
            json!({"result": result, "reference_number": "KYC-9", "user_id": user})
        );
    }
    Ok(())
}
