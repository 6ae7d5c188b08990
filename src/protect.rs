//! Data protection at rest: images are decoded once, checked (size, JPEG/PNG magic bytes) and sealed; personal
//! canonical fields are sealed as one JSON object; the document number gets a keyed hash for exact search.
//! Every blob is AES-256-GCM with a fresh nonce, carries its key id, and is bound by associated data to its
//! submission (and image kind), so a blob moved to another row fails to open. Reads `[storage]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use kyc_crypto::at_rest::SealedBlob;

use crate::config::{ImagePolicy, StorageKeys, StorageSettings};
use crate::payload::PayloadError;
use crate::submission::{Reference, SealedImage};

/// Keys and policy, built once at start.
#[derive(Debug)]
pub struct Protection {
    /// Data and search keys.
    pub keys: StorageKeys,
    /// Keep or drop images.
    pub images: ImagePolicy,
    /// Largest decoded image.
    pub max_image_bytes: usize,
    /// Keep the decrypted request body (sealed) as image kind `raw_payload`.
    pub keep_raw_payload: bool,
    /// The audit chain's keys, derived once here (every append needs them).
    audit: crate::store::audit_log::AuditKey,
}

/// Sealing or opening failed (a wrong or missing key, or a blob that is not where it was sealed).
#[derive(Debug, thiserror::Error)]
#[error("stored data could not be opened or sealed: {0}")]
pub struct ProtectError(String);

impl Protection {
    /// Decodes the keys from `[storage]`; refuses to start without them.
    pub fn from_settings(
        storage: &StorageSettings,
    ) -> Result<Protection, crate::config::ConfigError> {
        let keys = storage.keys()?;
        Ok(Protection {
            audit: audit_key(&keys),
            keys,
            images: storage.images,
            max_image_bytes: storage.max_image_bytes,
            keep_raw_payload: storage.keep_raw_payload,
        })
    }

    /// Decodes and checks one image; seals it unless the policy drops images.
    pub fn image(
        &self,
        reference: &Reference,
        kind: &str,
        base64_text: &str,
    ) -> Result<Option<SealedImage>, PayloadError> {
        let invalid = |message: String| PayloadError::Invalid {
            path: format!("images.{kind}"),
            message,
        };
        let bytes =
            decode_image(base64_text).ok_or_else(|| invalid("is not valid base64".into()))?;
        if bytes.len() > self.max_image_bytes {
            return Err(invalid(format!(
                "is larger than {} bytes",
                self.max_image_bytes
            )));
        }
        let content_type =
            sniff(&bytes).ok_or_else(|| invalid("is not a JPEG or PNG image".into()))?;
        if self.images == ImagePolicy::Drop {
            return Ok(None);
        }
        self.seal_image(reference, kind, content_type, &bytes)
            .map(Some)
            .map_err(|e| invalid(format!("could not be sealed ({e})")))
    }

    /// Seals the decrypted request body when `keep_raw_payload` is on.
    pub fn raw_payload(
        &self,
        reference: &Reference,
        body: &[u8],
    ) -> Result<Option<SealedImage>, ProtectError> {
        if !self.keep_raw_payload {
            return Ok(None);
        }
        self.seal_image(reference, "raw_payload", "application/json", body)
            .map(Some)
    }

    /// Seals image bytes (or the kept raw payload) of `reference` under the active key.
    pub fn seal_image(
        &self,
        reference: &Reference,
        kind: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<SealedImage, ProtectError> {
        let blob = self
            .keys
            .data
            .seal(bytes, image_aad(reference, kind).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))?;
        Ok(SealedImage {
            kind: kind.to_string(),
            content_type: content_type.to_string(),
            byte_len: bytes.len(),
            blob,
        })
    }

    /// Opens a stored image of `reference`.
    pub fn open_image(
        &self,
        reference: &Reference,
        image: &SealedImage,
    ) -> Result<Vec<u8>, ProtectError> {
        self.keys
            .data
            .open(&image.blob, image_aad(reference, &image.kind).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// Seals the personal fields of a record (nothing when there are none).
    pub fn seal_fields(
        &self,
        reference: &Reference,
        pii: &Map<String, Value>,
    ) -> Result<Option<SealedBlob>, ProtectError> {
        if pii.is_empty() {
            return Ok(None);
        }
        let plain = Value::Object(pii.clone()).to_string();
        self.keys
            .data
            .seal(plain.as_bytes(), fields_aad(reference).as_bytes())
            .map(Some)
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// Opens the personal fields of a record (empty when there are none, or after erasure).
    pub fn open_fields(
        &self,
        reference: &Reference,
        sealed: Option<&SealedBlob>,
    ) -> Result<Map<String, Value>, ProtectError> {
        let Some(blob) = sealed else {
            return Ok(Map::new());
        };
        let plain = self
            .keys
            .data
            .open(blob, fields_aad(reference).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))?;
        match serde_json::from_slice(&plain) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ProtectError("sealed fields are not a JSON object".into())),
        }
    }

    /// All canonical fields of a stored record: its public fields (a JSON object as stored) merged with the
    /// opened personal ones.
    pub fn record_fields(
        &self,
        reference: &Reference,
        public_fields: &str,
        sealed: Option<&SealedBlob>,
    ) -> Result<Map<String, Value>, ProtectError> {
        let mut fields = match serde_json::from_str(public_fields) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ProtectError("stored fields are not a JSON object".into())),
        };
        fields.extend(self.open_fields(reference, sealed)?);
        Ok(fields)
    }

    /// HMAC-SHA256 under the search key over `parts` in order.
    fn search_hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac32(&self.keys.search[..], parts)
    }

    /// The stable pseudonym that replaces an erased user id: keyed, so it cannot be reversed by guessing ids
    /// without the search key, and the same for every erasure of that subject.
    pub fn subject_pseudonym(&self, user_id: &str) -> String {
        let mac = self.search_hmac(&[b"subject:", user_id.as_bytes()]);
        format!("erased-{}", &hex::encode(mac)[..24])
    }

    /// Seals a console account's TOTP secret, bound to the account.
    pub fn seal_totp(&self, username: &str, secret: &[u8]) -> Result<SealedBlob, ProtectError> {
        self.keys
            .data
            .seal(secret, totp_aad(username).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// Opens a console account's TOTP secret.
    pub fn open_totp(&self, username: &str, sealed: &SealedBlob) -> Result<Vec<u8>, ProtectError> {
        self.keys
            .data
            .open(sealed, totp_aad(username).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// Seals a quarantined request body, bound to its quarantine entry.
    pub fn seal_quarantine(&self, id: &str, body: &[u8]) -> Result<SealedBlob, ProtectError> {
        self.keys
            .data
            .seal(body, quarantine_aad(id).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// Opens a quarantined request body.
    pub fn open_quarantine(&self, id: &str, sealed: &SealedBlob) -> Result<Vec<u8>, ProtectError> {
        self.keys
            .data
            .open(sealed, quarantine_aad(id).as_bytes())
            .map_err(|e| ProtectError(e.to_string()))
    }

    /// HMAC-SHA256 (hex) of a reviewer's note, for its audit event.
    pub fn note_hmac(&self, note: &str) -> String {
        hex::encode(self.search_hmac(&[b"review-note:", note.as_bytes()]))
    }

    /// The audit chain's MAC key, derived from the search key (domain-separated), with the checkpoints' key.
    pub fn audit_key(&self) -> crate::store::audit_log::AuditKey {
        self.audit.clone()
    }

    /// Key of the audit retention checkpoints' MAC, derived from the search key (domain-separated).
    pub fn checkpoint_key(&self) -> [u8; 32] {
        *self.audit.checkpoint_key()
    }

    /// HMAC-SHA256 (hex) of a document number, normalised to upper-case letters and digits.
    pub fn document_number_hmac(&self, number: &str) -> String {
        let normalised: String = number
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect();
        hex::encode(self.search_hmac(&[normalised.as_bytes()]))
    }
}

impl crate::store::rotation::Resealer for Protection {
    fn active_key_id(&self) -> &str {
        self.keys.data.active_key_id()
    }

    fn audit_key(&self) -> crate::store::audit_log::AuditKey {
        Protection::audit_key(self)
    }

    fn reseal_image(
        &self,
        reference: &Reference,
        image: &SealedImage,
    ) -> Result<SealedImage, String> {
        let plain = self
            .open_image(reference, image)
            .map_err(|e| e.to_string())?;
        self.seal_image(reference, &image.kind, &image.content_type, &plain)
            .map_err(|e| e.to_string())
    }

    fn reseal_fields(
        &self,
        reference: &Reference,
        fields: &SealedBlob,
    ) -> Result<SealedBlob, String> {
        let open = self
            .open_fields(reference, Some(fields))
            .map_err(|e| e.to_string())?;
        self.seal_fields(reference, &open)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "sealed personal fields opened to nothing".to_string())
    }
}

/// Associated data of an image blob: moving it to another submission or kind makes it fail to open.
pub fn image_aad(reference: &Reference, kind: &str) -> String {
    format!("kyc-receiver/image/v1/{reference}/{kind}")
}

/// HMAC-SHA256 under `key` over `parts` in order. The key is always 32 bytes, which HMAC accepts, so the
/// constructor cannot fail; the zero fallback only satisfies the type.
fn hmac32(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
        for part in parts {
            mac.update(part);
        }
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// The audit chain's keys: the configured ones (active first), else one derived from the search key; with the
/// retention checkpoints' key, also derived from the search key.
fn audit_key(keys: &StorageKeys) -> crate::store::audit_log::AuditKey {
    use crate::store::audit_log::AuditKey;
    let checkpoint = hmac32(&keys.search[..], &[b"kyc-receiver/audit-checkpoint/v1"]);
    let mut configured = keys.audit.iter().map(|(id, k)| (id.clone(), **k));
    match configured.next() {
        Some(active) => AuditKey::configured(active, configured.collect(), checkpoint),
        None => AuditKey::new(
            hmac32(&keys.search[..], &[b"kyc-receiver/audit-mac/v1"]),
            checkpoint,
        ),
    }
}

/// Associated data of a quarantined body.
pub fn quarantine_aad(id: &str) -> String {
    format!("kyc-receiver/quarantine/v1/{id}")
}

/// Associated data of a console account's sealed TOTP secret.
fn totp_aad(username: &str) -> String {
    format!("kyc-receiver/console-totp/v1/{username}")
}

/// Associated data of the sealed personal fields.
pub fn fields_aad(reference: &Reference) -> String {
    format!("kyc-receiver/fields/v1/{reference}")
}

/// Standard base64, padding optional, MIME line breaks and a `data:…;base64,` prefix tolerated.
fn decode_image(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let text = match text.strip_prefix("data:") {
        Some(rest) => rest.split_once(',')?.1,
        None => text,
    };
    let compact: String;
    let text = if text.contains(['\r', '\n']) {
        compact = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        compact.as_str()
    } else {
        text
    };
    STANDARD_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) mod tests;
