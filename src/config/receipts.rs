//! `[receipts]`: signed receipts for the upstream (see `crate::receipts`). Reads `[receipts]`.

use serde::Deserialize;

/// `[receipts]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceiptSettings {
    /// Add a `KYC-Receipt` header to every 200 of the submission endpoint.
    pub enable: bool,
    /// The Ed25519 key (PEM) that signs receipts.
    pub key_file: std::path::PathBuf,
    /// Create `key_file` when it is missing.
    pub key_generate: bool,
}

impl Default for ReceiptSettings {
    fn default() -> Self {
        ReceiptSettings {
            enable: false,
            key_file: "certs/receipts-ed25519.pem".into(),
            key_generate: true,
        }
    }
}
