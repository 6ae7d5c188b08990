//! [`CipherProfile`]: a validated encryption profile, built once at start (and by
//! `check-config`) from [`ProfileSettings`]. Every configuration check happens here, so a
//! request never meets a half-valid profile: spec, algorithm, block size, key and IV
//! encodings and lengths, ECB gate, and warnings for IV reuse. Messages name the full
//! config key and give lengths and encodings only, never key or IV bytes.
//!
//! The field checks live in `checks.rs`, `open` and `seal` in `open.rs`.

use secrecy::ExposeSecret as _;
use zeroize::Zeroizing;

use super::checks::{decode_key, iv_source};
use super::settings::ProfileSettings;
use super::spec::CipherMode;
use super::{CryptoConfigError, KeyUsed};

/// A validated profile; disabled profiles pass bodies through unchanged.
#[derive(Clone)]
pub struct CipherProfile {
    pub(crate) active: Option<Active>,
}

/// The enabled part of a profile.
#[derive(Clone)]
pub(crate) struct Active {
    pub(crate) mode: CipherMode,
    pub(crate) iv: IvSource,
    /// `keys[0]` is the current key, then `previous_keys` in config order. Never empty.
    pub(crate) keys: Vec<KeyEntry>,
    pub(crate) allow_plaintext: bool,
}

/// Where a message's IV comes from.
#[derive(Clone)]
pub(crate) enum IvSource {
    /// `iv_param_spec`, already of the mode's length.
    Static(Vec<u8>),
    /// The first `mode.iv_len()` bytes of the decoded body.
    Prefix,
    /// ECB, or JWE (IV in the token).
    None,
}

/// One decoded key.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    pub(crate) label: Option<String>,
}

impl CipherProfile {
    /// Validates `settings` (found under the config prefix `key_path`, e.g.
    /// `encryption.request`) and returns the profile plus warnings to log at start.
    pub fn from_settings(
        settings: &ProfileSettings,
        key_path: &str,
    ) -> Result<(Self, Vec<String>), CryptoConfigError> {
        if !settings.enable {
            return Ok((Self { active: None }, Vec::new()));
        }
        let at = |field: &str| format!("{key_path}.{field}");
        let mut warnings = Vec::new();

        if settings.block_size_bytes != 16 {
            return Err(CryptoConfigError::new(
                at("block_size_bytes"),
                format!(
                    "is {}; AES has a 16-byte block, so only 16 is accepted",
                    settings.block_size_bytes
                ),
            ));
        }
        if !settings.algorithm.trim().eq_ignore_ascii_case("AES") {
            let shown: String = settings.algorithm.chars().take(32).collect();
            return Err(CryptoConfigError::new(
                at("algorithm"),
                format!("\"{shown}\" is not supported; only AES"),
            ));
        }
        let mode = CipherMode::parse(&settings.cipher_spec)
            .map_err(|reason| CryptoConfigError::new(at("cipher_spec"), reason))?;
        if !mode.is_authenticated() {
            warnings.push(format!(
                "{}: {} has no authentication tag: whoever can send requests and holds a captured \
                 ciphertext can learn plaintext bytes from which bodies are refused, and can \
                 change bits of a body (a score, a status) so that it still decrypts; use \
                 AES/GCM/NoPadding with iv = \"prefix\", or JWE, wherever the upstream can",
                at("cipher_spec"),
                mode.name()
            ));
        }
        if mode == CipherMode::Ecb {
            if !settings.allow_insecure {
                return Err(CryptoConfigError::new(
                    at("cipher_spec"),
                    format!(
                        "AES/ECB/PKCS5Padding encrypts equal blocks to equal ciphertext and \
                         leaks the plaintext's structure; set {} = true to accept it anyway",
                        at("allow_insecure")
                    ),
                ));
            }
            warnings.push(format!(
                "{}: AES/ECB/PKCS5Padding accepted because allow_insecure = true; ECB leaks \
                 the plaintext's structure",
                at("cipher_spec")
            ));
        }

        let current = settings.key.as_ref().ok_or_else(|| {
            CryptoConfigError::new(
                at("key"),
                format!("missing; required when {} = true", at("enable")),
            )
        })?;
        let mut keys = vec![decode_key(
            current.expose_secret(),
            settings.key_encoding,
            mode,
            &at("key"),
            &mut warnings,
        )?];
        for (i, prev) in settings.previous_keys.iter().enumerate() {
            let name = format!("{key_path}.previous_keys[{i}].key");
            let mut entry = decode_key(
                prev.key.expose_secret(),
                settings.key_encoding,
                mode,
                &name,
                &mut warnings,
            )?;
            entry.label.clone_from(&prev.label);
            keys.push(entry);
        }

        let iv = iv_source(settings, mode, key_path, &mut warnings)?;
        if settings.allow_plaintext {
            warnings.push(format!(
                "{}: plaintext JSON bodies are accepted although encryption is enabled",
                at("allow_plaintext")
            ));
        }
        let active = Active {
            mode,
            iv,
            keys,
            allow_plaintext: settings.allow_plaintext,
        };
        Ok((
            Self {
                active: Some(active),
            },
            warnings,
        ))
    }

    /// Whether bodies are encrypted; `false` means `open`/`seal` are pass-through/refused.
    pub fn is_enabled(&self) -> bool {
        self.active.is_some()
    }

    /// Canonical spec name for logs (`AES/GCM/NoPadding`, `JWE (dir, A256GCM)`, `disabled`).
    pub fn spec_name(&self) -> &'static str {
        self.active.as_ref().map_or("disabled", |a| a.mode.name())
    }

    /// The cipher mode, if enabled.
    pub fn mode(&self) -> Option<CipherMode> {
        self.active.as_ref().map(|a| a.mode)
    }

    /// AES key size of the current key in bits (128/192/256), if enabled.
    pub fn key_bits(&self) -> Option<usize> {
        let a = self.active.as_ref()?;
        a.keys.first().map(|k| k.bytes.len() * 8)
    }
}

impl Active {
    /// Audit identity of `keys[index]`.
    pub(crate) fn key_used(&self, index: usize) -> KeyUsed {
        match index {
            0 => KeyUsed::Current,
            i => KeyUsed::Previous {
                index: i - 1,
                label: self.keys.get(i).and_then(|k| k.label.clone()),
            },
        }
    }
}

impl std::fmt::Debug for CipherProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(a) = &self.active else {
            return f.write_str("CipherProfile(disabled)");
        };
        let iv = match a.iv {
            IvSource::Static(_) => "static",
            IvSource::Prefix => "prefix",
            IvSource::None => "none",
        };
        f.debug_struct("CipherProfile")
            .field("spec", &a.mode.name())
            .field("key_bits", &self.key_bits())
            .field("iv", &iv)
            .field("previous_keys", &(a.keys.len() - 1))
            .field("allow_plaintext", &a.allow_plaintext)
            .finish()
    }
}

#[cfg(test)]
mod tests;
