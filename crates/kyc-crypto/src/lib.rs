//! Ditto-compatible body encryption and AES-GCM for data at rest.
//!
//! Owns the config blocks `encryption.request` and `encryption.response` (parsed into
//! [`ProfileSettings`], validated into a [`CipherProfile`]) and the primitives the HTTP layer
//! calls: [`CipherProfile::open`] for a request body, [`CipherProfile::seal`] for a response
//! body, [`generate_key`] for `kyc-receiver keys generate`, and [`at_rest`] for encrypted
//! columns.
//!
//! The wire format follows `docs/ditto-protocol.md` §0.3: the HTTP body is the standard base64
//! text of the ciphertext (padding optional, surrounding whitespace ignored, CR/LF line
//! breaks inside tolerated because Java's `Base64.getMimeEncoder()` and `openssl enc -a`
//! wrap lines). `JWE` profiles carry an RFC 7516 compact token instead.
//!
//! Failures never tell the client which step failed: [`DecryptError`] displays one fixed
//! message, and [`DecryptError::detail`] gives the step for the log. Nothing here ever
//! formats key bytes, neither in errors nor in `Debug`.
//!
//! A crate of its own: it knows nothing of the receiver, so the receiver, the upstream simulator and the
//! fuzz targets share one implementation of every cipher spec.

// Tests may unwrap; the non-test build is still checked without this allowance.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod at_rest;
mod checks;
mod encoding;
mod engine;
mod jwe;
mod open;
mod profile;
mod settings;
mod spec;

use base64::Engine as _;
use rand::RngCore as _;
use zeroize::Zeroizing;

pub use self::profile::CipherProfile;
pub use self::settings::{Encoding, IvMode, PreviousKey, ProfileSettings};
pub use self::spec::CipherMode;

/// The only text a client ever sees for a refused body, whatever step failed.
pub const DECRYPT_PUBLIC_MESSAGE: &str = "the request body could not be decrypted";

/// A configuration error found by [`CipherProfile::from_settings`].
///
/// The message starts with the full config key (`encryption.request.key: …`) and never
/// contains key or IV material, only lengths and encodings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct CryptoConfigError {
    /// Full dotted name of the offending setting, e.g. `encryption.request.iv_param_spec`.
    pub key: String,
    /// What is wrong with it and what would be accepted.
    pub reason: String,
}

impl CryptoConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Which step of opening a body failed; for the log only, never for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptFailure {
    /// The body is not standard base64 (after trimming and removing line breaks).
    #[error("body is not valid base64")]
    Base64,
    /// Too short for IV/tag, or not a whole number of 16-byte blocks for CBC/ECB.
    #[error("ciphertext length does not fit the cipher (too short or not whole blocks)")]
    Length,
    /// CBC/ECB decryption ended with invalid PKCS#5 padding.
    #[error("PKCS#5 padding check failed")]
    Padding,
    /// GCM / JWE authentication tag did not verify (wrong key or IV, or tampered body).
    #[error("authentication tag did not verify")]
    Tag,
    /// An unauthenticated mode produced bytes that are not UTF-8 JSON (wrong key or IV).
    #[error("decrypted bytes are not UTF-8 JSON")]
    NotJson,
    /// A plaintext JSON body arrived while encryption is required (`allow_plaintext = false`).
    #[error("plaintext JSON body refused because encryption is required")]
    PlaintextRefused,
    /// The JWE compact serialization is malformed (RFC 7516 §7.1).
    #[error("malformed JWE compact token: {0}")]
    JweFormat(&'static str),
    /// The JWE protected header asks for something this profile does not do.
    #[error("unsupported JWE header: {0}")]
    JweHeader(&'static str),
    /// The cipher backend reported an error other than a padding failure.
    #[error("cipher backend error")]
    Backend,
}

/// A body that could not be opened. `Display` is always [`DECRYPT_PUBLIC_MESSAGE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptError {
    failure: DecryptFailure,
    keys_tried: usize,
}

impl DecryptError {
    pub(crate) fn new(failure: DecryptFailure, keys_tried: usize) -> Self {
        Self {
            failure,
            keys_tried,
        }
    }

    /// The step that failed (for the current key when several were tried), for the log.
    pub fn detail(&self) -> DecryptFailure {
        self.failure
    }

    /// How many keys (current plus previous) were tried before giving up.
    pub fn keys_tried(&self) -> usize {
        self.keys_tried
    }
}

impl std::fmt::Display for DecryptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(DECRYPT_PUBLIC_MESSAGE)
    }
}

impl std::error::Error for DecryptError {}

/// Why a response body could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The profile is disabled; the caller sends the plaintext itself.
    #[error("encryption profile is disabled; nothing to seal")]
    Disabled,
    /// The cipher backend failed (no detail: it could only concern key setup).
    #[error("cipher backend failed while sealing")]
    Backend,
}

/// Which key opened a body, for the audit event (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUsed {
    /// No decryption: the profile is disabled, or plaintext was allowed.
    Plaintext,
    /// The current `key`.
    Current,
    /// `previous_keys[index]`, during a rotation overlap.
    Previous {
        /// Position in `previous_keys`.
        index: usize,
        /// The entry's `label`, if configured.
        label: Option<String>,
    },
}

impl KeyUsed {
    /// Short audit label: `plaintext`, `current`, `previous[0]` or `previous[0]:2025-q3`.
    pub fn label(&self) -> String {
        match self {
            Self::Plaintext => "plaintext".to_owned(),
            Self::Current => "current".to_owned(),
            Self::Previous { index, label: None } => format!("previous[{index}]"),
            Self::Previous {
                index,
                label: Some(l),
            } => format!("previous[{index}]:{l}"),
        }
    }
}

/// A body opened by [`CipherProfile::open`]. `Debug` shows the length, never the personal
/// data inside.
pub struct Opened {
    /// The decrypted bytes (for unauthenticated modes already checked to be UTF-8 JSON).
    pub plaintext: Vec<u8>,
    /// Which key opened it.
    pub key: KeyUsed,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("key", &self.key)
            .finish()
    }
}

/// A fresh random 256-bit key as standard base64 (for `key_encoding = "base64"`).
pub fn generate_key() -> String {
    let mut key = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(key.as_mut());
    base64::engine::general_purpose::STANDARD.encode(key.as_ref())
}

#[cfg(test)]
mod tests;
