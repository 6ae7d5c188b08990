//! Unit tests of `client.rs`.
use super::*;

#[test]
fn error_codes_are_taken_only_when_plain() {
    assert_eq!(
        error_code(br#"{"error":"duplicate_conflict"}"#).as_deref(),
        Some("duplicate_conflict")
    );
    assert_eq!(error_code(br#"{"error":"<script>"}"#), None);
    assert_eq!(error_code(b"Bad Gateway"), None);
}

#[test]
fn a_static_authorization_and_a_token_url_conflict() {
    let s = UpstreamSettings {
        submit_url: Some("https://127.0.0.1:1/kyc".into()),
        token_url: Some("https://127.0.0.1:1/oauth/token".into()),
        header: vec!["Authorization: Basic YTpi".into()],
        ..UpstreamSettings::default()
    };
    let e = Upstream::from_settings(&s).unwrap_err();
    assert!(e.to_string().starts_with("header:"), "{e}");
}

#[test]
fn the_placeholder_asks_for_a_token_endpoint() {
    let s = UpstreamSettings {
        submit_url: Some("https://127.0.0.1:1/kyc".into()),
        header: vec![format!("Authorization: Bearer {TOKEN_PLACEHOLDER}")],
        ..UpstreamSettings::default()
    };
    let e = Upstream::from_settings(&s).unwrap_err();
    assert!(e.to_string().starts_with("token_url:"), "{e}");
}

#[test]
fn status_errors_are_coded_for_statistics() {
    let e = SendError::Status {
        status: 503,
        code: None,
    };
    assert_eq!(e.code(), "http_503");
    let e = SendError::Status {
        status: 409,
        code: Some("duplicate_conflict".into()),
    };
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "duplicate_conflict".into(),
            "HTTP 409 duplicate_conflict".into()
        )
    );
}
