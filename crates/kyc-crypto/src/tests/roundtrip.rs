//! Round trips checked by an implementation that shares no code with the profile:
//! CBC/ECB/CTR/CFB/CFB8 written out here from NIST SP 800-38A over the bare AES block
//! cipher of the `aes` crate (the profile uses OpenSSL for them), and GCM/JWE checked with
//! OpenSSL's `symm::{decrypt_aead, encrypt_aead}` (the profile uses the `aes-gcm` crate).
//! Both directions, all three key sizes (the vectors file has no AES-192 case).

use aes_gcm::aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes_gcm::aes::{Aes128, Aes192, Aes256, Block};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use serde_json::json;

use crate::{CipherMode, CipherProfile};

enum AnyAes {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl AnyAes {
    fn new(key: &[u8]) -> Self {
        match key.len() {
            16 => Self::A128(Aes128::new_from_slice(key).unwrap()),
            24 => Self::A192(Aes192::new_from_slice(key).unwrap()),
            _ => Self::A256(Aes256::new_from_slice(key).unwrap()),
        }
    }
    fn enc(&self, b: &[u8]) -> [u8; 16] {
        let mut blk = Block::try_from(b).unwrap();
        match self {
            Self::A128(c) => c.encrypt_block(&mut blk),
            Self::A192(c) => c.encrypt_block(&mut blk),
            Self::A256(c) => c.encrypt_block(&mut blk),
        }
        blk.into()
    }
    fn dec(&self, b: &[u8]) -> [u8; 16] {
        let mut blk = Block::try_from(b).unwrap();
        match self {
            Self::A128(c) => c.decrypt_block(&mut blk),
            Self::A192(c) => c.decrypt_block(&mut blk),
            Self::A256(c) => c.decrypt_block(&mut blk),
        }
        blk.into()
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// SP 800-38A reference: encrypt (`enc = true`) or decrypt one message.
fn reference(mode: CipherMode, key: &[u8], iv: &[u8], input: &[u8], enc: bool) -> Vec<u8> {
    let aes = AnyAes::new(key);
    let mut out = Vec::new();
    match mode {
        CipherMode::Cbc | CipherMode::Ecb if enc => {
            let pad = 16 - input.len() % 16; // PKCS#5/#7: always 1..=16 bytes
            let mut p = input.to_vec();
            p.extend(std::iter::repeat_n(pad as u8, pad));
            let mut prev = iv.to_vec();
            for block in p.chunks(16) {
                let x = if mode == CipherMode::Cbc {
                    xor(block, &prev)
                } else {
                    block.to_vec()
                };
                prev = aes.enc(&x).to_vec();
                out.extend_from_slice(&prev);
            }
        }
        CipherMode::Cbc | CipherMode::Ecb => {
            let mut prev = iv.to_vec();
            for block in input.chunks(16) {
                let d = aes.dec(block);
                out.extend(if mode == CipherMode::Cbc {
                    xor(&d, &prev)
                } else {
                    d.to_vec()
                });
                prev = block.to_vec();
            }
            let pad = *out.last().unwrap() as usize;
            assert!((1..=16).contains(&pad) && out.ends_with(&vec![pad as u8; pad]));
            out.truncate(out.len() - pad);
        }
        CipherMode::Ctr => {
            let mut ctr = u128::from_be_bytes(iv.try_into().unwrap());
            for block in input.chunks(16) {
                out.extend(xor(block, &aes.enc(&ctr.to_be_bytes())));
                ctr = ctr.wrapping_add(1);
            }
        }
        CipherMode::Cfb128 => {
            let mut reg = iv.to_vec();
            for block in input.chunks(16) {
                let o = xor(block, &aes.enc(&reg));
                reg = if enc { o.clone() } else { block.to_vec() };
                out.extend(o);
            }
        }
        CipherMode::Cfb8 => {
            let mut reg = iv.to_vec();
            for &byte in input {
                let o = byte ^ aes.enc(&reg)[0];
                reg.remove(0);
                reg.push(if enc { o } else { byte });
                out.push(o);
            }
        }
        CipherMode::Gcm | CipherMode::Jwe => unreachable!(),
    }
    out
}

fn plaintext() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/ditto-v3-small.json"
    );
    std::fs::read(path).unwrap()
}

fn key(len: usize) -> Vec<u8> {
    (0..len as u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

const STATIC_IV: [u8; 16] = *b"static-iv-16byte";

/// A profile with a hex key; `iv` is `Some(static iv)` or `None` for prefix mode.
fn profile(spec: &str, key: &[u8], iv: Option<&[u8]>) -> CipherProfile {
    let mut v = json!({"enable": true, "cipher_spec": spec, "key": hex::encode(key),
                       "key_encoding": "hex", "allow_insecure": true, "iv": "prefix"});
    if let Some(iv) = iv {
        v["iv"] = json!("static");
        v["iv_param_spec"] = json!(hex::encode(iv));
        v["iv_encoding"] = json!("hex");
    }
    let s = serde_json::from_value(v).unwrap();
    CipherProfile::from_settings(&s, "encryption.response")
        .unwrap()
        .0
}

const UNAUTHENTICATED: [(&str, CipherMode); 5] = [
    ("AES/CBC/PKCS5Padding", CipherMode::Cbc),
    ("AES/CTR/NoPadding", CipherMode::Ctr),
    ("AES/CFB/NoPadding", CipherMode::Cfb128),
    ("AES/CFB8/NoPadding", CipherMode::Cfb8),
    ("AES/ECB/PKCS5Padding", CipherMode::Ecb),
];

/// IV choices per mode: static and prefix, or none for ECB (which is "static" with no IV).
fn ivs(mode: CipherMode) -> Vec<Option<&'static [u8]>> {
    match mode.iv_len() {
        None => vec![Some(&[][..])],
        Some(n) => vec![Some(&STATIC_IV[..n]), None],
    }
}

fn split_iv<'a>(raw: &'a [u8], iv: Option<&'a [u8]>, n: usize) -> (&'a [u8], &'a [u8]) {
    match iv {
        Some(iv) => (iv, raw),
        None => raw.split_at(n),
    }
}

#[test]
fn unauthenticated_modes_seal_what_the_reference_decrypts_and_vice_versa() {
    let pt = plaintext();
    for (spec, mode) in UNAUTHENTICATED {
        for len in [16, 24, 32] {
            for iv in ivs(mode) {
                let p = profile(spec, &key(len), iv);
                let raw = STANDARD.decode(p.seal(&pt).unwrap()).unwrap();
                let n = mode.iv_len().unwrap_or(0);
                let (used_iv, ct) = split_iv(&raw, iv, n);
                assert_eq!(
                    reference(mode, &key(len), used_iv, ct, false),
                    pt,
                    "{spec} {len}"
                );
                // Reverse: reference ciphertext, opened by the profile.
                let fresh_iv = [0xA5u8; 16];
                let iv_bytes = iv.unwrap_or(&fresh_iv[..n]);
                let mut body = if iv.is_none() {
                    iv_bytes.to_vec()
                } else {
                    Vec::new()
                };
                body.extend(reference(mode, &key(len), iv_bytes, &pt, true));
                let opened = p.open(STANDARD.encode(&body).as_bytes()).unwrap();
                assert_eq!(opened.plaintext, pt, "{spec} {len} reverse");
            }
        }
    }
}

fn openssl_gcm(len: usize) -> Cipher {
    match len {
        16 => Cipher::aes_128_gcm(),
        24 => Cipher::aes_192_gcm(),
        _ => Cipher::aes_256_gcm(),
    }
}

#[test]
fn gcm_sealed_by_aes_gcm_opens_with_openssl_and_vice_versa() {
    let pt = plaintext();
    for len in [16, 24, 32] {
        for iv in [Some(&STATIC_IV[..12]), None] {
            let p = profile("AES/GCM/NoPadding", &key(len), iv);
            let raw = STANDARD.decode(p.seal(&pt).unwrap()).unwrap();
            let (nonce, rest) = split_iv(&raw, iv, 12);
            let (ct, tag) = rest.split_at(rest.len() - 16);
            let got = decrypt_aead(openssl_gcm(len), &key(len), Some(nonce), b"", ct, tag);
            assert_eq!(got.unwrap(), pt, "GCM {len}");

            let nonce = iv.unwrap_or(&[7u8; 12]);
            let mut tag = [0u8; 16];
            let ct = encrypt_aead(openssl_gcm(len), &key(len), Some(nonce), b"", &pt, &mut tag);
            let mut body = if iv.is_none() {
                nonce.to_vec()
            } else {
                Vec::new()
            };
            body.extend(ct.unwrap());
            body.extend(tag);
            let opened = p.open(STANDARD.encode(&body).as_bytes()).unwrap();
            assert_eq!(opened.plaintext, pt, "GCM {len} reverse");
        }
    }
}

#[test]
fn jwe_sealed_here_opens_with_openssl_and_vice_versa() {
    let pt = plaintext();
    let k = key(32);
    let p = profile("JWE", &k, Some(&[][..]));
    let token = p.seal(&pt).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!((parts.len(), parts[1]), (5, ""));
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "dir", "enc": "A256GCM"}));
    let d = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    let got = decrypt_aead(
        Cipher::aes_256_gcm(),
        &k,
        Some(&d(parts[2])),
        parts[0].as_bytes(),
        &d(parts[3]),
        &d(parts[4]),
    );
    assert_eq!(got.unwrap(), pt);

    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"dir","enc":"A256GCM","kid":"k1"}"#);
    let mut tag = [0u8; 16];
    let iv = [3u8; 12];
    let ct = encrypt_aead(
        Cipher::aes_256_gcm(),
        &k,
        Some(&iv),
        h.as_bytes(),
        &pt,
        &mut tag,
    );
    let e = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let token = format!("{h}..{}.{}.{}", e(&iv), e(&ct.unwrap()), e(&tag));
    assert_eq!(p.open(token.as_bytes()).unwrap().plaintext, pt);
}
