//! [`CipherProfile::open`] (request bodies) and [`CipherProfile::seal`] (response bodies).
//!
//! Copies: the base64 text is decoded once into a buffer with one spare block, and that
//! buffer is decrypted in place and returned as the plaintext (an IV prefix is removed with
//! an in-place `drain`). The one exception is a rotation overlap for an unauthenticated
//! mode: a wrong key destroys the ciphertext in place, so each key decrypts a copy. GCM and
//! JWE verify the tag before decrypting and need no copy even then.

use rand::RngCore as _;
use serde::de::IgnoredAny;

use super::encoding::{decode_body, encode_body, looks_like_json};
use super::engine::{
    BLOCK, gcm_open_in_place, gcm_seal_in_place, ossl_decrypt_in_place, ossl_encrypt,
};
use super::profile::{Active, CipherProfile, IvSource};
use super::spec::CipherMode;
use super::{DecryptError, DecryptFailure, KeyUsed, Opened, SealError, jwe};

impl CipherProfile {
    /// Opens a request body: base64 ciphertext (or a JWE token) → plaintext bytes.
    ///
    /// A disabled profile returns the body as is. An enabled one refuses plaintext JSON
    /// unless `allow_plaintext`, then tries the current key and each previous key; for
    /// modes without a tag a key counts only if the result is UTF-8 JSON with an object or
    /// array at the top.
    pub fn open(&self, body: &[u8]) -> Result<Opened, DecryptError> {
        let Some(a) = &self.active else {
            return Ok(plain(body));
        };
        if looks_like_json(body) {
            return if a.allow_plaintext {
                Ok(plain(body))
            } else {
                Err(DecryptError::new(DecryptFailure::PlaintextRefused, 0))
            };
        }
        let (plaintext, index) = match a.mode {
            CipherMode::Jwe => {
                jwe::open(body, a.keys.iter().map(|k| k.bytes.as_slice())).map_err(|f| {
                    let tried = if f == DecryptFailure::Tag {
                        a.keys.len()
                    } else {
                        0
                    };
                    DecryptError::new(f, tried)
                })?
            }
            CipherMode::Gcm => open_gcm(a, body)?,
            _ => open_unauthenticated(a, body)?,
        };
        Ok(Opened {
            plaintext,
            key: a.key_used(index),
        })
    }

    /// Seals a response body with the current key: standard base64 (with padding) of the
    /// ciphertext, or a JWE token. `iv = "prefix"` and JWE use a fresh random IV; static
    /// mode uses the configured one, as the upstream expects. Disabled → `SealError::Disabled`.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, SealError> {
        let a = self.active.as_ref().ok_or(SealError::Disabled)?;
        let key = a.keys.first().ok_or(SealError::Backend)?.bytes.as_slice();
        if a.mode == CipherMode::Jwe {
            return jwe::seal(plaintext, key);
        }
        let iv_len = a.mode.iv_len().unwrap_or(0);
        let mut out = Vec::with_capacity(iv_len + plaintext.len() + BLOCK);
        let mut fresh = [0u8; 16];
        let iv: Option<&[u8]> = match &a.iv {
            IvSource::Static(iv) => Some(iv),
            IvSource::Prefix => {
                let iv = fresh.get_mut(..iv_len).ok_or(SealError::Backend)?;
                rand::rngs::OsRng.fill_bytes(iv);
                out.extend_from_slice(iv);
                Some(iv)
            }
            IvSource::None => None,
        };
        if a.mode == CipherMode::Gcm {
            let nonce = iv.ok_or(SealError::Backend)?;
            let start = out.len();
            out.extend_from_slice(plaintext);
            gcm_seal_in_place(key, nonce, b"", &mut out, start)?;
        } else {
            ossl_encrypt(a.mode, key, iv, plaintext, &mut out)?;
        }
        Ok(encode_body(&out))
    }
}

fn plain(body: &[u8]) -> Opened {
    Opened {
        plaintext: body.to_vec(),
        key: KeyUsed::Plaintext,
    }
}

/// UTF-8 JSON whose top level is an object or array: the only evidence of the right key an
/// unauthenticated mode gives. Scalars are refused because a wrong key turns a short body
/// into `86` or `"x"` far too often (found by the fuzz target); a KYC body is an object.
/// `from_utf8` first because serde_json skips strings without validating them.
fn is_json(bytes: &[u8]) -> bool {
    looks_like_json(bytes)
        && std::str::from_utf8(bytes).is_ok()
        && serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
}

/// The IV for this message (copied out, at most 16 bytes) and where the ciphertext starts.
fn take_iv(a: &Active, buf: &[u8]) -> Result<([u8; 16], usize, usize), DecryptFailure> {
    let mut iv = [0u8; 16];
    match &a.iv {
        IvSource::None => Ok((iv, 0, 0)),
        IvSource::Static(s) => {
            let dst = iv.get_mut(..s.len()).ok_or(DecryptFailure::Backend)?;
            dst.copy_from_slice(s);
            Ok((iv, s.len(), 0))
        }
        IvSource::Prefix => {
            let n = a.mode.iv_len().ok_or(DecryptFailure::Backend)?;
            let src = buf.get(..n).ok_or(DecryptFailure::Length)?;
            let dst = iv.get_mut(..n).ok_or(DecryptFailure::Backend)?;
            dst.copy_from_slice(src);
            Ok((iv, n, n))
        }
    }
}

/// Keeps `buf[start..start + len]` as the plaintext, in place.
fn keep(buf: &mut Vec<u8>, start: usize, len: usize) {
    buf.truncate(start + len);
    buf.drain(..start);
}

fn open_gcm(a: &Active, body: &[u8]) -> Result<(Vec<u8>, usize), DecryptError> {
    let mut buf = decode_body(body, 0).ok_or(DecryptError::new(DecryptFailure::Base64, 0))?;
    let (iv, iv_len, start) = take_iv(a, &buf).map_err(|f| DecryptError::new(f, 0))?;
    let nonce = iv.get(..iv_len).unwrap_or_default();
    for (index, key) in a.keys.iter().enumerate() {
        let data = buf.get_mut(start..).unwrap_or_default();
        match gcm_open_in_place(&key.bytes, nonce, b"", data) {
            Ok(n) => {
                keep(&mut buf, start, n);
                return Ok((buf, index));
            }
            Err(DecryptFailure::Tag) => {}
            Err(other) => return Err(DecryptError::new(other, index + 1)),
        }
    }
    Err(DecryptError::new(DecryptFailure::Tag, a.keys.len()))
}

fn open_unauthenticated(a: &Active, body: &[u8]) -> Result<(Vec<u8>, usize), DecryptError> {
    let mut buf = decode_body(body, BLOCK).ok_or(DecryptError::new(DecryptFailure::Base64, 0))?;
    let (iv, iv_len, start) = take_iv(a, &buf).map_err(|f| DecryptError::new(f, 0))?;
    let iv = (iv_len > 0).then(|| &iv[..iv_len]);
    let inlen = buf.len() - start;

    if let [key] = a.keys.as_slice() {
        buf.resize(buf.len() + BLOCK, 0);
        let data = buf.get_mut(start..).unwrap_or_default();
        let n = ossl_decrypt_in_place(a.mode, &key.bytes, iv, data, inlen)
            .map_err(|f| DecryptError::new(f, 1))?;
        keep(&mut buf, start, n);
        return if is_json(&buf) {
            Ok((buf, 0))
        } else {
            Err(DecryptError::new(DecryptFailure::NotJson, 1))
        };
    }

    let ct = buf.get(start..).unwrap_or_default();
    let mut work = Vec::with_capacity(inlen + BLOCK);
    let mut first_failure = None;
    for (index, key) in a.keys.iter().enumerate() {
        work.clear();
        work.extend_from_slice(ct);
        work.resize(inlen + BLOCK, 0);
        let attempt = ossl_decrypt_in_place(a.mode, &key.bytes, iv, &mut work, inlen);
        match attempt {
            Ok(n) if work.get(..n).is_some_and(is_json) => {
                work.truncate(n);
                return Ok((work, index));
            }
            Ok(_) => _ = first_failure.get_or_insert(DecryptFailure::NotJson),
            Err(f) => _ = first_failure.get_or_insert(f),
        }
    }
    let failure = first_failure.unwrap_or(DecryptFailure::Backend);
    Err(DecryptError::new(failure, a.keys.len()))
}

#[cfg(test)]
mod tests;
