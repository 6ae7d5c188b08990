//! The simulator's configuration, shaped like the upstream's `kyc.service.api.config`
//! (docs/ditto-protocol.md §2, §4, §5, §7.2): a `--config` TOML file whose keys have the same names as the
//! command-line flags (`token_url` for `--token-url`, `header` for `--header`, …), plus
//! `[encryption.request]` / `[encryption.response]` with the receiver's keys and the upstream's camelCase
//! aliases ([`ProfileSettings`]), and `[locators]`. Flags given on the command line win over the file.
//!
//! ```toml
//! token_url = "https://127.0.0.1:8443/oauth/token"
//! client_id = "ditto"
//! client_secret = "…"
//! submit_url = "https://127.0.0.1:8443/kyc"
//! header = ["apiversion: v2"]
//! ca = "certs/server.pem"
//!
//! [encryption.request]
//! enable = true
//! cipherSpec = "AES/GCM/NoPadding"
//! key = "…"
//! keyEncoding = "base64"
//! iv = "prefix"
//! ```

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::confirm::Locators;
use super::token::TokenAuth;
use kyc_crypto::ProfileSettings;

/// The header value that asks for a fetched token (docs/ditto-protocol.md §2).
pub const TOKEN_PLACEHOLDER: &str = "__ACCESS_TOKEN_PLACEHOLDER__";

/// Everything `kyc-upstream` reads from flags and `--config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// OAuth2 token endpoint; when set, requests carry `Authorization: Bearer <fetched token>`.
    #[serde(alias = "token-url", alias = "tokenUrl")]
    pub token_url: Option<String>,
    /// Client id for the token request.
    #[serde(alias = "client-id", alias = "clientId")]
    pub client_id: Option<String>,
    /// Client secret for the token request.
    #[serde(alias = "client-secret", alias = "clientSecret")]
    pub client_secret: Option<SecretString>,
    /// Scopes to ask for (none: the client's default scopes).
    pub scope: Vec<String>,
    /// Client authentication at the token endpoint: `request-body` (default) or `basic`.
    #[serde(alias = "token-auth", alias = "tokenAuth")]
    pub token_auth: TokenAuth,
    /// The receiver's submission URL.
    #[serde(alias = "submit-url", alias = "submitUrl", alias = "url")]
    pub submit_url: Option<String>,
    /// Extra headers, `Name: value`; a static `Authorization` here replaces the token.
    #[serde(alias = "headers")]
    pub header: Vec<String>,
    /// PEM file with the CA (or self-signed certificate) to trust.
    pub ca: Option<PathBuf>,
    /// Accept any certificate and host name (development only).
    pub insecure: bool,
    /// Whole-request timeout in seconds.
    #[serde(alias = "timeout-secs")]
    pub timeout_secs: u64,
    /// Where the confirmation's values are found.
    pub locators: Locators,
    /// Request encryption and response decryption.
    pub encryption: EncryptionBlocks,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            token_url: None,
            client_id: None,
            client_secret: None,
            scope: Vec::new(),
            token_auth: TokenAuth::default(),
            submit_url: None,
            header: Vec::new(),
            ca: None,
            insecure: false,
            timeout_secs: 30,
            locators: Locators::default(),
            encryption: EncryptionBlocks::default(),
        }
    }
}

/// `[encryption.request]` (the upstream's `requestEncryption`) and `[encryption.response]`
/// (its `responseDecryption`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncryptionBlocks {
    /// How request bodies are sealed.
    #[serde(alias = "requestEncryption")]
    pub request: ProfileSettings,
    /// How response bodies are opened.
    #[serde(alias = "responseDecryption")]
    pub response: ProfileSettings,
}

/// The configuration is unusable; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings (the message names the key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, e.g. `header`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl UpstreamSettings {
    /// Reads a `--config` file.
    pub fn from_file(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| SettingsError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses settings from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// Splits `Name: value` (the value may contain colons; spaces around both are trimmed).
pub fn parse_header(line: &str) -> Result<(String, String), SettingsError> {
    let invalid = |message: &str| SettingsError::Invalid {
        key: "header",
        message: message.to_owned(),
    };
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| invalid("expected `Name: value`"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(invalid("header name must be letters, digits, `-` or `_`"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_crypto::Encoding;

    #[test]
    fn a_file_with_flag_names_and_upstream_blocks_parses() {
        let s = UpstreamSettings::from_toml(
            r#"
            token_url = "https://127.0.0.1:8443/oauth/token"
            client_id = "ditto"
            client_secret = "s"
            submit_url = "https://127.0.0.1:8443/kyc"
            header = ["apiversion: v2"]
            insecure = true
            [locators]
            resultLocator = "result"
            [encryption.requestEncryption]
            enable = true
            cipherSpec = "AES/CBC/PKCS5Padding"
            ivParamSpec = "0123456789abcdef"
            key = "0123456789abcdef"
            [encryption.response]
            enable = true
            cipher_spec = "JWE"
            key_encoding = "base64"
            "#,
        )
        .unwrap();
        assert_eq!(s.client_id.as_deref(), Some("ditto"));
        assert!(s.insecure && s.encryption.request.enable && s.encryption.response.enable);
        assert_eq!(s.encryption.request.cipher_spec, "AES/CBC/PKCS5Padding");
        assert_eq!(s.encryption.response.key_encoding, Encoding::Base64);
        assert_eq!(s.timeout_secs, 30);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = UpstreamSettings::from_toml("submit_urll = \"x\"").unwrap_err();
        assert!(e.contains("submit_urll"), "{e}");
    }

    #[test]
    fn headers_split_at_the_first_colon() {
        assert_eq!(
            parse_header("Authorization: Basic YTpi").unwrap(),
            ("Authorization".into(), "Basic YTpi".into())
        );
        assert_eq!(parse_header("x-trace:a:b").unwrap().1, "a:b");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }
}
