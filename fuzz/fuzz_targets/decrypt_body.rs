//! Fuzz target: decode + decrypt + parse of a request body must never panic.
//!
//! The first input byte picks one of the profiles below; the rest is the body.
//! Selector < 0x80: `open(body)`, then `serde_json::from_slice::<Value>` of the plaintext,
//! exactly the path of `POST /kyc`. Selector >= 0x80: the body is a plaintext; `seal` then
//! `open` must give a JSON object/array back unchanged (a round-trip property, not only
//! "no panic").
//!
//! The profiles are those of the `ok` cases of `tests/fixtures/encryption-vectors.json`
//! (every spec, key size and encoding, iv static/prefix, JWE), so a seed corpus made from
//! the vectors' bodies starts from real ciphertexts; plus a rotation profile (a wrong
//! current key, the right one as previous), an `allow_plaintext` one and a disabled one.
//!
//! Run from the crate root: `RUSTC_BOOTSTRAP=1 cargo fuzz run decrypt_body`.

#![no_main]

use std::sync::LazyLock;

use kyc_crypto::{CipherProfile, ProfileSettings};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const VECTORS: &str = include_str!("../../tests/fixtures/encryption-vectors.json");

fn build(fields: Map<String, Value>) -> Option<CipherProfile> {
    let settings: ProfileSettings = serde_json::from_value(Value::Object(fields)).ok()?;
    CipherProfile::from_settings(&settings, "fuzz")
        .ok()
        .map(|(p, _)| p)
}

static PROFILES: LazyLock<Vec<CipherProfile>> = LazyLock::new(|| {
    let doc: Value = serde_json::from_str(VECTORS).unwrap_or(Value::Null);
    let cases = doc["cases"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for case in cases.iter().filter(|c| c["expect"] == "ok") {
        let mut m = Map::new();
        m.insert("enable".into(), Value::Bool(true));
        m.insert("allowInsecure".into(), Value::Bool(true));
        for f in [
            "cipherSpec",
            "key",
            "keyEncoding",
            "ivParamSpec",
            "ivEncoding",
            "iv",
        ] {
            if !case[f].is_null() {
                m.insert(f.into(), case[f].clone());
            }
        }
        out.extend(build(m.clone()));
        // Rotation: a wrong current key first, the vector's key as previous_keys[0].
        if let (Some(right), true) = (case["key"].as_str(), case["keyEncoding"] == "hex") {
            let mut r = m;
            r.insert("key".into(), json!("ab".repeat(right.len() / 2)));
            r.insert(
                "previousKeys".into(),
                json!([{"key": right, "label": "old"}]),
            );
            r.insert("allowPlaintext".into(), Value::Bool(true));
            out.extend(build(r));
        }
    }
    if let Ok((disabled, _)) = CipherProfile::from_settings(&ProfileSettings::default(), "fuzz") {
        out.push(disabled);
    }
    out
});
fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let profiles = &*PROFILES;
    let Some(profile) = profiles.get(usize::from(selector & 0x7f) % profiles.len().max(1)) else {
        return;
    };
    if selector < 0x80 {
        if let Ok(opened) = profile.open(body) {
            let _ = serde_json::from_slice::<Value>(&opened.plaintext);
        }
    } else if let Ok(sealed) = profile.seal(body) {
        // A JSON object/array must come back unchanged. Other plaintexts may be refused (modes
        // without a tag accept only JSON), and in a rotation profile an earlier key's failure
        // may even let a later key turn them into some other JSON; only "no panic" holds there.
        let trimmed = body.trim_ascii_start();
        let json = matches!(trimmed.first(), Some(b'{' | b'['))
            && serde_json::from_slice::<Value>(body).is_ok();
        let opened = profile.open(sealed.as_bytes());
        if json {
            match opened {
                Ok(o) => assert_eq!(o.plaintext, body),
                Err(e) => panic!("sealed JSON did not open: {:?}", e.detail()),
            }
        }
    }
});
