//! The `auth` configuration section and its validation.
//!
//! Owns and reads: `auth.modes` (alias `auth.mode`), `auth.issuer`, `auth.audience`, `auth.token_ttl_secs`,
//! `auth.allow_get_token`, `auth.token_path`, `auth.signing.*`, `auth.clients[]`, `auth.jwks.*`,
//! `auth.introspection.*`, `auth.basic[]`.
//!
//! Validation (`AuthSettings::validate`) lives in `settings_validate.rs`.
//!
//! Keys are snake_case only, because the `config` crate may lower-case keys. Every secret (hashes included)
//! is a `SecretString`, so the derived `Debug` prints `[REDACTED]`.

use std::path::PathBuf;
use std::str::FromStr;

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use secrecy::SecretString;
use serde::Deserialize;

/// One way of authenticating callers of protected routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Our own JWTs from our token endpoint.
    Builtin,
    /// JWTs of an external issuer, verified with its JWKS.
    Jwks,
    /// RFC 7662 token introspection at an external authorization server.
    Introspection,
    /// Static HTTP Basic credentials.
    Basic,
}

/// The `auth` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Enabled modes (several may be enabled); default `["builtin"]`.
    #[serde(alias = "mode")]
    pub modes: Vec<AuthMode>,
    /// `iss` of our tokens; default `kyc-receiver`.
    pub issuer: String,
    /// `aud` of our tokens; default `kyc-receiver`.
    pub audience: String,
    /// Lifetime of our tokens; default 3600.
    pub token_ttl_secs: u64,
    /// Accept `GET` with query parameters on the token endpoint; default false (secrets land in access logs).
    pub allow_get_token: bool,
    /// Path of the token endpoint; default `/oauth/token`.
    pub token_path: String,
    /// Signing key of our tokens.
    pub signing: SigningSettings,
    /// OAuth clients of the built-in token endpoint.
    pub clients: Vec<ClientSettings>,
    /// External issuer verified by JWKS (`jwks` mode).
    pub jwks: Option<JwksSettings>,
    /// External RFC 7662 introspection endpoint (`introspection` mode).
    pub introspection: Option<IntrospectionSettings>,
    /// Static Basic credentials (`basic` mode).
    pub basic: Vec<BasicUserSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            modes: vec![AuthMode::Builtin],
            issuer: "kyc-receiver".into(),
            audience: "kyc-receiver".into(),
            token_ttl_secs: 3600,
            allow_get_token: false,
            token_path: "/oauth/token".into(),
            signing: SigningSettings::default(),
            clients: Vec::new(),
            jwks: None,
            introspection: None,
            basic: Vec::new(),
        }
    }
}

/// Signature algorithm of our tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum SigningAlg {
    /// Ed25519 (RFC 8037).
    #[default]
    #[serde(
        rename = "EdDSA",
        alias = "eddsa",
        alias = "Ed25519",
        alias = "ed25519"
    )]
    EdDsa,
    /// ECDSA P-256 with SHA-256 (RFC 7518 §3.4).
    #[serde(rename = "ES256", alias = "es256")]
    Es256,
}

impl SigningAlg {
    /// The JOSE algorithm.
    pub fn jose(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// `auth.signing`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningSettings {
    /// `EdDSA` (default) or `ES256`.
    pub alg: SigningAlg,
    /// PEM private key (PKCS#8, or SEC1 for ES256); default `certs/token-signing-key.pem`.
    pub key_file: PathBuf,
    /// `kid` put in the JWT header; default `key-1`.
    pub key_id: String,
    /// Earlier keys still accepted for verification during rotation.
    pub previous: Vec<PreviousKeySettings>,
    /// Create a fresh key at `key_file` when it does not exist (development; the shipped config sets it).
    pub generate_if_missing: bool,
}

impl Default for SigningSettings {
    fn default() -> Self {
        Self {
            alg: SigningAlg::EdDsa,
            key_file: PathBuf::from("certs/token-signing-key.pem"),
            key_id: "key-1".into(),
            previous: Vec::new(),
            generate_if_missing: false,
        }
    }
}

/// `auth.signing.previous[]`: a retired key, verification only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKeySettings {
    /// Its `kid`.
    pub key_id: String,
    /// Its public key (a private key file is accepted too; only the public half is used).
    pub public_key_file: PathBuf,
}

/// `auth.clients[]`: one OAuth client of the token endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The client id.
    pub client_id: String,
    /// argon2id PHC string of the client secret.
    pub secret_hash: SecretString,
    /// Scopes the client may obtain.
    pub scopes: Vec<String>,
    /// With mutual TLS: the certificate subject this client must present (e.g. `CN=ditto,O=Example`).
    #[serde(default)]
    pub cert_subject: Option<String>,
    /// DEVELOPMENT ONLY: the plain secret matching `secret_hash`, so the service can print working
    /// credentials at start. While any client has one, the service refuses to listen beyond loopback.
    #[serde(default)]
    pub dev_secret: Option<SecretString>,
}

/// `auth.jwks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksSettings {
    /// The issuer's JWKS URL.
    pub url: String,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`; default: `auth.audience`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Accepted `alg` values; default `["RS256", "PS256", "ES256", "EdDSA"]`. HS* are refused.
    #[serde(default = "default_jwks_algorithms")]
    pub algorithms: Vec<String>,
    /// Minimum seconds between two fetches of the JWKS; default 30.
    #[serde(default = "default_refresh_floor")]
    pub refresh_floor_secs: u64,
    /// Clock-skew allowance for `exp`/`nbf`; default 30.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Extra CA (PEM) trusted for an https JWKS URL.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `auth.introspection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSettings {
    /// The RFC 7662 endpoint.
    pub url: String,
    /// Our client id at the authorization server.
    pub client_id: String,
    /// Our client secret there.
    pub client_secret: SecretString,
    /// How long an answer is reused (never past the token's `exp`); default 60, 0 disables caching.
    #[serde(default = "default_cache_secs")]
    pub cache_secs: u64,
    /// When set, an active token whose `aud` is present must contain this value.
    #[serde(default)]
    pub audience: Option<String>,
    /// Extra CA (PEM) trusted for an https endpoint.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// `auth.basic[]`: one static Basic credential.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUserSettings {
    /// The user name (no `:`; RFC 7617 §2).
    pub username: String,
    /// argon2id PHC string of the password.
    pub password_hash: SecretString,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

fn default_jwks_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"]
        .map(String::from)
        .to_vec()
}
fn default_refresh_floor() -> u64 {
    30
}
fn default_leeway() -> u64 {
    30
}
fn default_cache_secs() -> u64 {
    60
}

/// Parses a configured JOSE algorithm, refusing `none` (not a JWS algorithm here) and HS* (a shared secret
/// would let anyone holding the "public" key forge tokens — the classic key-confusion attack).
pub fn parse_allowed_algorithm(name: &str) -> Result<Algorithm, String> {
    let alg = Algorithm::from_str(name).map_err(|_| format!("unknown algorithm {name:?}"))?;
    if alg.family() == AlgorithmFamily::Hmac {
        return Err(format!("{name} is symmetric and never accepted"));
    }
    Ok(alg)
}

impl AuthSettings {
    /// Whether `mode` is enabled.
    pub fn has_mode(&self, mode: AuthMode) -> bool {
        self.modes.contains(&mode)
    }

    /// The configured client `client_id`, if any.
    pub fn client(&self, client_id: &str) -> Option<&ClientSettings> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

#[cfg(test)]
mod tests;
