//! Repository functions for `submissions`. Called with a connection (inside a transaction where it matters);
//! never asks the pool for a second one.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use kyc_crypto::at_rest::SealedBlob;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::audit_log::{format_timestamp, truncate_to_micros};
use super::images::ImageRow;
use super::{DbConnection, submissions_table as submissions};
use crate::decision::Status;
use crate::submission::{NewSubmission, Reference};

/// One stored submission, column for column.
#[derive(Debug, Clone, Insertable, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = submissions, treat_none_as_default_value = false)]
pub struct SubmissionRow {
    /// Our reference, returned to the upstream.
    pub reference: Reference,
    /// The upstream's idempotency key.
    pub requester_id: String,
    /// The upstream's user id.
    pub user_id: String,
    /// The upstream's app id.
    pub app_id: Option<String>,
    /// The authenticated client that pushed it.
    pub client_id: Option<String>,
    /// When it was received (UTC).
    pub received_at: NaiveDateTime,
    /// `kyc_info.document.version`.
    pub document_version: Option<String>,
    /// `overall_document_status` as sent.
    pub document_status: Option<String>,
    /// Mapping that produced the record.
    pub mapping_name: String,
    /// SHA-256 of that mapping's file.
    pub mapping_hash: String,
    /// The automatic decision.
    pub decision: Status,
    /// The current status (changes when a reviewer resolves the case).
    pub status: Status,
    /// JSON array of reason codes.
    pub reasons: String,
    /// JSON object of the canonical fields that are not personal data (personal ones are sealed below).
    pub fields: String,
    /// JSON array of the names of the personal (`pii`) fields of this record.
    pub pii_names: String,
    /// Key id that sealed the personal fields.
    pub pii_key_id: Option<String>,
    /// Nonce of the sealed personal fields.
    pub pii_nonce: Option<Vec<u8>>,
    /// AES-256-GCM ciphertext of the personal fields (a JSON object), bound to this reference.
    pub pii_ciphertext: Option<Vec<u8>>,
    /// HMAC-SHA256 of the normalised document number, for exact-match search without plaintext.
    pub document_number_hmac: Option<String>,
    /// When the subject's personal data was erased.
    pub erased_at: Option<NaiveDateTime>,
    /// SHA-256 (hex) of the decrypted payload bytes; decides replay versus conflict.
    pub payload_digest: String,
    /// Size of the decrypted payload.
    pub payload_bytes: i64,
    /// Which key opened the body (label only).
    pub decryption_key: Option<String>,
    /// The exact confirmation JSON sent (before response encryption).
    pub response_body: String,
    /// SHA-256 over the row's other columns, so a changed row is detectable.
    pub content_hash: String,
}

impl SubmissionRow {
    /// The row of a new submission and the rows of its images, with the content hash computed.
    pub fn from_new(new: &NewSubmission) -> (SubmissionRow, Vec<ImageRow>) {
        let (pii_key_id, pii_nonce, pii_ciphertext) = match &new.sealed_pii {
            Some(blob) => (
                Some(blob.key_id.clone()),
                Some(blob.nonce.clone()),
                Some(blob.ciphertext.clone()),
            ),
            None => (None, None, None),
        };
        let mut row = SubmissionRow {
            reference: new.reference.clone(),
            requester_id: new.requester_id.clone(),
            user_id: new.user_id.clone(),
            app_id: new.app_id.clone(),
            client_id: new.client_id.clone(),
            received_at: truncate_to_micros(new.received_at.naive_utc()),
            document_version: new.document_version.clone(),
            document_status: new.document_status.clone(),
            mapping_name: new.mapping_name.clone(),
            mapping_hash: new.mapping_hash.clone(),
            decision: new.decision.status,
            status: new.decision.status,
            reasons: serde_json::json!(new.decision.reason_codes()).to_string(),
            fields: Value::Object(new.public_fields.clone()).to_string(),
            pii_names: serde_json::json!(new.pii_names).to_string(),
            pii_key_id,
            pii_nonce,
            pii_ciphertext,
            document_number_hmac: new.document_number_hmac.clone(),
            erased_at: None,
            payload_digest: new.payload_digest.clone(),
            payload_bytes: i64::try_from(new.payload_bytes).unwrap_or(i64::MAX),
            decryption_key: new.decryption_key.clone(),
            response_body: new.response_body.clone(),
            content_hash: String::new(),
        };
        row.content_hash = row.compute_content_hash();
        let images = new
            .images
            .iter()
            .map(|image| ImageRow::from_sealed(&new.reference, image))
            .collect();
        (row, images)
    }

    /// The sealed personal fields, when the record has any (none after erasure).
    pub fn sealed_pii(&self) -> Option<SealedBlob> {
        match (&self.pii_key_id, &self.pii_nonce, &self.pii_ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(SealedBlob {
                key_id: key_id.clone(),
                nonce: nonce.clone(),
                ciphertext: ciphertext.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the stored columns still match `content_hash`.
    pub fn content_hash_ok(&self) -> bool {
        self.compute_content_hash() == self.content_hash
    }

    /// Computes `content_hash` from the other columns (canonical JSON array in column order).
    pub fn compute_content_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.reference,
            self.requester_id,
            self.user_id,
            self.app_id,
            self.client_id,
            format_timestamp(self.received_at),
            self.document_version,
            self.document_status,
            self.mapping_name,
            self.mapping_hash,
            self.decision,
            self.status,
            self.reasons,
            self.fields,
            self.pii_names,
            self.pii_key_id,
            self.pii_nonce.as_deref().map(hex::encode),
            self.pii_ciphertext.as_deref().map(hex::encode),
            self.document_number_hmac,
            self.erased_at.map(format_timestamp),
            self.payload_digest,
            self.payload_bytes,
            self.decryption_key,
            self.response_body,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// What an earlier submission with the same requester id left behind.
#[derive(Debug, Clone)]
pub struct Existing {
    /// Its reference.
    pub reference: Reference,
    /// Its payload digest.
    pub payload_digest: String,
    /// The response it was given.
    pub response_body: String,
}

/// The scope of idempotency: a requester id names a submission within its client's pushes (pushes without
/// authentication share one scope). The unique index `submissions_requester` holds the same pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// The pushing client, `""` when there was none.
    pub client_id: String,
    /// The upstream's requester id.
    pub requester_id: String,
}

impl IdempotencyKey {
    /// The key of a row.
    pub fn of(row: &SubmissionRow) -> IdempotencyKey {
        IdempotencyKey {
            client_id: row.client_id.clone().unwrap_or_default(),
            requester_id: row.requester_id.clone(),
        }
    }
}

/// Looks up earlier submissions for these keys.
pub fn find_existing(
    conn: &mut DbConnection,
    keys: &[IdempotencyKey],
) -> QueryResult<HashMap<IdempotencyKey, Existing>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = keys.iter().map(|k| k.requester_id.as_str()).collect();
    // The index leads with requester_id; the client is matched here, among the few rows of those ids.
    let rows = submissions::table
        .filter(submissions::requester_id.eq_any(ids))
        .select((
            submissions::client_id,
            submissions::requester_id,
            submissions::reference,
            submissions::payload_digest,
            submissions::response_body,
        ))
        .load::<(Option<String>, String, Reference, String, String)>(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(client_id, requester_id, reference, payload_digest, response_body)| {
                let key = IdempotencyKey {
                    client_id: client_id.unwrap_or_default(),
                    requester_id,
                };
                let existing = Existing {
                    reference,
                    payload_digest,
                    response_body,
                };
                (key, existing)
            },
        )
        .filter(|(key, _)| keys.contains(key))
        .collect())
}

/// Inserts rows, many per statement (one round trip per chunk instead of per row).
pub fn insert(conn: &mut DbConnection, rows: &[&SubmissionRow]) -> QueryResult<()> {
    for chunk in rows.chunks(super::ROWS_PER_INSERT) {
        super::insert_many!(conn, submissions::table, chunk.to_vec())?;
    }
    Ok(())
}

/// Number of stored submissions (tests and metrics).
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    submissions::table.count().get_result(conn)
}

/// One row by reference.
pub fn find(conn: &mut DbConnection, reference: &Reference) -> QueryResult<Option<SubmissionRow>> {
    submissions::table
        .find(reference)
        .select(SubmissionRow::as_select())
        .first(conn)
        .optional()
}

/// Up to `limit` rows with references after `after` (from the first when `None`), in reference order: a
/// walk over every stored row that needs no snapshot.
pub fn page_by_reference(
    conn: &mut DbConnection,
    after: Option<&Reference>,
    limit: i64,
) -> QueryResult<Vec<SubmissionRow>> {
    let mut query = submissions::table.into_boxed::<super::Backend>();
    if let Some(after) = after {
        query = query.filter(submissions::reference.gt(after));
    }
    query
        .order(submissions::reference)
        .limit(limit)
        .select(SubmissionRow::as_select())
        .load(conn)
}
