//! The domain value of one submission on its way from intake to storage, and the [`Reference`] that names a
//! stored submission everywhere (answers, paths, rows, audit events). `intake` produces a [`NewSubmission`]
//! with its personal fields and images already sealed; `store` turns it into rows and owns the content
//! hash. Nothing here knows HTTP or SQL.

use chrono::{DateTime, Utc};
use kyc_crypto::at_rest::SealedBlob;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::decision::Decision;

/// Longest reference accepted from a client (ours are 36 characters).
const MAX_REFERENCE_LEN: usize = 128;

/// Our reference for a stored submission (`KYC-` and a UUID v7 in hex), returned to the upstream as
/// `reference_number`. Time-ordered, so references sort by arrival.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[serde(transparent)]
#[schema(value_type = String, example = "KYC-019ac3f2b1a07d3e8c55f0a1b2c3d4e5")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Reference(String);

impl Reference {
    /// A fresh reference (UUID v7: time-ordered and unique).
    pub fn new() -> Reference {
        Reference(format!("KYC-{}", uuid::Uuid::now_v7().simple()))
    }

    /// A reference given by a client (a path segment, a filter, a command-line argument): 1 to 128
    /// characters, none of them a control character. Anything else cannot name a stored submission.
    pub fn parse(text: &str) -> Option<Reference> {
        let ok = !text.is_empty()
            && text.chars().count() <= MAX_REFERENCE_LEN
            && !text.chars().any(char::is_control);
        ok.then(|| Reference(text.to_string()))
    }

    /// A reference read from storage, taken as stored.
    pub(crate) fn from_stored(text: String) -> Reference {
        Reference(text)
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Reference {
    fn default() -> Self {
        Reference::new()
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Reference {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Reference {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Reference {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl AsRef<str> for Reference {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One image of a submission, decoded, checked and sealed (AES-256-GCM, bound to its reference and kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedImage {
    /// Kind from the mapping (`selfie`, `front`, …; `raw_payload` for the kept request body).
    pub kind: String,
    /// `image/jpeg` or `image/png` (checked by magic bytes), or `application/json` for `raw_payload`.
    pub content_type: String,
    /// Size of the decoded bytes.
    pub byte_len: usize,
    /// The sealed bytes.
    pub blob: SealedBlob,
}

/// A submission ready to store: everything computed before the database is touched.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    /// Our reference.
    pub reference: Reference,
    /// The upstream's idempotency key (or `digest:…` when the payload carries none).
    pub requester_id: String,
    /// The upstream's user id.
    pub user_id: String,
    /// The upstream's app id.
    pub app_id: Option<String>,
    /// The authenticated client that pushed it.
    pub client_id: Option<String>,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
    /// `kyc_info.document.version`.
    pub document_version: Option<String>,
    /// The document status as sent.
    pub document_status: Option<String>,
    /// The mapping that produced the record.
    pub mapping_name: String,
    /// SHA-256 (hex) of that mapping's file.
    pub mapping_hash: String,
    /// The automatic decision with its reasons.
    pub decision: Decision,
    /// Canonical fields that are not personal data.
    pub public_fields: Map<String, Value>,
    /// Names of the personal (`pii`) fields, sealed in `sealed_pii`.
    pub pii_names: Vec<String>,
    /// The personal fields as one sealed JSON object (none when there are none).
    pub sealed_pii: Option<SealedBlob>,
    /// Keyed hash of the normalised document number, for exact search without plaintext.
    pub document_number_hmac: Option<String>,
    /// SHA-256 (hex) of the decrypted payload; decides replay versus conflict.
    pub payload_digest: String,
    /// Size of the decrypted payload.
    pub payload_bytes: usize,
    /// Label of the key that opened the body (never the key).
    pub decryption_key: Option<String>,
    /// The confirmation JSON to send (before response encryption).
    pub response_body: String,
    /// Sealed images (none when the policy drops them).
    pub images: Vec<SealedImage>,
}

impl NewSubmission {
    /// Bytes this submission brings to a commit (payload plus sealed images), for batch limits.
    pub fn weight(&self) -> usize {
        self.payload_bytes
            + self
                .images
                .iter()
                .map(|i| i.blob.ciphertext.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_unique_and_ordered() {
        let a = Reference::new();
        let b = Reference::new();
        assert!(a < b, "{a} {b}");
        assert_eq!(Reference::parse(a.as_str()), Some(a));
    }

    #[test]
    fn references_from_clients_are_bounded_printable_text() {
        assert!(Reference::parse("").is_none());
        assert!(Reference::parse("KYC-\n").is_none());
        assert!(Reference::parse(&"K".repeat(129)).is_none());
        assert!(Reference::parse("KYC-0192").is_some());
    }
}
