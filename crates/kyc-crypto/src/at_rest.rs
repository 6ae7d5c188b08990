//! AES-256-GCM for data encrypted at rest (stored payloads, encrypted columns).
//!
//! Every blob carries the id of the key that sealed it, so keys rotate without re-encrypting
//! old rows: a new active key seals, old keys stay in the ring to open. The caller binds a
//! blob to its row with associated data (e.g. table, column and row id), so a ciphertext
//! copied into another row does not open. Nonces are 96 random bits per blob (NIST SP
//! 800-38D §8.2.2); keep a key well below 2^32 blobs.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// Errors of the at-rest keyring. None of them carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtRestError {
    /// The keyring was built without keys.
    #[error("the data keyring has no keys")]
    Empty,
    /// A key id is empty.
    #[error("a data key has an empty key id")]
    EmptyKeyId,
    /// Two entries share an id.
    #[error("data key id \"{0}\" appears more than once")]
    DuplicateKeyId(String),
    /// The active key id names no entry.
    #[error("active data key id \"{0}\" is not in the keyring")]
    UnknownActiveKey(String),
    /// A configured key is not base64 of exactly 32 bytes.
    #[error("data key \"{0}\" is not standard base64 of 32 bytes")]
    KeyEncoding(String),
    /// The blob names a key this keyring does not hold.
    #[error("no data key with id \"{0}\"")]
    UnknownKeyId(String),
    /// Wrong nonce length, wrong associated data, or tampered/corrupted ciphertext.
    #[error("stored blob failed authentication")]
    Authentication,
    /// The cipher refused to seal (only possible for absurd lengths).
    #[error("sealing failed")]
    Seal,
}

/// A sealed value as stored: key id, nonce and `ciphertext || tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlob {
    /// Id of the key that sealed it.
    pub key_id: String,
    /// The 12-byte GCM nonce.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// The at-rest keys: one active key that seals, all keys open.
#[derive(Clone)]
pub struct DataKeyring {
    keys: Vec<(String, Zeroizing<[u8; 32]>)>,
    active: usize,
}

impl DataKeyring {
    /// Builds a keyring from `(key_id, 32-byte key)` entries; `active_key_id` must be one.
    pub fn new(
        entries: impl IntoIterator<Item = (String, Zeroizing<[u8; 32]>)>,
        active_key_id: &str,
    ) -> Result<Self, AtRestError> {
        let mut keys: Vec<(String, Zeroizing<[u8; 32]>)> = Vec::new();
        for (id, key) in entries {
            if id.is_empty() {
                return Err(AtRestError::EmptyKeyId);
            }
            if keys.iter().any(|(k, _)| *k == id) {
                return Err(AtRestError::DuplicateKeyId(id));
            }
            keys.push((id, key));
        }
        if keys.is_empty() {
            return Err(AtRestError::Empty);
        }
        let active = keys
            .iter()
            .position(|(id, _)| id == active_key_id)
            .ok_or_else(|| AtRestError::UnknownActiveKey(active_key_id.to_owned()))?;
        Ok(Self { keys, active })
    }

    /// Decodes a configured key (standard base64 of 32 bytes, as `generate_key` makes).
    /// `key_id` only names the entry in the error.
    pub fn decode_key(
        key_id: &str,
        key: &SecretString,
    ) -> Result<Zeroizing<[u8; 32]>, AtRestError> {
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(key.expose_secret().trim())
                .map_err(|_| AtRestError::KeyEncoding(key_id.to_owned()))?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        if raw.len() != out.len() {
            return Err(AtRestError::KeyEncoding(key_id.to_owned()));
        }
        out.copy_from_slice(&raw);
        Ok(out)
    }

    /// Id of the key that seals new blobs.
    pub fn active_key_id(&self) -> &str {
        self.keys.get(self.active).map_or("", |(id, _)| id.as_str())
    }

    /// Seals `plaintext` with the active key and a fresh random nonce, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<SealedBlob, AtRestError> {
        let (id, key) = self.keys.get(self.active).ok_or(AtRestError::Empty)?;
        let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| AtRestError::Seal)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::from(nonce);
        let ciphertext = cipher
            .encrypt(
                &n,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| AtRestError::Seal)?;
        Ok(SealedBlob {
            key_id: id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens a blob sealed by any key of the ring, with the same `aad` it was sealed with.
    pub fn open(&self, blob: &SealedBlob, aad: &[u8]) -> Result<Vec<u8>, AtRestError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == blob.key_id)
            .ok_or_else(|| AtRestError::UnknownKeyId(blob.key_id.clone()))?;
        let nonce = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(blob.nonce.as_slice())
            .map_err(|_| AtRestError::Authentication)?;
        let cipher =
            Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| AtRestError::Authentication)?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &blob.ciphertext,
                    aad,
                },
            )
            .map_err(|_| AtRestError::Authentication)
    }
}

impl std::fmt::Debug for DataKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("DataKeyring")
            .field("key_ids", &ids)
            .field("active", &self.active_key_id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Zeroizing<[u8; 32]> {
        Zeroizing::new([b; 32])
    }

    fn ring(active: &str) -> DataKeyring {
        DataKeyring::new(
            [("k1".to_owned(), key(1)), ("k2".to_owned(), key(2))],
            active,
        )
        .unwrap()
    }

    #[test]
    fn sealed_blob_opens_with_the_same_aad_and_names_the_active_key() {
        let r = ring("k2");
        let blob = r.seal(b"pii", b"submissions/42/payload").unwrap();
        assert_eq!(blob.key_id, "k2");
        assert_eq!(blob.nonce.len(), 12);
        assert_eq!(r.open(&blob, b"submissions/42/payload").unwrap(), b"pii");
    }

    #[test]
    fn blob_with_other_aad_fails() {
        let r = ring("k1");
        let blob = r.seal(b"pii", b"row 1").unwrap();
        assert_eq!(r.open(&blob, b"row 2"), Err(AtRestError::Authentication));
    }

    #[test]
    fn unknown_key_id_fails() {
        let r = ring("k1");
        let mut blob = r.seal(b"pii", b"").unwrap();
        blob.key_id = "k9".into();
        assert_eq!(
            r.open(&blob, b""),
            Err(AtRestError::UnknownKeyId("k9".into()))
        );
    }

    #[test]
    fn tampered_ciphertext_or_nonce_fails() {
        let r = ring("k1");
        let mut blob = r.seal(b"pii", b"").unwrap();
        blob.ciphertext[0] ^= 1;
        assert_eq!(r.open(&blob, b""), Err(AtRestError::Authentication));
        let mut blob = r.seal(b"pii", b"").unwrap();
        blob.nonce.pop();
        assert_eq!(r.open(&blob, b""), Err(AtRestError::Authentication));
    }

    #[test]
    fn old_key_still_opens_after_rotation() {
        let old = DataKeyring::new([("k1".to_owned(), key(1))], "k1").unwrap();
        let blob = old.seal(b"kept", b"aad").unwrap();
        let rotated = ring("k2");
        assert_eq!(rotated.seal(b"x", b"").unwrap().key_id, "k2");
        assert_eq!(rotated.open(&blob, b"aad").unwrap(), b"kept");
    }

    #[test]
    fn nonces_are_fresh_per_blob() {
        let r = ring("k1");
        assert_ne!(
            r.seal(b"a", b"").unwrap().nonce,
            r.seal(b"a", b"").unwrap().nonce
        );
    }

    #[test]
    fn bad_keyrings_are_refused() {
        let none: [(String, Zeroizing<[u8; 32]>); 0] = [];
        assert_eq!(DataKeyring::new(none, "k").unwrap_err(), AtRestError::Empty);
        let dup = [("a".to_owned(), key(1)), ("a".to_owned(), key(2))];
        assert!(matches!(
            DataKeyring::new(dup, "a"),
            Err(AtRestError::DuplicateKeyId(_))
        ));
        let one = [("a".to_owned(), key(1))];
        assert!(matches!(
            DataKeyring::new(one, "b"),
            Err(AtRestError::UnknownActiveKey(_))
        ));
    }

    #[test]
    fn configured_key_must_be_base64_of_32_bytes_and_errors_hide_it() {
        let good = SecretString::from(super::super::generate_key());
        assert!(DataKeyring::decode_key("k", &good).is_ok());
        let short = SecretString::from("c2hvcnRzZWNyZXQ=");
        let e = DataKeyring::decode_key("k", &short).unwrap_err();
        assert!(!e.to_string().contains("c2hvcnRzZWNyZXQ"));
        let dbg = format!("{:?}", ring("k1"));
        assert!(dbg.contains("k1") && !dbg.contains("[1, 1"), "{dbg}");
    }
}
