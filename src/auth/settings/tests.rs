//! Tests of `auth` settings parsing and validation.

use super::super::secret_hash::hash_secret;
use super::*;

fn parse(toml_like_json: serde_json::Value) -> AuthSettings {
    serde_json::from_value(toml_like_json).unwrap()
}

fn good_hash() -> String {
    hash_secret("secret").unwrap()
}

#[test]
fn defaults_are_builtin_with_one_hour_tokens() {
    let s = parse(serde_json::json!({}));
    assert_eq!(s.modes, vec![AuthMode::Builtin]);
    assert_eq!(
        (s.issuer.as_str(), s.audience.as_str()),
        ("kyc-receiver", "kyc-receiver")
    );
    assert_eq!(s.token_ttl_secs, 3600);
    assert!(!s.allow_get_token);
    assert_eq!(s.token_path, "/oauth/token");
    assert_eq!(s.signing.alg, SigningAlg::EdDsa);
    // No clients: valid, but warned about.
    let warnings = s.validate().unwrap();
    assert!(warnings.iter().any(|w| w.starts_with("auth.clients")));
}

#[test]
fn unknown_keys_are_refused() {
    let r: Result<AuthSettings, _> =
        serde_json::from_value(serde_json::json!({"modez": ["builtin"]}));
    assert!(r.is_err());
    let r: Result<AuthSettings, _> = serde_json::from_value(
        serde_json::json!({"jwks": {"url": "https://x", "issuer": "i", "extra": 1}}),
    );
    assert!(r.is_err());
}

#[test]
fn mode_alias_and_all_modes_parse() {
    let s = parse(serde_json::json!({"mode": ["builtin", "jwks", "introspection", "basic"]}));
    assert_eq!(s.modes.len(), 4);
    let s = parse(serde_json::json!({"signing": {"alg": "ES256"}}));
    assert_eq!(s.signing.alg, SigningAlg::Es256);
}

#[test]
fn bad_client_hash_names_the_key() {
    let s = parse(serde_json::json!({"clients": [
        {"client_id": "a", "secret_hash": good_hash(), "scopes": ["kyc:submit"]},
        {"client_id": "b", "secret_hash": "plaintext", "scopes": ["kyc:submit"]},
    ]}));
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("auth.clients[1].secret_hash: not an argon2id PHC string"),
        "{e}"
    );
    assert!(!e.contains("clients[0]"), "{e}");
}

#[test]
fn unknown_scopes_and_duplicate_ids_are_errors() {
    let h = good_hash();
    let s = parse(serde_json::json!({"clients": [
        {"client_id": "a", "secret_hash": h, "scopes": ["kyc:sumbit"]},
        {"client_id": "a", "secret_hash": h, "scopes": []},
    ]}));
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("auth.clients[0].scopes[0]: unknown scope"),
        "{e}"
    );
    assert!(e.contains("auth.clients[1].client_id: duplicate"), "{e}");
    assert!(
        e.contains("auth.clients[1].scopes: must grant at least one scope"),
        "{e}"
    );
}

#[test]
fn jwks_mode_requires_its_section_and_refuses_hs_and_none() {
    let s = parse(serde_json::json!({"modes": ["jwks"]}));
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("auth.jwks: required")
    );
    let s = parse(serde_json::json!({"modes": ["jwks"], "jwks": {
        "url": "https://issuer.example/jwks", "issuer": "https://issuer.example",
        "algorithms": ["RS256", "HS256", "none"]}}));
    let e = s.validate().unwrap_err().to_string();
    assert!(
        e.contains("auth.jwks.algorithms[1]: HS256 is symmetric"),
        "{e}"
    );
    assert!(
        e.contains("auth.jwks.algorithms[2]: unknown algorithm"),
        "{e}"
    );
    assert!(!e.contains("algorithms[0]"), "{e}");
}

#[test]
fn jwks_defaults_are_applied() {
    let s = parse(serde_json::json!({"modes": ["jwks"], "jwks": {
        "url": "https://issuer.example/jwks", "issuer": "https://issuer.example"}}));
    let j = s.jwks.as_ref().unwrap();
    assert_eq!((j.refresh_floor_secs, j.leeway_secs), (30, 30));
    assert_eq!(j.algorithms, vec!["RS256", "PS256", "ES256", "EdDSA"]);
    assert!(s.validate().is_ok());
}

#[test]
fn introspection_section_is_checked_and_secret_is_not_debug_printed() {
    let s = parse(
        serde_json::json!({"modes": ["introspection"], "introspection": {
        "url": "http://as.internal/introspect", "client_id": "rs", "client_secret": "hunter2"}}),
    );
    let warnings = s.validate().unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("plain http")),
        "{warnings:?}"
    );
    assert!(!format!("{s:?}").contains("hunter2"));
    let s = parse(
        serde_json::json!({"modes": ["introspection"], "introspection": {
        "url": "ftp://x", "client_id": "", "client_secret": ""}}),
    );
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("auth.introspection.url"), "{e}");
    assert!(e.contains("auth.introspection.client_id"), "{e}");
    assert!(e.contains("auth.introspection.client_secret"), "{e}");
}

#[test]
fn introspection_without_an_audience_is_said_loudly() {
    let s = parse(
        serde_json::json!({"modes": ["introspection"], "introspection": {
        "url": "https://as.internal/introspect", "client_id": "rs", "client_secret": "x"}}),
    );
    let warnings = s.validate().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("auth.introspection.audience") && w.contains("ANY active token")),
        "{warnings:?}"
    );
    let s = parse(
        serde_json::json!({"modes": ["introspection"], "introspection": {
        "url": "https://as.internal/introspect", "client_id": "rs", "client_secret": "x",
        "audience": "kyc-receiver"}}),
    );
    let warnings = s.validate().unwrap();
    assert!(
        !warnings.iter().any(|w| w.contains("audience")),
        "{warnings:?}"
    );
}

#[test]
fn basic_users_are_checked() {
    let s = parse(serde_json::json!({"modes": ["basic"], "basic": [
        {"username": "a:b", "password_hash": good_hash(), "scopes": ["kyc:submit"]}]}));
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("auth.basic[0].username"), "{e}");
    let s = parse(serde_json::json!({"modes": ["basic"]}));
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("auth.basic:")
    );
}

#[test]
fn get_tokens_and_empty_modes_are_flagged() {
    let s = parse(serde_json::json!({"allow_get_token": true}));
    assert!(
        s.validate()
            .unwrap()
            .iter()
            .any(|w| w.contains("allow_get_token"))
    );
    let s = parse(serde_json::json!({"modes": [], "token_ttl_secs": 5, "token_path": "oauth"}));
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("auth.modes"), "{e}");
    assert!(e.contains("auth.token_ttl_secs"), "{e}");
    assert!(e.contains("auth.token_path"), "{e}");
}

#[test]
fn debug_output_redacts_hashes() {
    let h = good_hash();
    let s = parse(
        serde_json::json!({"clients": [{"client_id": "a", "secret_hash": h, "scopes": ["kyc:read"]}]}),
    );
    assert!(!format!("{s:?}").contains(&h));
}

#[test]
fn toml_through_the_config_crate_deserializes() {
    #[derive(serde::Deserialize)]
    struct Root {
        auth: AuthSettings,
    }
    let toml = format!(
        r#"
[auth]
modes = ["builtin", "jwks"]
token_ttl_secs = 900

[auth.signing]
alg = "ES256"
key_file = "certs/token.pem"
key_id = "2026-01"
previous = [{{ key_id = "2025-07", public_key_file = "certs/old.pub.pem" }}]

[[auth.clients]]
client_id = "ditto"
secret_hash = "{}"
scopes = ["kyc:submit"]
cert_subject = "CN=ditto"

[auth.jwks]
url = "https://idp.example/jwks"
issuer = "https://idp.example"
"#,
        good_hash()
    );
    let root: Root = config::Config::builder()
        .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
        .build()
        .unwrap()
        .try_deserialize()
        .unwrap();
    let s = root.auth;
    assert_eq!(s.modes, vec![AuthMode::Builtin, AuthMode::Jwks]);
    assert_eq!(s.signing.alg, SigningAlg::Es256);
    assert_eq!(s.signing.previous[0].key_id, "2025-07");
    assert_eq!(s.clients[0].cert_subject.as_deref(), Some("CN=ditto"));
    assert_eq!(s.token_ttl_secs, 900);
    assert_eq!(s.issuer, "kyc-receiver");
    assert!(s.validate().is_ok());
}
