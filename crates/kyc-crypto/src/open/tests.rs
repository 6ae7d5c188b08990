//! Behaviour of `open`/`seal`: pass-through and plaintext rules, wire-format leniency,
//! key rotation, and wrong keys that an unauthenticated mode cannot see by itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::{CipherProfile, DecryptFailure, KeyUsed};

const BODY: &[u8] = br#"{"request_info":{"user_id":"u-1"},"kyc_info":{}}"#;
const OLD: &str = "OLDKEY0123456789OLDKEY0123456789";
const NEW: &str = "NEWKEY0123456789NEWKEY0123456789";

fn profile(spec: &str, key: &str, previous: Value, extra: Value) -> CipherProfile {
    let mut v = json!({"enable": true, "cipher_spec": spec, "key": key,
                       "previous_keys": previous, "iv": "prefix"});
    if spec == "JWE" {
        v.as_object_mut().unwrap().remove("iv");
    }
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    let s = serde_json::from_value(v).unwrap();
    CipherProfile::from_settings(&s, "encryption.request")
        .unwrap()
        .0
}

fn simple(spec: &str, key: &str) -> CipherProfile {
    profile(spec, key, json!([]), json!({}))
}

const SPECS: [&str; 5] = [
    "AES/CBC/PKCS5Padding",
    "AES/GCM/NoPadding",
    "AES/CTR/NoPadding",
    "AES/CFB/NoPadding",
    "JWE",
];

#[test]
fn disabled_profile_returns_the_body_as_is() {
    let (p, _) = CipherProfile::from_settings(&Default::default(), "x").unwrap();
    let o = p.open(b"not even json").unwrap();
    assert_eq!(
        (o.plaintext.as_slice(), o.key),
        (&b"not even json"[..], KeyUsed::Plaintext)
    );
    assert_eq!(p.seal(BODY), Err(crate::SealError::Disabled));
}

#[test]
fn plaintext_json_is_refused_when_encryption_is_required() {
    let p = simple("AES/GCM/NoPadding", NEW);
    let err = p.open(b"  {\"a\":1}").unwrap_err();
    assert_eq!(err.detail(), DecryptFailure::PlaintextRefused);
    assert_eq!(err.to_string(), "the request body could not be decrypted");
}

#[test]
fn plaintext_json_is_accepted_with_allow_plaintext() {
    let p = profile(
        "AES/CBC/PKCS5Padding",
        NEW,
        json!([]),
        json!({"allow_plaintext": true}),
    );
    let o = p.open(BODY).unwrap();
    assert_eq!((o.plaintext.as_slice(), o.key), (BODY, KeyUsed::Plaintext));
    // Encrypted bodies still open.
    assert_eq!(
        p.open(p.seal(BODY).unwrap().as_bytes()).unwrap().key,
        KeyUsed::Current
    );
}

#[test]
fn body_wrapped_in_mime_lines_without_padding_opens() {
    let p = simple("AES/CBC/PKCS5Padding", NEW);
    let long = [&b"["[..], &[BODY; 20].join(&b","[..]), b"]"].concat();
    let text = p.seal(&long).unwrap();
    let mut wrapped: Vec<u8> = text
        .trim_end_matches('=')
        .as_bytes()
        .chunks(76)
        .flat_map(|c| c.iter().copied().chain(*b"\r\n"))
        .collect();
    wrapped.insert(0, b'\n');
    assert_eq!(p.open(&wrapped).unwrap().plaintext, long);
}

#[test]
fn body_sealed_with_previous_key_opens_during_overlap_and_fails_after() {
    for spec in SPECS {
        let before = simple(spec, OLD);
        let body = before.seal(BODY).unwrap();
        let overlap = profile(
            spec,
            NEW,
            json!([{"key": OLD, "label": "2025-q3"}]),
            json!({}),
        );
        let o = overlap.open(body.as_bytes()).unwrap();
        assert_eq!(o.plaintext, BODY, "{spec}");
        let want = KeyUsed::Previous {
            index: 0,
            label: Some("2025-q3".into()),
        };
        assert_eq!(o.key, want, "{spec}");
        assert_eq!(o.key.label(), "previous[0]:2025-q3");
        // The current key still opens what it seals.
        let fresh = overlap.seal(BODY).unwrap();
        assert_eq!(
            overlap.open(fresh.as_bytes()).unwrap().key,
            KeyUsed::Current,
            "{spec}"
        );
        // After the overlap the old body is refused.
        let err = simple(spec, NEW).open(body.as_bytes()).unwrap_err();
        assert_eq!(err.keys_tried(), 1, "{spec}");
    }
}

#[test]
fn rotation_failure_reports_every_key_tried() {
    let body = simple("AES/GCM/NoPadding", OLD).seal(BODY).unwrap();
    let p = profile(
        "AES/GCM/NoPadding",
        NEW,
        json!([{"key": NEW}, {"key": NEW}]),
        json!({}),
    );
    let err = p.open(body.as_bytes()).unwrap_err();
    assert_eq!((err.detail(), err.keys_tried()), (DecryptFailure::Tag, 3));
}

/// A key under which CBC padding of `body` happens to verify (about 1 key in 256).
fn wrong_key_with_valid_padding(body: &[u8]) -> String {
    let raw = STANDARD.decode(body).unwrap();
    let (iv, ct) = raw.split_at(16);
    (0..100_000u32)
        .map(|i| format!("WRONGKEY{i:0>24}"))
        .find(|k| {
            openssl::symm::decrypt(
                openssl::symm::Cipher::aes_256_cbc(),
                k.as_bytes(),
                Some(iv),
                ct,
            )
            .is_ok()
        })
        .unwrap()
}

#[test]
fn cbc_wrong_key_is_refused_even_when_padding_passes() {
    let body = simple("AES/CBC/PKCS5Padding", OLD).seal(BODY).unwrap();
    let wrong = wrong_key_with_valid_padding(body.as_bytes());
    let err = simple("AES/CBC/PKCS5Padding", &wrong)
        .open(body.as_bytes())
        .unwrap_err();
    assert_eq!(err.detail(), DecryptFailure::NotJson);
    // In an overlap, the wrong key comes first and must not win.
    let overlap = profile(
        "AES/CBC/PKCS5Padding",
        &wrong,
        json!([{"key": OLD}]),
        json!({}),
    );
    let o = overlap.open(body.as_bytes()).unwrap();
    assert_eq!(
        (o.plaintext.as_slice(), o.key.label()),
        (BODY, "previous[0]".into())
    );
}

#[test]
fn stream_mode_wrong_key_is_refused_as_not_json() {
    for spec in [
        "AES/CTR/NoPadding",
        "AES/CFB/NoPadding",
        "AES/CFB8/NoPadding",
    ] {
        let body = simple(spec, OLD).seal(BODY).unwrap();
        let err = simple(spec, NEW).open(body.as_bytes()).unwrap_err();
        assert_eq!(err.detail(), DecryptFailure::NotJson, "{spec}");
    }
}

#[test]
fn failures_name_the_step_for_the_log_only() {
    let p = simple("AES/CBC/PKCS5Padding", NEW);
    for (body, want) in [
        (&b"@@@"[..], DecryptFailure::Base64),
        (b"AAAA", DecryptFailure::Length),
        (b"", DecryptFailure::Length),
    ] {
        let err = p.open(body).unwrap_err();
        assert_eq!(err.detail(), want);
        assert_eq!(err.to_string(), "the request body could not be decrypted");
    }
}

#[test]
fn prefix_mode_uses_a_fresh_iv_per_message() {
    for spec in SPECS {
        let p = simple(spec, NEW);
        assert_ne!(p.seal(BODY).unwrap(), p.seal(BODY).unwrap(), "{spec}");
    }
}

#[test]
fn static_mode_seals_deterministically_with_the_configured_iv() {
    let p = profile(
        "AES/CBC/PKCS5Padding",
        NEW,
        json!([]),
        json!({"iv": "static", "iv_param_spec": "000102030405060708090a0b0c0d0e0f",
               "iv_encoding": "hex"}),
    );
    let a = p.seal(BODY).unwrap();
    assert_eq!(a, p.seal(BODY).unwrap());
    let iv: Vec<u8> = (0..16).collect();
    let ct = STANDARD.decode(&a).unwrap();
    let pt = openssl::symm::decrypt(
        openssl::symm::Cipher::aes_256_cbc(),
        NEW.as_bytes(),
        Some(&iv),
        &ct,
    );
    assert_eq!(pt.unwrap(), BODY);
}

#[test]
fn unauthenticated_modes_accept_only_a_json_object_or_array() {
    // A wrong key turns short bodies into scalars like `86` too often to count them as JSON.
    for body in [&b"86"[..], b"\"x\"", b"null"] {
        let p = simple("AES/CBC/PKCS5Padding", NEW);
        let err = p.open(p.seal(body).unwrap().as_bytes()).unwrap_err();
        assert_eq!(err.detail(), DecryptFailure::NotJson);
        // GCM has a tag and no such heuristic.
        let g = simple("AES/GCM/NoPadding", NEW);
        assert_eq!(
            g.open(g.seal(body).unwrap().as_bytes()).unwrap().plaintext,
            body
        );
    }
}
