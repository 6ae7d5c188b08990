//! Config validation of [`crate::CipherProfile::from_settings`]: each misconfiguration is
//! caught with a message that names the full key and never quotes a secret.

use serde_json::{Value, json};

use crate::{CipherMode, CipherProfile, CryptoConfigError, ProfileSettings};

const PATH: &str = "encryption.request";
const KEY16: &str = "SECRETKEY0123456";
const KEY32: &str = "SECRETKEY0123456SECRETKEY0123456";

fn settings(v: Value) -> ProfileSettings {
    serde_json::from_value(v).unwrap()
}

fn build(v: Value) -> Result<(CipherProfile, Vec<String>), CryptoConfigError> {
    CipherProfile::from_settings(&settings(v), PATH)
}

/// Asserts the error names `key` and contains neither the key nor an IV in any encoding.
fn refused(v: Value, key: &str, needle: &str) -> CryptoConfigError {
    let secrets: Vec<String> = ["key", "iv_param_spec"]
        .iter()
        .filter_map(|f| v.get(*f).and_then(Value::as_str).map(str::to_owned))
        .collect();
    let err = build(v).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.key, format!("{PATH}.{key}"), "{msg}");
    assert!(msg.starts_with(&format!("{PATH}.{key}: ")), "{msg}");
    assert!(msg.contains(needle), "{msg} lacks {needle}");
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        assert!(!msg.contains(s.as_str()), "{msg} leaks {s}");
    }
    err
}

fn cbc(extra: Value) -> Value {
    let mut v = json!({"enable": true, "cipher_spec": "AES/CBC/PKCS5Padding",
                       "key": KEY16, "iv_param_spec": "IVIVIVIVIVIVIVIV"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn valid_cbc_profile_builds_with_only_the_unauthenticated_mode_warning() {
    let (p, warnings) = build(cbc(json!({}))).unwrap();
    assert!(p.is_enabled());
    assert_eq!(p.mode(), Some(CipherMode::Cbc));
    assert_eq!(p.key_bits(), Some(128));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("has no authentication tag"),
        "{warnings:?}"
    );
}

#[test]
fn every_unauthenticated_mode_warns_and_authenticated_ones_do_not() {
    for (spec, iv, warns) in [
        ("AES/CBC/PKCS5Padding", "prefix", true),
        ("AES/CTR/NoPadding", "prefix", true),
        ("AES/CFB/NoPadding", "prefix", true),
        ("AES/CFB8/NoPadding", "prefix", true),
        ("AES/GCM/NoPadding", "prefix", false),
    ] {
        let (_, warnings) = build(cbc(json!({"cipher_spec": spec, "iv": iv}))).unwrap();
        let unauthenticated = warnings
            .iter()
            .any(|w| w.contains("has no authentication tag"));
        assert_eq!(unauthenticated, warns, "{spec}: {warnings:?}");
    }
}

#[test]
fn disabled_profile_is_pass_through_and_not_validated() {
    let (p, w) = build(json!({"enable": false, "cipher_spec": "nonsense"})).unwrap();
    assert!(!p.is_enabled());
    assert_eq!(p.spec_name(), "disabled");
    assert!(w.is_empty());
}

#[test]
fn wrong_key_length_names_the_key_and_the_lengths() {
    let err = refused(cbc(json!({"key": "SECRETKEY0123456789A"})), "key", "");
    assert_eq!(err.reason, "decodes to 20 bytes; AES needs 16, 24 or 32");
}

#[test]
fn jwe_key_must_be_32_bytes() {
    refused(
        json!({"enable": true, "cipher_spec": "JWE", "key": KEY16}),
        "key",
        "A256GCM needs 32",
    );
}

#[test]
fn bad_base64_or_hex_key_is_refused_without_quoting_it() {
    refused(
        cbc(json!({"key": "SECRET*KEY*NOT*B64", "key_encoding": "base64"})),
        "key",
        "not valid base64",
    );
    refused(
        cbc(json!({"key": "SECRETKEYZZ0123456789", "key_encoding": "hex"})),
        "key",
        "not valid hex",
    );
}

#[test]
fn missing_or_empty_key_is_refused() {
    let mut v = cbc(json!({}));
    v.as_object_mut().unwrap().remove("key");
    refused(v, "key", "missing");
    refused(cbc(json!({"key": ""})), "key", "empty");
}

#[test]
fn previous_key_errors_name_their_index() {
    let err = build(cbc(
        json!({"previous_keys": [{"key": KEY16}, {"key": "SHORTSECRET"}]}),
    ))
    .unwrap_err();
    assert_eq!(err.key, format!("{PATH}.previous_keys[1].key"));
    assert!(!err.to_string().contains("SHORTSECRET"));
}

#[test]
fn missing_static_iv_is_refused_and_suggests_prefix() {
    let mut v = cbc(json!({}));
    v.as_object_mut().unwrap().remove("iv_param_spec");
    refused(v, "iv_param_spec", "iv = \"prefix\"");
}

#[test]
fn wrong_iv_length_is_refused_per_mode() {
    refused(
        cbc(json!({"iv_param_spec": "SHORTIV"})),
        "iv_param_spec",
        "needs 16",
    );
    let gcm = cbc(json!({"cipher_spec": "AES/GCM/NoPadding"}));
    refused(
        gcm,
        "iv_param_spec",
        "decodes to 16 bytes; AES/GCM/NoPadding needs 12",
    );
}

#[test]
fn undecodable_iv_is_refused() {
    let v = cbc(json!({"iv_param_spec": "zz", "iv_encoding": "hex"}));
    refused(v, "iv_param_spec", "not valid hex");
}

#[test]
fn ecb_is_refused_without_allow_insecure_and_warned_with_it() {
    let v = json!({"enable": true, "cipher_spec": "AES/ECB/PKCS5Padding", "key": KEY16});
    refused(v.clone(), "cipher_spec", "allow_insecure");
    let mut v = v;
    v["allow_insecure"] = json!(true);
    let (_, warnings) = build(v).unwrap();
    assert!(warnings.iter().any(|w| w.contains("ECB")), "{warnings:?}");
}

#[test]
fn unknown_spec_algorithm_and_block_size_are_refused() {
    refused(
        cbc(json!({"cipher_spec": "AES/XTS/NoPadding"})),
        "cipher_spec",
        "XTS",
    );
    refused(cbc(json!({"algorithm": "DES"})), "algorithm", "only AES");
    refused(
        cbc(json!({"block_size_bytes": 32})),
        "block_size_bytes",
        "is 32",
    );
}

#[test]
fn prefix_and_in_token_only_where_they_apply() {
    let jwe = json!({"enable": true, "cipher_spec": "JWE", "key": KEY32, "iv": "prefix"});
    refused(jwe, "iv", "prefix");
    refused(cbc(json!({"iv": "in-token"})), "iv", "JWE only");
    let ok = json!({"enable": true, "cipher_spec": "JWE", "key": KEY32, "iv": "in-token"});
    assert!(build(ok).is_ok());
}

#[test]
fn gcm_with_static_iv_warns_about_nonce_reuse() {
    let v = cbc(json!({"cipher_spec": "AES/GCM/NoPadding", "iv_param_spec": "IVIVIVIVIVIV"}));
    let (_, warnings) = build(v).unwrap();
    assert!(warnings.iter().any(|w| w.contains("nonce")), "{warnings:?}");
    let v = cbc(json!({"cipher_spec": "AES/GCM/NoPadding", "iv": "prefix"}));
    let (_, warnings) = build(v).unwrap();
    assert!(
        warnings.iter().all(|w| !w.contains("nonce")),
        "{warnings:?}"
    );
}

#[test]
fn utf8_key_that_looks_like_base64_or_hex_is_warned() {
    let b64 = "iZJ1i8Cx1UNA96Q4MGsBuQ=="; // 24 chars: a valid AES-192 UTF-8 key too
    let (_, warnings) = build(cbc(json!({"key": b64}))).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("looks like base64")),
        "{warnings:?}"
    );
    assert!(warnings.iter().all(|w| !w.contains(b64)));
    let hex = "a5a6594cd4a7cdd1e7a34e9697369ba2";
    let (_, warnings) = build(cbc(json!({"key": hex}))).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("looks like hex")),
        "{warnings:?}"
    );
}

#[test]
fn profile_debug_shows_shape_not_keys() {
    let (p, _) = build(cbc(
        json!({"previous_keys": [{"key": KEY32, "label": "old"}]}),
    ))
    .unwrap();
    let dbg = format!("{p:?}");
    assert!(dbg.contains("AES/CBC/PKCS5Padding") && dbg.contains("previous_keys: 1"));
    assert!(!dbg.contains("SECRETKEY") && !dbg.contains("IVIV"), "{dbg}");
}
