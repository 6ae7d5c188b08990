//! The development secrets of the shipped `kyc-receiver.toml`, read from that very file at compile time, so
//! the refusal to listen beyond loopback with them compares values, not names: a development key under
//! another id, the development search key, or a development client whose `dev_secret` line was deleted is
//! still development material.

use std::sync::LazyLock;

use serde::Deserialize;

const SHIPPED: &str = include_str!("../../kyc-receiver.toml");

/// The secret values of the shipped file (never logged or shown).
#[derive(Debug, Default)]
pub struct DevMaterial {
    /// Data keys (base64 text as configured).
    pub data_keys: Vec<String>,
    /// The search key.
    pub search_key: Option<String>,
    /// argon2 hashes of the development client secrets.
    pub client_hashes: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    storage: Storage,
    #[serde(default)]
    auth: Auth,
}

#[derive(Deserialize, Default)]
struct Storage {
    #[serde(default)]
    keys: Vec<Key>,
    search_key: Option<String>,
}

#[derive(Deserialize)]
struct Key {
    key: String,
}

#[derive(Deserialize, Default)]
struct Auth {
    #[serde(default)]
    clients: Vec<Client>,
}

#[derive(Deserialize)]
struct Client {
    secret_hash: String,
}

/// The development material of the shipped file (empty if the file could not be read, which a unit test
/// rules out).
pub static DEV: LazyLock<DevMaterial> = LazyLock::new(|| match toml::from_str::<File>(SHIPPED) {
    Ok(file) => DevMaterial {
        data_keys: file.storage.keys.into_iter().map(|k| k.key).collect(),
        search_key: file.storage.search_key,
        client_hashes: file
            .auth
            .clients
            .into_iter()
            .map(|c| c.secret_hash)
            .collect(),
    },
    Err(_) => DevMaterial::default(),
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_yields_its_development_material() {
        assert_eq!(DEV.data_keys.len(), 1);
        assert!(DEV.search_key.is_some());
        assert_eq!(DEV.client_hashes.len(), 2);
    }
}
