//! `[storage]`: what is kept of a submission and how it is protected at rest. Images and personal canonical
//! fields are sealed with AES-256-GCM under `storage.keys` (one active, older ones kept for reading); the
//! document number is searchable through an HMAC under `storage.search_key`. Reads `[storage]`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::ConfigError;
use kyc_crypto::at_rest::DataKeyring;

/// What happens to submitted images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImagePolicy {
    /// Checked, then stored encrypted.
    #[default]
    Encrypt,
    /// Checked, then not kept at all.
    Drop,
}

/// One data-encryption key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataKeySettings {
    /// Stored beside every blob it seals.
    pub id: String,
    /// Base64 of 32 random bytes (`kyc-receiver keys generate`).
    pub key: SecretString,
}

impl std::fmt::Debug for DataKeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeySettings")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `encrypt` (default) or `drop`.
    pub images: ImagePolicy,
    /// Largest accepted decoded image.
    pub max_image_bytes: usize,
    /// Keep the decrypted request body too (sealed like an image).
    pub keep_raw_payload: bool,
    /// Id of the key that seals new data.
    pub active_key_id: String,
    /// The active key given alone (e.g. from `KYC__STORAGE__ACTIVE_KEY`), in addition to `keys`.
    pub active_key: Option<SecretString>,
    /// Data keys: the active one and older ones still needed for reading.
    pub keys: Vec<DataKeySettings>,
    /// Base64 of 32 random bytes keying the document-number HMAC.
    pub search_key: Option<SecretString>,
    /// Keys that MAC the audit trail (base64 of 32 random bytes each). Without any, the audit key is derived
    /// from `search_key`. Keep every key that MAC'd events still in the trail listed.
    pub audit_keys: Vec<DataKeySettings>,
    /// Id of the audit key that MACs new events (required with `audit_keys`).
    pub audit_active_key_id: Option<String>,
    /// The active audit key given alone (e.g. from `KYC__STORAGE__AUDIT_ACTIVE_KEY`), in addition to `audit_keys`.
    pub audit_active_key: Option<SecretString>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            images: ImagePolicy::Encrypt,
            max_image_bytes: 10 * 1024 * 1024,
            keep_raw_payload: false,
            active_key_id: "k1".into(),
            active_key: None,
            keys: Vec::new(),
            search_key: None,
            audit_keys: Vec::new(),
            audit_active_key_id: None,
            audit_active_key: None,
        }
    }
}

/// The keys the store seals and searches with.
#[derive(Debug)]
pub struct StorageKeys {
    /// Seals and opens images and personal fields.
    pub data: DataKeyring,
    /// Keys the document-number HMAC.
    pub search: Zeroizing<[u8; 32]>,
    /// Configured audit keys (id, key), the active one first; empty: derived from the search key.
    pub audit: Vec<(String, Zeroizing<[u8; 32]>)>,
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl StorageSettings {
    /// Decodes the keys. Personal fields are always sealed, so a key is required whatever the image policy:
    /// the service refuses to start rather than store personal data in the clear.
    pub fn keys(&self) -> Result<StorageKeys, ConfigError> {
        let mut entries = Vec::new();
        if let Some(active) = &self.active_key {
            let key = DataKeyring::decode_key(&self.active_key_id, active)
                .map_err(|e| invalid("storage.active_key", e.to_string()))?;
            entries.push((self.active_key_id.clone(), key));
        }
        for entry in &self.keys {
            let key = DataKeyring::decode_key(&entry.id, &entry.key)
                .map_err(|e| invalid("storage.keys", e.to_string()))?;
            entries.push((entry.id.clone(), key));
        }
        if entries.is_empty() {
            return Err(invalid(
                "storage.keys",
                "no data key: images and personal fields are stored encrypted; add one made with \
                 `kyc-receiver keys generate` (or set KYC__STORAGE__ACTIVE_KEY)",
            ));
        }
        let data = DataKeyring::new(entries, &self.active_key_id)
            .map_err(|e| invalid("storage.active_key_id", e.to_string()))?;
        let search = self
            .search_key
            .as_ref()
            .ok_or_else(|| invalid("storage.search_key", "required (base64 of 32 random bytes)"))
            .and_then(|k| {
                DataKeyring::decode_key("search", k)
                    .map_err(|e| invalid("storage.search_key", e.to_string()))
            })?;
        let mut audit = Vec::new();
        if let Some(active) = &self.audit_active_key {
            let id = self.audit_active_key_id.clone().ok_or_else(|| {
                invalid(
                    "storage.audit_active_key_id",
                    "required with storage.audit_active_key",
                )
            })?;
            let key = DataKeyring::decode_key(&id, active)
                .map_err(|e| invalid("storage.audit_active_key", e.to_string()))?;
            audit.push((id, key));
        }
        for entry in &self.audit_keys {
            let key = DataKeyring::decode_key(&entry.id, &entry.key)
                .map_err(|e| invalid("storage.audit_keys", e.to_string()))?;
            if !audit.iter().any(|(id, _)| *id == entry.id) {
                audit.push((entry.id.clone(), key));
            }
        }
        if !audit.is_empty() {
            let active = self.audit_active_key_id.as_deref().ok_or_else(|| {
                invalid(
                    "storage.audit_active_key_id",
                    "required with storage.audit_keys",
                )
            })?;
            let at = audit
                .iter()
                .position(|(id, _)| id == active)
                .ok_or_else(|| {
                    invalid(
                        "storage.audit_active_key_id",
                        format!("`{active}` is not among storage.audit_keys"),
                    )
                })?;
            audit.swap(0, at);
        }
        Ok(StorageKeys {
            data,
            search,
            audit,
        })
    }

    /// True when any configured data key or the search key is the development material shipped in
    /// kyc-receiver.toml (compared by value, whatever its id).
    pub fn uses_dev_keys(&self) -> bool {
        let dev = &*super::shipped::DEV;
        let same = |a: &str, b: &str| {
            bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
        };
        self.keys.iter().any(|k| {
            dev.data_keys
                .iter()
                .any(|d| same(k.key.expose_secret().trim(), d))
        }) || self.search_key.as_ref().is_some_and(|s| {
            dev.search_key
                .as_deref()
                .is_some_and(|d| same(s.expose_secret().trim(), d))
        })
    }
}
