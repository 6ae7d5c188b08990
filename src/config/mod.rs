//! Configuration: built-in defaults (`defaults.toml`), then the TOML file (`--config`, `KYC_CONFIG`, or the shipped
//! `kyc-receiver.toml`), then environment variables `KYC__SECTION__KEY`; later layers win. Unknown keys are refused
//! by name. `Settings::validate` checks what serde cannot (URL schemes, loopback rules) and names the key at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret as _;
use serde::Deserialize;

use kyc_crypto::{CipherProfile, ProfileSettings};

use crate::auth::AuthSettings;

mod audit;
mod console;
mod database;
mod quarantine;
mod receipts;
mod server;
mod shipped;
mod storage;
mod webhooks;

pub use audit::{AuditSettings, MAX_PURPOSE_LEN, PurposeError};
pub use console::{ConsoleSettings, OidcSettings, ROLES as CONSOLE_ROLES};
pub use database::{BadDatabaseUrl, DatabaseSettings, DbUrl};
pub use quarantine::QuarantineSettings;
pub use receipts::ReceiptSettings;
pub use server::ServerSettings;
pub use storage::{DataKeySettings, ImagePolicy, StorageKeys, StorageSettings};
pub use webhooks::{
    EVENT_KINDS, EndpointSettings, EventsSettings, WebhooksSettings, decode_secret, is_loopback,
    is_private,
};

const DEFAULTS: &str = include_str!("defaults.toml");

/// The file used when neither `--config` nor `KYC_CONFIG` names one.
pub const SHIPPED_CONFIG: &str = "kyc-receiver.toml";

/// Everything the service reads from configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP listener, TLS and request limits.
    pub server: ServerSettings,
    /// Storage backend and write path.
    pub database: DatabaseSettings,
    /// Mapping files and their reload.
    pub mappings: MappingsSettings,
    /// Who may call: OAuth2 token endpoint and clients, external issuers, Basic.
    #[serde(default)]
    pub auth: AuthSettings,
    /// What is kept of a submission and how it is protected at rest.
    #[serde(default)]
    pub storage: StorageSettings,
    /// Per-client submission rate limits.
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// How long images, records and audit events are kept.
    pub retention: RetentionSettings,
    /// AES profiles mirroring the upstream's `requestEncryption` / `responseDecryption` blocks.
    #[serde(default)]
    pub encryption: EncryptionSettings,
    /// Rules for reads of personal data (`require_purpose`).
    #[serde(default)]
    pub audit: AuditSettings,
    /// The reviewer and auditor console.
    #[serde(default)]
    pub console: ConsoleSettings,
    /// Refused submissions kept for replay.
    #[serde(default)]
    pub quarantine: QuarantineSettings,
    /// Decision events (outbox and change feed).
    #[serde(default)]
    pub events: EventsSettings,
    /// Webhook endpoints the decision events are delivered to.
    #[serde(default)]
    pub webhooks: WebhooksSettings,
    /// Signed receipts for the upstream.
    #[serde(default)]
    pub receipts: ReceiptSettings,
}

/// `[encryption.request]` and `[encryption.response]`; both off unless enabled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionSettings {
    /// How the upstream encrypts the submission body (its `requestEncryption`).
    #[serde(default)]
    pub request: ProfileSettings,
    /// How we encrypt the confirmation for the upstream to decrypt (its `responseDecryption`).
    #[serde(default)]
    pub response: ProfileSettings,
}

/// The two cipher profiles built from `[encryption]`, with start-up warnings.
#[derive(Debug, Clone)]
pub struct CipherProfiles {
    /// Opens request bodies.
    pub request: CipherProfile,
    /// Seals confirmations.
    pub response: CipherProfile,
    /// Weak but allowed choices, each naming its key.
    pub warnings: Vec<String>,
}

/// `[rate_limit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Sustained submissions per second per client; 0 turns limiting off.
    pub per_second: f64,
    /// Submissions a client may send at once after being idle.
    pub burst: f64,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_second: 0.0,
            burst: 0.0,
        }
    }
}

/// `[retention]`: ages in days; 0 keeps forever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Images are deleted this many days after their submission arrived.
    pub images_days: u32,
    /// Records (reviews and images with them) are deleted after this many days.
    pub records_days: u32,
    /// Audit events are removed after this many days, behind a checkpoint; keep it at least `records_days`.
    pub audit_days: u32,
    /// How often `serve` runs retention.
    pub interval_secs: u64,
    /// Rows per transaction.
    pub batch_size: i64,
}

impl RetentionSettings {
    /// True when anything expires at all.
    pub fn enabled(&self) -> bool {
        self.images_days > 0 || self.records_days > 0 || self.audit_days > 0
    }
}

/// `[mappings]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingsSettings {
    /// Directory of `*.toml` mapping files (`*.example.toml` are skipped).
    pub dir: PathBuf,
    /// Watch the directory and apply valid changes while running (SIGHUP reloads at once either way).
    pub reload: bool,
    /// How often the directory is checked for changes.
    pub poll_interval_ms: u64,
}

/// Loading or validating configuration failed; the message names the file or key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed, or a key is unknown or of the wrong type.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// The `[auth]` section is invalid; names the key.
    #[error("{0}")]
    Auth(String),
    /// An encryption profile is unusable; the message names the key (never its value).
    #[error("{0}")]
    Crypto(String),
    /// A value is well-formed but not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted key, e.g. `server.bind`.
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl Settings {
    /// Loads defaults, then `file` (if given, it must exist; otherwise the shipped file if present), then the
    /// environment, and validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        builder = match file {
            Some(path) => builder.add_source(config::File::from(path).required(true)),
            None => builder.add_source(config::File::with_name(SHIPPED_CONFIG).required(false)),
        };
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("KYC")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the rules that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bind: SocketAddr = self.server.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "server.bind",
            message: format!("`{}` is not host:port ({e})", self.server.bind),
        })?;
        if !self.server.tls && !bind.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                key: "server.tls",
                message: "plain HTTP is only allowed on a loopback address".into(),
            });
        }
        if !self.server.submit_path.starts_with('/') {
            return Err(ConfigError::Invalid {
                key: "server.submit_path",
                message: "must start with `/`".into(),
            });
        }
        if self.server.inflight_body_bytes < 65536
            || self.server.inflight_body_bytes > tokio::sync::Semaphore::MAX_PERMITS.min(1 << 31)
        {
            return Err(ConfigError::Invalid {
                key: "server.inflight_body_bytes",
                message: "must be between 65536 and 2147483648".into(),
            });
        }
        self.server.validate_limits()?;
        self.console.validate()?;
        self.webhooks.validate()?;
        if !self.webhooks.endpoints.is_empty() && !self.events.enabled {
            return Err(ConfigError::Invalid {
                key: "events.enabled",
                message: "webhook endpoints are configured but no events are written".into(),
            });
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "server.max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        DbUrl::parse(&self.database.url).map_err(|e| ConfigError::Invalid {
            key: "database.url",
            message: e.to_string(),
        })?;
        if self.database.pool_size < 2 {
            return Err(ConfigError::Invalid {
                key: "database.pool_size",
                message: "must be at least 2 (writers and readers share the pool)".into(),
            });
        }
        let auth_warnings = self
            .auth
            .validate()
            .map_err(|e| ConfigError::Auth(e.to_string()))?;
        for w in auth_warnings {
            log::warn!("{w}");
        }
        if !bind.ip().is_loopback() && self.storage.uses_dev_keys() {
            return Err(ConfigError::Invalid {
                key: "storage.keys",
                message: format!(
                    "development data or search keys (the values shipped in kyc-receiver.toml) are in \
                     use; replace them before listening on {}",
                    self.server.bind
                ),
            });
        }
        if !bind.ip().is_loopback()
            && let Some(i) = self.auth.clients.iter().position(|c| {
                c.dev_secret.is_some()
                    || shipped::DEV
                        .client_hashes
                        .iter()
                        .any(|h| h == c.secret_hash.expose_secret())
            })
        {
            return Err(ConfigError::Invalid {
                key: "auth.clients",
                message: format!(
                    "client `{}` uses a development secret (dev_secret, or the hash shipped in \
                     kyc-receiver.toml); remove it before listening on {}",
                    self.auth.clients[i].client_id, self.server.bind
                ),
            });
        }
        let r = &self.retention;
        if r.audit_days > 0 && (r.audit_days < r.records_days || r.records_days == 0) {
            return Err(ConfigError::Invalid {
                key: "retention.audit_days",
                message: "audit events must be kept at least as long as the records they describe \
                          (audit_days >= records_days, and records_days > 0)"
                    .into(),
            });
        }
        if self.database.batch_max_rows == 0 || self.database.queue_depth == 0 {
            return Err(ConfigError::Invalid {
                key: "database.batch_max_rows",
                message: "batch_max_rows and queue_depth must be positive".into(),
            });
        }
        Ok(())
    }

    /// Validates keys, IVs and specs of both encryption profiles.
    pub fn cipher_profiles(&self) -> Result<CipherProfiles, ConfigError> {
        let (request, mut warnings) =
            CipherProfile::from_settings(&self.encryption.request, "encryption.request")
                .map_err(|e| ConfigError::Crypto(e.to_string()))?;
        let (response, more) =
            CipherProfile::from_settings(&self.encryption.response, "encryption.response")
                .map_err(|e| ConfigError::Crypto(e.to_string()))?;
        warnings.extend(more);
        Ok(CipherProfiles {
            request,
            response,
            warnings,
        })
    }

    /// The socket address to bind.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "server.bind",
            message: format!("{e}"),
        })
    }
}

#[cfg(test)]
mod tests;
