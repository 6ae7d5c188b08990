//! Every case of `tests/fixtures/encryption-vectors.json` (made with pyca/cryptography and
//! joserfc, never regenerated here): `ok` cases open to bytes with the recorded SHA-256,
//! `decrypt_failed` cases are refused. The case's camelCase fields go through
//! `ProfileSettings` as an admin would paste them.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::{CipherProfile, KeyUsed, ProfileSettings};

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/encryption-vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

/// The case's upstream-style settings; ECB needs the explicit insecure opt-in.
fn profile_for(case: &Value) -> CipherProfile {
    let mut m = Map::new();
    m.insert("enable".into(), Value::Bool(true));
    for field in [
        "cipherSpec",
        "key",
        "keyEncoding",
        "ivParamSpec",
        "ivEncoding",
        "blockSizeBytes",
        "iv",
    ] {
        match &case[field] {
            Value::Null => {}
            v => _ = m.insert(field.into(), v.clone()),
        }
    }
    if case["cipherSpec"].as_str().unwrap().contains("/ECB/") {
        m.insert("allowInsecure".into(), Value::Bool(true));
    }
    let settings: ProfileSettings = serde_json::from_value(Value::Object(m)).unwrap();
    let name = case["name"].as_str().unwrap();
    let (p, _warnings) = CipherProfile::from_settings(&settings, "encryption.request")
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    p
}

#[test]
fn all_46_vectors_are_present() {
    assert_eq!(cases().len(), 46);
}

#[test]
fn ok_vectors_open_to_the_recorded_plaintext_digest() {
    let mut opened = 0;
    for case in cases().iter().filter(|c| c["expect"] == "ok") {
        let name = case["name"].as_str().unwrap();
        let body = case["body"].as_str().unwrap();
        let o = profile_for(case)
            .open(body.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {:?}", e.detail()));
        let digest = hex::encode(Sha256::digest(&o.plaintext));
        assert_eq!(digest, case["plaintextSha256"].as_str().unwrap(), "{name}");
        assert_eq!(o.key, KeyUsed::Current, "{name}");
        opened += 1;
    }
    assert_eq!(opened, 39);
}

#[test]
fn decrypt_failed_vectors_are_refused() {
    let mut refused = 0;
    for case in cases().iter().filter(|c| c["expect"] == "decrypt_failed") {
        let name = case["name"].as_str().unwrap();
        let body = case["body"].as_str().unwrap();
        let err = profile_for(case).open(body.as_bytes());
        assert!(err.is_err(), "{name} opened");
        refused += 1;
    }
    assert_eq!(refused, 7);
}

#[test]
fn ok_vectors_also_open_with_surrounding_whitespace_and_no_padding() {
    for case in cases().iter().filter(|c| c["expect"] == "ok") {
        let name = case["name"].as_str().unwrap();
        let body = format!(
            "\r\n {}\n",
            case["body"].as_str().unwrap().trim_end_matches('=')
        );
        assert!(profile_for(case).open(body.as_bytes()).is_ok(), "{name}");
    }
}
