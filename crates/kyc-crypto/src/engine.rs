//! Single-key cipher primitives, in place where the backends allow.
//!
//! The unauthenticated modes (CBC, CTR, CFB-128, CFB8, ECB) go through OpenSSL's EVP
//! (`openssl::cipher_ctx::CipherCtx`), whose `cipher_update_inplace` decrypts the decoded
//! body without a second megabyte buffer. GCM goes through the `aes-gcm` crate's
//! `decrypt_inout_detached`, which checks the tag before it touches the buffer, so a failed
//! key leaves the ciphertext intact for the next one. aes-gcm 0.11 only names AES-128/256-GCM;
//! AES-192-GCM is `AesGcm<aes::Aes192, U12>` from the same crate.

use aes_gcm::aead::consts::U12;
use aes_gcm::aes::Aes192;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, AesGcm, KeyInit};
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;

use super::spec::CipherMode;
use super::{DecryptFailure, SealError};

/// AES block size; also the spare room an in-place CBC/ECB decryption needs.
pub(crate) const BLOCK: usize = 16;
/// GCM tag length (128 bits, the JDK's `GCMParameterSpec` default and JWE's A256GCM).
pub(crate) const GCM_TAG: usize = 16;

type Aes192Gcm = AesGcm<Aes192, U12>;

fn openssl_cipher(mode: CipherMode, key_len: usize) -> Option<&'static CipherRef> {
    use CipherMode::*;
    Some(match (mode, key_len) {
        (Cbc, 16) => Cipher::aes_128_cbc(),
        (Cbc, 24) => Cipher::aes_192_cbc(),
        (Cbc, 32) => Cipher::aes_256_cbc(),
        (Ctr, 16) => Cipher::aes_128_ctr(),
        (Ctr, 24) => Cipher::aes_192_ctr(),
        (Ctr, 32) => Cipher::aes_256_ctr(),
        (Cfb128, 16) => Cipher::aes_128_cfb128(),
        (Cfb128, 24) => Cipher::aes_192_cfb128(),
        (Cfb128, 32) => Cipher::aes_256_cfb128(),
        (Cfb8, 16) => Cipher::aes_128_cfb8(),
        (Cfb8, 24) => Cipher::aes_192_cfb8(),
        (Cfb8, 32) => Cipher::aes_256_cfb8(),
        (Ecb, 16) => Cipher::aes_128_ecb(),
        (Ecb, 24) => Cipher::aes_192_ecb(),
        (Ecb, 32) => Cipher::aes_256_ecb(),
        _ => return None,
    })
}

/// Decrypts `data[..inlen]` in place with an OpenSSL mode and returns the plaintext length.
///
/// `data` must hold `BLOCK` spare bytes after the input: EVP keeps the last CBC/ECB block
/// back until `final` for the padding check and may write one block past the input.
/// Key and IV lengths are validated by the profile; a mismatch is `Backend`, not a panic.
pub(crate) fn ossl_decrypt_in_place(
    mode: CipherMode,
    key: &[u8],
    iv: Option<&[u8]>,
    data: &mut [u8],
    inlen: usize,
) -> Result<usize, DecryptFailure> {
    use DecryptFailure::{Backend, Length};
    let cipher = openssl_cipher(mode, key.len()).ok_or(Backend)?;
    if mode.is_padded() && (inlen == 0 || !inlen.is_multiple_of(BLOCK)) {
        return Err(Length);
    }
    // EVP takes an `int` length; the HTTP body limit keeps real bodies far below it.
    if inlen > i32::MAX as usize - BLOCK {
        return Err(Length);
    }
    if data.len() < inlen + BLOCK || iv.map(<[u8]>::len) != mode.iv_len() {
        return Err(Backend);
    }
    let mut ctx = CipherCtx::new().map_err(|_| Backend)?;
    ctx.decrypt_init(Some(cipher), Some(key), iv)
        .map_err(|_| Backend)?;
    ctx.set_padding(mode.is_padded());
    let n = ctx
        .cipher_update_inplace(data, inlen)
        .map_err(|_| Backend)?;
    let tail = data.get_mut(n..).ok_or(Backend)?;
    let m = ctx.cipher_final(tail).map_err(|_| {
        if mode.is_padded() {
            DecryptFailure::Padding
        } else {
            Backend
        }
    })?;
    Ok(n + m)
}

/// Encrypts `plaintext` with an OpenSSL mode, appending the ciphertext to `out`.
pub(crate) fn ossl_encrypt(
    mode: CipherMode,
    key: &[u8],
    iv: Option<&[u8]>,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SealError> {
    let cipher = openssl_cipher(mode, key.len()).ok_or(SealError::Backend)?;
    if iv.map(<[u8]>::len) != mode.iv_len() || plaintext.len() > i32::MAX as usize - BLOCK {
        return Err(SealError::Backend);
    }
    let mut ctx = CipherCtx::new().map_err(|_| SealError::Backend)?;
    ctx.encrypt_init(Some(cipher), Some(key), iv)
        .map_err(|_| SealError::Backend)?;
    ctx.set_padding(mode.is_padded());
    out.reserve(plaintext.len() + BLOCK);
    ctx.cipher_update_vec(plaintext, out)
        .map_err(|_| SealError::Backend)?;
    ctx.cipher_final_vec(out).map_err(|_| SealError::Backend)?;
    Ok(())
}

/// Opens `data = ciphertext || tag` in place with AES-GCM (key size from `key.len()`) and
/// returns the plaintext length; `data` is untouched when the tag does not verify.
pub(crate) fn gcm_open_in_place(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    data: &mut [u8],
) -> Result<usize, DecryptFailure> {
    let ct_len = data
        .len()
        .checked_sub(GCM_TAG)
        .ok_or(DecryptFailure::Length)?;
    let (ct, tag) = data.split_at_mut(ct_len);
    match key.len() {
        16 => gcm_open::<Aes128Gcm>(key, nonce, aad, ct, tag),
        24 => gcm_open::<Aes192Gcm>(key, nonce, aad, ct, tag),
        32 => gcm_open::<Aes256Gcm>(key, nonce, aad, ct, tag),
        _ => Err(DecryptFailure::Backend),
    }?;
    Ok(ct_len)
}

fn gcm_open<C: KeyInit + AeadInOut>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct: &mut [u8],
    tag: &[u8],
) -> Result<(), DecryptFailure> {
    let cipher = C::new_from_slice(key).map_err(|_| DecryptFailure::Backend)?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(nonce).map_err(|_| DecryptFailure::Length)?;
    let tag = aes_gcm::aead::Tag::<C>::try_from(tag).map_err(|_| DecryptFailure::Length)?;
    cipher
        .decrypt_inout_detached(&nonce, aad, ct.into(), &tag)
        .map_err(|_| DecryptFailure::Tag)
}

/// Encrypts `buf[start..]` in place with AES-GCM and appends the 16-byte tag.
pub(crate) fn gcm_seal_in_place(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    buf: &mut Vec<u8>,
    start: usize,
) -> Result<(), SealError> {
    let msg = buf.get_mut(start..).ok_or(SealError::Backend)?;
    let tag = match key.len() {
        16 => gcm_seal::<Aes128Gcm>(key, nonce, aad, msg),
        24 => gcm_seal::<Aes192Gcm>(key, nonce, aad, msg),
        32 => gcm_seal::<Aes256Gcm>(key, nonce, aad, msg),
        _ => Err(SealError::Backend),
    }?;
    buf.extend_from_slice(&tag);
    Ok(())
}

fn gcm_seal<C: KeyInit + AeadInOut>(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    msg: &mut [u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = C::new_from_slice(key).map_err(|_| SealError::Backend)?;
    let nonce = aes_gcm::aead::Nonce::<C>::try_from(nonce).map_err(|_| SealError::Backend)?;
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, msg.into())
        .map_err(|_| SealError::Backend)?;
    Ok(tag.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_gcm_tag_leaves_the_ciphertext_untouched() {
        let mut buf = b"{\"a\":1}".to_vec();
        gcm_seal_in_place(&[1; 32], &[2; 12], b"", &mut buf, 0).unwrap();
        let before = buf.clone();
        let err = gcm_open_in_place(&[9; 32], &[2; 12], b"", &mut buf).unwrap_err();
        assert_eq!(err, DecryptFailure::Tag);
        assert_eq!(buf, before);
        let n = gcm_open_in_place(&[1; 32], &[2; 12], b"", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"{\"a\":1}");
    }

    #[test]
    fn cbc_needs_whole_blocks_and_reports_bad_padding() {
        let mut data = [0u8; 15 + BLOCK];
        let r = ossl_decrypt_in_place(CipherMode::Cbc, &[1; 16], Some(&[0; 16]), &mut data, 15);
        assert_eq!(r, Err(DecryptFailure::Length));
        let mut data = [0u8; 32 + BLOCK];
        let r = ossl_decrypt_in_place(CipherMode::Cbc, &[1; 16], Some(&[0; 16]), &mut data, 32);
        // All-zero ciphertext under a fixed key almost surely has invalid padding.
        assert_eq!(r, Err(DecryptFailure::Padding));
    }

    #[test]
    fn wrong_iv_length_is_an_error_not_a_panic() {
        let mut data = [0u8; 32 + BLOCK];
        let r = ossl_decrypt_in_place(CipherMode::Ctr, &[1; 16], Some(&[0; 8]), &mut data, 32);
        assert_eq!(r, Err(DecryptFailure::Backend));
    }
}
