use super::*;
use crate::config::{DataKeySettings, ImagePolicy, StorageSettings};

fn r(text: &str) -> Reference {
    Reference::parse(text).expect("reference")
}

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

fn settings(policy: ImagePolicy, active: &str, keys: &[(&str, &str)]) -> StorageSettings {
    StorageSettings {
        images: policy,
        active_key_id: active.into(),
        keys: keys
            .iter()
            .map(|(id, key)| DataKeySettings {
                id: (*id).into(),
                key: (*key).into(),
            })
            .collect(),
        search_key: Some(KEY_B.into()),
        ..StorageSettings::default()
    }
}

/// A protection with one key `a`, for other modules' tests.
pub(crate) fn protection(policy: ImagePolicy) -> Protection {
    Protection::from_settings(&settings(policy, "a", &[("a", KEY_A)])).expect("protection")
}

fn jpeg_base64() -> String {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend_from_slice(b"not really the rest of a jpeg");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn an_image_opens_only_where_it_was_sealed() {
    let p = protection(ImagePolicy::Encrypt);
    let row = p
        .image(&r("KYC-1"), "selfie", &jpeg_base64())
        .expect("ok")
        .expect("kept");
    assert_eq!(row.content_type, "image/jpeg");
    assert_eq!(
        p.open_image(&r("KYC-1"), &row).expect("opens")[..3],
        [0xFF, 0xD8, 0xFF]
    );
    assert!(
        p.open_image(&r("KYC-2"), &row).is_err(),
        "blob moved to another submission"
    );
    let relabelled = SealedImage {
        kind: "front".into(),
        ..row.clone()
    };
    assert!(
        p.open_image(&r("KYC-1"), &relabelled).is_err(),
        "blob moved to another kind"
    );
    let mut unknown_key = row;
    unknown_key.blob.key_id = "zz".into();
    assert!(
        p.open_image(&r("KYC-1"), &unknown_key).is_err(),
        "unknown key id"
    );
}

#[test]
fn rotation_keeps_old_blobs_readable() {
    let old = Protection::from_settings(&settings(ImagePolicy::Encrypt, "a", &[("a", KEY_A)]))
        .expect("old");
    let row = old
        .image(&r("KYC-1"), "front", &jpeg_base64())
        .expect("ok")
        .expect("kept");
    let fields = old
        .seal_fields(
            &r("KYC-1"),
            &serde_json::json!({"surname": "Kowalski"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        )
        .expect("seal");
    let rotated = Protection::from_settings(&settings(
        ImagePolicy::Encrypt,
        "b",
        &[("b", KEY_B), ("a", KEY_A)],
    ))
    .expect("new");
    assert!(rotated.open_image(&r("KYC-1"), &row).is_ok());
    assert_eq!(
        rotated
            .open_fields(&r("KYC-1"), fields.as_ref())
            .expect("open")["surname"],
        "Kowalski"
    );
    let fresh = rotated
        .image(&r("KYC-2"), "front", &jpeg_base64())
        .expect("ok")
        .expect("kept");
    assert_eq!(fresh.blob.key_id, "b");
    let without_old =
        Protection::from_settings(&settings(ImagePolicy::Encrypt, "b", &[("b", KEY_B)]))
            .expect("b");
    assert!(
        without_old.open_image(&r("KYC-1"), &row).is_err(),
        "a removed key no longer opens old blobs"
    );
}

#[test]
fn sealed_fields_are_bound_to_their_record() {
    let p = protection(ImagePolicy::Encrypt);
    let pii = serde_json::json!({"given_name": "Sofía"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let sealed = p.seal_fields(&r("KYC-1"), &pii).expect("seal");
    assert_eq!(
        p.open_fields(&r("KYC-1"), sealed.as_ref()).expect("open"),
        pii
    );
    assert!(p.open_fields(&r("KYC-2"), sealed.as_ref()).is_err());
    assert!(p.open_fields(&r("KYC-1"), None).expect("none").is_empty());
}

#[test]
fn drop_policy_checks_but_keeps_nothing() {
    let p = protection(ImagePolicy::Drop);
    assert!(
        p.image(&r("KYC-1"), "selfie", &jpeg_base64())
            .expect("ok")
            .is_none()
    );
    assert!(
        p.image(&r("KYC-1"), "selfie", "aGVsbG8=").is_err(),
        "still checked"
    );
}

#[test]
fn non_images_oversize_and_bad_base64_name_the_kind() {
    let p = Protection {
        max_image_bytes: 16,
        ..protection(ImagePolicy::Encrypt)
    };
    for (text, what) in [
        ("aGVsbG8gd29ybGQ=", "JPEG or PNG"),
        ("%%%", "base64"),
        (jpeg_base64().as_str(), "larger"),
    ] {
        let err = p.image(&r("KYC-1"), "portrait", text).expect_err("refused");
        assert!(
            matches!(&err, PayloadError::Invalid { path, message } if path == "images.portrait" && message.contains(what)),
            "{err}"
        );
    }
}

#[test]
fn mime_wrapped_and_data_url_images_decode() {
    let p = protection(ImagePolicy::Encrypt);
    let text = jpeg_base64();
    let wrapped = format!("{}\r\n{}", &text[..10], &text[10..]);
    assert!(
        p.image(&r("KYC-1"), "a", &wrapped)
            .expect("wrapped")
            .is_some()
    );
    assert!(
        p.image(&r("KYC-1"), "b", &format!("data:image/jpeg;base64,{text}"))
            .expect("data url")
            .is_some()
    );
}

#[test]
fn document_number_hash_ignores_case_and_separators_and_needs_the_key() {
    let p = protection(ImagePolicy::Encrypt);
    assert_eq!(
        p.document_number_hmac("xb 221-5279"),
        p.document_number_hmac("XB2215279")
    );
    assert_ne!(
        p.document_number_hmac("XB2215279"),
        p.document_number_hmac("XB2215278")
    );
    assert!(!p.document_number_hmac("XB2215279").contains("2215279"));
}

#[test]
fn no_data_key_refuses_to_start() {
    let err = Protection::from_settings(&StorageSettings::default()).expect_err("no key");
    assert!(err.to_string().starts_with("storage.keys"), "{err}");
}
