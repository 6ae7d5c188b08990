//! JWE compact serialization with `alg=dir`, `enc=A256GCM`, by hand (the `JWE` cipher spec).
//!
//! RFC 7516 §7.1: five base64url parts `header.encrypted_key.iv.ciphertext.tag`. With
//! `dir` (RFC 7518 §4.5) the encrypted key is empty and the configured key is the CEK;
//! A256GCM (RFC 7518 §5.3) uses a 96-bit IV and a 128-bit tag, and the AAD is the ASCII of
//! the encoded protected header as it appears in the token (RFC 7516 §5.2 step 14), so the
//! header is authenticated byte for byte.

use rand::RngCore as _;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::encoding::{b64url_decode, b64url_encode};
use super::engine::{GCM_TAG, gcm_open_in_place, gcm_seal_in_place};
use super::{DecryptFailure, SealError};

const NONCE_LEN: usize = 12;

/// The protected header members we act on; others (`kid`, `typ`, `cty`) are ignored.
/// serde refuses a duplicated member, which RFC 7515 §4 allows a parser to do.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    enc: Option<String>,
    zip: Option<IgnoredAny>,
    crit: Option<IgnoredAny>,
}

/// Opens a compact token with the first key whose tag verifies; returns the plaintext and
/// that key's position in `keys`.
pub(crate) fn open<'k>(
    token: &[u8],
    keys: impl IntoIterator<Item = &'k [u8]>,
) -> Result<(Vec<u8>, usize), DecryptFailure> {
    use DecryptFailure::{JweFormat, JweHeader};
    let mut parts = token.trim_ascii().split(|&b| b == b'.');
    let (Some(h), Some(ek), Some(iv), Some(ct), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(JweFormat("expected 5 dot-separated parts"));
    };
    let header_json = b64url_decode(h, 0).ok_or(JweFormat("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|_| JweFormat("header is not a JSON object"))?;
    if header.alg.as_deref() != Some("dir") {
        return Err(JweHeader("alg must be \"dir\""));
    }
    if header.enc.as_deref() != Some("A256GCM") {
        return Err(JweHeader("enc must be \"A256GCM\""));
    }
    // RFC 7516 §4.1.3: `zip` would need DEFLATE (and invites decompression bombs).
    if header.zip.is_some() {
        return Err(JweHeader("zip is not supported"));
    }
    // RFC 7515 §4.1.11: a recipient must reject extensions it does not understand.
    if header.crit.is_some() {
        return Err(JweHeader("crit extensions are not supported"));
    }
    if !ek.is_empty() {
        return Err(JweFormat("encrypted key must be empty with alg=dir"));
    }
    let nonce = b64url_decode(iv, 0)
        .filter(|n| n.len() == NONCE_LEN)
        .ok_or(JweFormat("iv must be 12 bytes of base64url"))?;
    let tag = b64url_decode(tag, 0)
        .filter(|t| t.len() == GCM_TAG)
        .ok_or(JweFormat("tag must be 16 bytes of base64url"))?;
    let mut buf = b64url_decode(ct, GCM_TAG).ok_or(JweFormat("ciphertext is not base64url"))?;
    buf.extend_from_slice(&tag);
    for (index, key) in keys.into_iter().enumerate() {
        match gcm_open_in_place(key, &nonce, h, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok((buf, index));
            }
            Err(DecryptFailure::Tag) => {}
            Err(other) => return Err(other),
        }
    }
    Err(DecryptFailure::Tag)
}

/// Seals `plaintext` as a compact token with a fresh random IV.
pub(crate) fn seal(plaintext: &[u8], key: &[u8]) -> Result<String, SealError> {
    let header = b64url_encode(br#"{"alg":"dir","enc":"A256GCM"}"#);
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut buf = Vec::with_capacity(plaintext.len() + GCM_TAG);
    buf.extend_from_slice(plaintext);
    gcm_seal_in_place(key, &nonce, header.as_bytes(), &mut buf, 0)?;
    let (ct, tag) = buf.split_at(buf.len() - GCM_TAG);
    Ok(format!(
        "{header}..{}.{}.{}",
        b64url_encode(&nonce),
        b64url_encode(ct),
        b64url_encode(tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [5; 32];

    fn token_with_header(header: &str) -> String {
        let good = seal(b"{}", &KEY).unwrap();
        let rest = good.split_once('.').unwrap().1;
        format!("{}.{rest}", b64url_encode(header.as_bytes()))
    }

    #[test]
    fn sealed_token_opens_and_reports_the_key_position() {
        let t = seal(br#"{"x":1}"#, &KEY).unwrap();
        let (pt, idx) = open(t.as_bytes(), [&[9u8; 32][..], &KEY[..]]).unwrap();
        assert_eq!((pt.as_slice(), idx), (&br#"{"x":1}"#[..], 1));
    }

    #[test]
    fn header_other_than_dir_a256gcm_or_with_zip_or_crit_is_refused() {
        for (h, want) in [
            (r#"{"alg":"A256KW","enc":"A256GCM"}"#, "alg"),
            (r#"{"alg":"dir","enc":"A128GCM"}"#, "enc"),
            (r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#, "zip"),
            (r#"{"alg":"dir","enc":"A256GCM","crit":["exp"]}"#, "crit"),
        ] {
            let err = open(token_with_header(h).as_bytes(), [&KEY[..]]).unwrap_err();
            assert!(err.to_string().contains(want), "{h}: {err}");
        }
    }

    #[test]
    fn header_is_authenticated_byte_for_byte() {
        // Same meaning, different bytes: the AAD changes, so the tag fails.
        let t = token_with_header(r#"{"enc":"A256GCM","alg":"dir"}"#);
        assert_eq!(open(t.as_bytes(), [&KEY[..]]), Err(DecryptFailure::Tag));
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let good = seal(b"{}", &KEY).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let with_key = format!("{}.AAAA.{}.{}.{}", parts[0], parts[2], parts[3], parts[4]);
        for bad in [
            "",
            "a.b.c",
            "a.b.c.d.e.f",
            with_key.as_str(),
            &good[..good.len() - 3],
        ] {
            assert!(open(bad.as_bytes(), [&KEY[..]]).is_err(), "{bad}");
        }
    }
}
