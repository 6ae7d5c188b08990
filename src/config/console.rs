//! `[console]`: the reviewer and auditor console served under `/console/`, and `[console.oidc]`, the
//! enterprise's OpenID Connect issuer for sign-in. Reads `console.enable`, `idle_minutes`, `max_hours`,
//! `claim_minutes`, `four_eyes`, `oidc.*`.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

/// `[console]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// Serve the console under `/console/` on the main listener.
    pub enable: bool,
    /// Minutes without a request after which a session ends (fractions allowed).
    pub idle_minutes: f64,
    /// Hours after sign-in after which a session ends whatever its activity.
    pub max_hours: f64,
    /// Minutes a reviewer's claim on a case lasts.
    pub claim_minutes: f64,
    /// A reviewer's decision takes effect only when a second, different reviewer confirms it.
    pub four_eyes: bool,
    /// Sign-in through the enterprise's OpenID Connect issuer (besides local accounts).
    pub oidc: Option<OidcSettings>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            enable: true,
            idle_minutes: 15.0,
            max_hours: 8.0,
            claim_minutes: 30.0,
            four_eyes: false,
            oidc: None,
        }
    }
}

/// `[console.oidc]`: the authorization code flow with PKCE against an OpenID Connect issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer (its `/.well-known/openid-configuration` is read at the first sign-in).
    pub issuer: String,
    /// Our client id at the issuer.
    pub client_id: String,
    /// Our client secret (better: `KYC__CONSOLE__OIDC__CLIENT_SECRET`).
    pub client_secret: SecretString,
    /// The console's callback URL as registered at the issuer, e.g.
    /// `https://kyc.example/console/oidc/callback`.
    pub redirect_url: String,
    /// Scopes to ask for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that lists the person's groups or roles.
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// Console role for each group value: `{ "kyc-reviewers" = ["reviewer"], "kyc-dpo" = ["pii", "images"] }`.
    #[serde(default)]
    pub role_map: BTreeMap<String, Vec<String>>,
    /// The label of the sign-in button.
    #[serde(default = "default_label")]
    pub label: String,
    /// PEM file of CAs for the issuer's TLS certificate (default: the system's).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into()]
}

fn default_roles_claim() -> String {
    "groups".into()
}

fn default_label() -> String {
    "Sign in with single sign-on".into()
}

/// The console roles (`users add --roles`, `console.oidc.role_map`).
pub const ROLES: [&str; 5] = ["auditor", "reviewer", "pii", "images", "admin"];

impl ConsoleSettings {
    /// Checks the numbers, the OIDC block and every role name; names the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    message: "must be a positive number".into(),
                })
            }
        };
        positive("console.idle_minutes", self.idle_minutes)?;
        positive("console.max_hours", self.max_hours)?;
        positive("console.claim_minutes", self.claim_minutes)?;
        if let Some(oidc) = &self.oidc {
            for (key, url) in [
                ("console.oidc.issuer", &oidc.issuer),
                ("console.oidc.redirect_url", &oidc.redirect_url),
            ] {
                let local =
                    url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost");
                if !(url.starts_with("https://") || local) {
                    return Err(ConfigError::Invalid {
                        key,
                        message: "must be an https:// URL (http:// only on loopback)".into(),
                    });
                }
            }
            if oidc.client_id.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "console.oidc.client_id",
                    message: "must not be empty".into(),
                });
            }
            for roles in oidc.role_map.values() {
                if let Some(bad) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
                    return Err(ConfigError::Invalid {
                        key: "console.oidc.role_map",
                        message: format!("`{bad}` is not a role; roles are {}", ROLES.join(", ")),
                    });
                }
            }
        }
        Ok(())
    }
}
