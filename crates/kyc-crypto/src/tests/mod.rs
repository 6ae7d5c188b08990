//! Tests of the crate as a whole: key generation here, every spec against an independent reference
//! implementation (`roundtrip`), and the independent vectors (`vectors`).

mod roundtrip;
mod vectors;

use super::*;

#[test]
fn generated_key_is_32_random_bytes_in_base64() {
    let a = generate_key();
    let b = generate_key();
    assert_ne!(a, b);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&a)
        .unwrap();
    assert_eq!(raw.len(), 32);
}

#[test]
fn decrypt_error_shows_one_public_message_whatever_failed() {
    for f in [
        DecryptFailure::Base64,
        DecryptFailure::Padding,
        DecryptFailure::Tag,
        DecryptFailure::NotJson,
    ] {
        assert_eq!(DecryptError::new(f, 2).to_string(), DECRYPT_PUBLIC_MESSAGE);
    }
}

#[test]
fn opened_debug_hides_the_plaintext() {
    let o = Opened {
        plaintext: b"{\"name\":\"Jane Doe\"}".to_vec(),
        key: KeyUsed::Current,
    };
    let dbg = format!("{o:?}");
    assert!(
        !dbg.contains("Jane") && dbg.contains("plaintext_len: 19"),
        "{dbg}"
    );
}

#[test]
fn key_used_label_names_position_and_label_only() {
    assert_eq!(KeyUsed::Current.label(), "current");
    let k = KeyUsed::Previous {
        index: 1,
        label: Some("2025-q3".into()),
    };
    assert_eq!(k.label(), "previous[1]:2025-q3");
}
