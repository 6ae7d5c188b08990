//! The raw `encryption.request` / `encryption.response` config blocks.
//!
//! Field names follow our snake_case convention; the upstream's camelCase names
//! (`cipherSpec`, `ivParamSpec`, `blockSizeBytes`, …, from Ditto's `requestEncryption` /
//! `responseDecryption` blocks) are aliases so an admin can paste them, and so are their
//! all-lowercase forms because the `config` crate lowercases keys. Nothing is checked here:
//! [`super::CipherProfile::from_settings`] validates.

use secrecy::SecretString;
use serde::Deserialize;

/// How a key or IV string in config is turned into bytes. Explicit, never guessed
/// (`docs/ditto-protocol.md` §0.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The string's UTF-8 bytes, as Java's `String.getBytes(UTF_8)` gives them.
    #[default]
    #[serde(alias = "UTF8", alias = "utf-8", alias = "UTF-8")]
    Utf8,
    /// Standard base64 (RFC 4648 §4), padding optional.
    #[serde(alias = "BASE64")]
    Base64,
    /// Hexadecimal, either case.
    #[serde(alias = "HEX")]
    Hex,
}

impl Encoding {
    /// The config value naming this encoding.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf8",
            Self::Base64 => "base64",
            Self::Hex => "hex",
        }
    }
}

/// Where the IV comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IvMode {
    /// `iv_param_spec` from config, the same for every message (the upstream's behaviour).
    #[default]
    Static,
    /// A fresh IV in the first 12 (GCM) or 16 bytes of every message: the safe variant.
    Prefix,
    /// The IV travels inside the token (JWE only; the vectors file spells it `in-token`).
    #[serde(rename = "in-token", alias = "in_token")]
    InToken,
}

impl IvMode {
    /// The config value naming this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Prefix => "prefix",
            Self::InToken => "in-token",
        }
    }
}

/// A key still accepted for decryption during a rotation overlap.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    /// Optional name recorded in the audit event instead of the key (e.g. `2025-q3`).
    #[serde(default)]
    pub label: Option<String>,
    /// The key, in the profile's `key_encoding`.
    pub key: SecretString,
}

impl std::fmt::Debug for PreviousKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviousKey")
            .field("label", &self.label)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// One encryption profile as configured (`encryption.request` or `encryption.response`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileSettings {
    /// Whether bodies are encrypted at all; when false the profile passes bodies through.
    #[serde(alias = "enabled")]
    pub enable: bool,
    /// Must be `AES` (the only value the upstream documents).
    pub algorithm: String,
    /// Java JCE transformation (`AES/CBC/PKCS5Padding`, …) or `JWE`.
    #[serde(alias = "cipherSpec", alias = "cipherspec")]
    pub cipher_spec: String,
    /// The current key, in `key_encoding`; may come from `KYC__ENCRYPTION__REQUEST__KEY`.
    pub key: Option<SecretString>,
    /// Encoding of `key` and of every `previous_keys[].key`.
    #[serde(alias = "keyEncoding", alias = "keyencoding")]
    pub key_encoding: Encoding,
    /// The static IV (Java `IvParameterSpec`), in `iv_encoding`.
    #[serde(alias = "ivParamSpec", alias = "ivparamspec")]
    pub iv_param_spec: Option<String>,
    /// Encoding of `iv_param_spec`.
    #[serde(alias = "ivEncoding", alias = "ivencoding")]
    pub iv_encoding: Encoding,
    /// `static` (from config) or `prefix` (in front of every message).
    pub iv: IvMode,
    /// The upstream's `blockSizeBytes`; only 16 (the AES block) is accepted.
    #[serde(alias = "blockSizeBytes", alias = "blocksizebytes")]
    pub block_size_bytes: u32,
    /// Accept a plaintext JSON body although encryption is enabled (request profile only).
    #[serde(alias = "allowPlaintext", alias = "allowplaintext")]
    pub allow_plaintext: bool,
    /// Accept `AES/ECB/PKCS5Padding`, which leaks plaintext patterns.
    #[serde(alias = "allowInsecure", alias = "allowinsecure")]
    pub allow_insecure: bool,
    /// Older keys tried after `key`, in order, while a rotation is under way.
    #[serde(alias = "previousKeys", alias = "previouskeys")]
    pub previous_keys: Vec<PreviousKey>,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            enable: false,
            algorithm: "AES".to_owned(),
            cipher_spec: String::new(),
            key: None,
            key_encoding: Encoding::Utf8,
            iv_param_spec: None,
            iv_encoding: Encoding::Utf8,
            iv: IvMode::Static,
            block_size_bytes: 16,
            allow_plaintext: false,
            allow_insecure: false,
            previous_keys: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ProfileSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The IV is not secret but stays out too: with a static IV it is half of what an
        // attacker would need and the logs gain nothing from it.
        f.debug_struct("ProfileSettings")
            .field("enable", &self.enable)
            .field("algorithm", &self.algorithm)
            .field("cipher_spec", &self.cipher_spec)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("key_encoding", &self.key_encoding)
            .field(
                "iv_param_spec",
                &self.iv_param_spec.as_ref().map(|_| "[set]"),
            )
            .field("iv_encoding", &self.iv_encoding)
            .field("iv", &self.iv)
            .field("block_size_bytes", &self.block_size_bytes)
            .field("allow_plaintext", &self.allow_plaintext)
            .field("allow_insecure", &self.allow_insecure)
            .field("previous_keys", &self.previous_keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_camel_case_block_pastes_as_is() {
        let s: ProfileSettings = serde_json::from_str(
            r#"{"enable": true, "algorithm": "AES", "key": "k", "ivParamSpec": "iv",
                "cipherSpec": "AES/CBC/PKCS5Padding", "blockSizeBytes": 16,
                "keyEncoding": "hex", "ivEncoding": "base64", "allowPlaintext": true,
                "allowInsecure": true, "previousKeys": [{"label": "old", "key": "p"}]}"#,
        )
        .unwrap();
        assert!(s.enable && s.allow_plaintext && s.allow_insecure);
        assert_eq!(s.cipher_spec, "AES/CBC/PKCS5Padding");
        assert_eq!(s.iv_param_spec.as_deref(), Some("iv"));
        assert_eq!(
            (s.key_encoding, s.iv_encoding),
            (Encoding::Hex, Encoding::Base64)
        );
        assert_eq!(s.previous_keys[0].label.as_deref(), Some("old"));
    }

    #[test]
    fn lowercased_keys_from_the_config_crate_are_accepted() {
        let s: ProfileSettings = serde_json::from_str(
            r#"{"enabled": true, "cipherspec": "JWE", "ivparamspec": "x", "blocksizebytes": 16,
                "keyencoding": "base64", "ivencoding": "hex", "allowplaintext": false,
                "allowinsecure": false, "previouskeys": [], "iv": "prefix"}"#,
        )
        .unwrap();
        assert!(s.enable);
        assert_eq!(s.iv, IvMode::Prefix);
        assert_eq!(s.key_encoding, Encoding::Base64);
    }

    #[test]
    fn defaults_are_disabled_aes_utf8_static_block_16() {
        let s: ProfileSettings = serde_json::from_str("{}").unwrap();
        assert!(!s.enable);
        assert_eq!(s.algorithm, "AES");
        assert_eq!(s.block_size_bytes, 16);
        assert_eq!(s.iv, IvMode::Static);
        assert_eq!(s.key_encoding, Encoding::Utf8);
    }

    #[test]
    fn unknown_field_is_refused() {
        let e = serde_json::from_str::<ProfileSettings>(r#"{"cipher": "AES"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn debug_never_prints_keys() {
        let s: ProfileSettings = serde_json::from_str(
            r#"{"key": "SUPERSECRETKEY16", "previous_keys": [{"key": "OLDSECRETKEY0016"}]}"#,
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("SUPERSECRET") && !dbg.contains("OLDSECRET"),
            "{dbg}"
        );
        assert!(dbg.contains("REDACTED"));
    }
}
