use super::*;
use serde_json::json;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

#[test]
fn sample_payloads_have_an_envelope() {
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        let v = parse(&fixture(name)).expect("parse");
        let env = envelope(&v).expect("envelope");
        assert!(!env.requester_id.is_empty());
        assert_eq!(env.document_version, Some("3.0"));
    }
}

#[test]
fn missing_requester_id_names_the_path() {
    let v = json!({"request_info": {"user_id": "u"}});
    assert_eq!(
        envelope(&v),
        Err(PayloadError::Invalid {
            path: "request_info.requester_id".into(),
            message: "is required".into()
        })
    );
}

#[test]
fn wrong_types_name_the_path() {
    let v = json!({"request_info": {"user_id": "u", "requester_id": 5}});
    assert!(
        matches!(envelope(&v), Err(PayloadError::Invalid { path, .. }) if path == "request_info.requester_id")
    );
    let v = json!({"request_info": {"user_id": "u", "requester_id": "r"},
                   "kyc_info": {"face_matcher_result": {"score": "high"}}});
    assert!(
        matches!(envelope(&v), Err(PayloadError::Invalid { path, .. }) if path == "kyc_info.face_matcher_result.score")
    );
    let v = json!({"request_info": {"user_id": "u", "requester_id": "r"},
                   "kyc_info": {"document": {"document_info": {"document_images": {"front_page": 7}}}}});
    assert!(
        matches!(envelope(&v), Err(PayloadError::Invalid { path, .. }) if path.ends_with("document_images.front_page"))
    );
}

#[test]
fn null_optional_blocks_are_absent_not_wrong() {
    let v = json!({"request_info": {"user_id": "u", "requester_id": "r", "app_id": null}, "kyc_info": null});
    assert!(envelope(&v).is_ok());
}

#[test]
fn non_object_roots_are_refused() {
    assert!(
        matches!(envelope(&json!([1, 2])), Err(PayloadError::Invalid { path, .. }) if path == "$")
    );
}

#[test]
fn deep_nesting_is_a_json_error_not_a_crash() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse(body.as_bytes()).expect_err("too deep");
    assert!(err.to_string().contains("nested too deeply"), "{err}");
}

#[test]
fn json_errors_carry_position_not_content() {
    let err = parse(b"{\"name\": \"Secret Person\" oops}").expect_err("bad json");
    assert!(!err.to_string().contains("Secret"), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn only_plain_requester_ids_reach_refusal_audit_events() {
    let ok = json!({"request_info": {"requester_id": "9c1c0236-3152-49f1"}});
    assert_eq!(
        loggable_requester_id(&ok).as_deref(),
        Some("9c1c0236-3152-49f1")
    );
    let hostile = json!({"request_info": {"requester_id": "John Smith born 1980"}});
    assert_eq!(loggable_requester_id(&hostile), None);
}

#[test]
fn parsed_cost_counts_values_outside_strings_only() {
    let small = br#"{"a":[1,2,3],"b":"x,y:z[{\"q\""}"#;
    // Tokens: 1 + `{` + `:` + `[` + `,` + `,` + `,` + `:` = 8; the string's `,` `:` `[` `{` do not count.
    assert_eq!(parsed_cost(small), small.len() + 8 * BYTES_PER_TOKEN);
    let numbers = format!("[{}]", vec!["1"; 1000].join(","));
    assert!(
        parsed_cost(numbers.as_bytes()) > 1000 * 64,
        "a small number costs far more than its bytes"
    );
    // An unterminated string ends the scan instead of running past the end.
    assert_eq!(parsed_cost(b"[\"abc"), 5 + 2 * BYTES_PER_TOKEN);
}
