//! Wire views of stored records (the API's JSON, the CLI's output, the export's rows), separate from the row
//! structs. Personal fields — those the record's mapping flagged `pii`, listed in `pii_names` — are replaced
//! by [`MASK`] unless the reader may see them; an absent or null value stays null, so a reader can still tell
//! that a field is missing. Reviewer notes are free text written while looking at personal data, so they are
//! masked the same way.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::decision::{ReviewDecision, Status};
use crate::protect::{ProtectError, Protection};
use crate::store::audit_log::{self, AuditEvent, format_timestamp};
use crate::store::review::ReviewRow;
use crate::store::submissions::SubmissionRow;
use crate::store::{DbConnection, images, review, submissions};
use crate::submission::Reference;

/// What a masked personal value reads as. A fixed text rather than first-and-last characters: the length and
/// the edges of a name or document number are themselves identifying.
pub const MASK: &str = "***";

/// Most audit events returned with one record (the oldest first); the rest via `GET /v1/audit/events`.
pub const MAX_RECORD_EVENTS: i64 = 500;

/// Reading a record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The database failed.
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// Sealed fields could not be opened (wrong key, moved blob).
    #[error(transparent)]
    Protect(#[from] ProtectError),
    /// A stored JSON column is not what it should be.
    #[error("stored record {0} is malformed")]
    Malformed(String),
}

/// One record as listed and exported.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmissionSummary {
    /// Our reference (`KYC-…`), as returned to the upstream.
    pub reference: Reference,
    /// When it was received (RFC 3339, UTC, microseconds).
    pub received_at: String,
    /// The upstream's idempotency key.
    pub requester_id: String,
    /// The upstream's user id.
    pub user_id: String,
    /// The upstream's app id.
    pub app_id: Option<String>,
    /// The client that pushed it.
    pub client_id: Option<String>,
    /// Document scan structure version.
    pub document_version: Option<String>,
    /// Document status as sent.
    pub document_status: Option<String>,
    /// Mapping that produced the record.
    pub mapping_name: String,
    /// SHA-256 of that mapping file.
    pub mapping_hash: String,
    /// The automatic decision.
    pub decision: Status,
    /// The current status (a reviewer's decision once reviewed).
    pub status: Status,
    /// Reason codes of the decision.
    pub reasons: Vec<String>,
    /// Canonical fields; personal ones masked unless `masked` is false.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Whether personal fields were masked in this answer.
    pub masked: bool,
    /// When the subject's personal data was erased.
    pub erased_at: Option<String>,
}

/// One stored image, without its bytes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImageInfo {
    /// Kind from the mapping (`selfie`, `front`, …).
    pub kind: String,
    /// `image/jpeg`, `image/png` (or `application/json` for `raw_payload`).
    pub content_type: String,
    /// Size in bytes.
    pub byte_len: i64,
}

/// One review.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    /// Review id.
    pub id: String,
    /// The reviewer's client id.
    pub reviewer: String,
    /// The reviewer's decision.
    pub decision: ReviewDecision,
    /// The note (masked unless the reader may see personal data).
    pub note: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Position in the chain, from 1 without gaps.
    pub seq: i64,
    /// When it was appended (RFC 3339, UTC, microseconds).
    pub occurred_at: String,
    /// What happened.
    pub kind: String,
    /// Who caused it (client id).
    pub actor: Option<String>,
    /// The submission it concerns.
    pub reference: Option<Reference>,
    /// The upstream request id.
    pub requester_id: Option<String>,
    /// Event-specific facts; never personal values.
    #[schema(value_type = Object)]
    pub details: Value,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// SHA-256 of this event's canonical encoding.
    pub hash: String,
}

/// One record with everything known about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmissionDetail {
    /// The record.
    #[serde(flatten)]
    pub summary: SubmissionSummary,
    /// Names of its personal fields (flagged `pii` by its mapping).
    pub pii_fields: Vec<String>,
    /// SHA-256 of the decrypted payload.
    pub payload_digest: String,
    /// Size of the decrypted payload.
    pub payload_bytes: i64,
    /// Label of the key that opened the body.
    pub decryption_key: Option<String>,
    /// SHA-256 over the stored row.
    pub content_hash: String,
    /// Whether the stored row still matches `content_hash`.
    pub content_hash_ok: bool,
    /// Images stored for it.
    pub images: Vec<ImageInfo>,
    /// Reviews, oldest first.
    pub reviews: Vec<ReviewView>,
    /// Its audit events in chain order (at most 500; page `GET /v1/audit/events?reference=…` for more).
    pub audit_events: Vec<AuditEventView>,
    /// True when it has more audit events than listed.
    pub audit_events_truncated: bool,
}

fn pii_names(row: &SubmissionRow) -> Result<Vec<String>, RecordsError> {
    serde_json::from_str(&row.pii_names)
        .map_err(|_| RecordsError::Malformed(row.reference.to_string()))
}

/// The list/export view of a row; opens the personal fields and masks them unless `unmask`.
pub fn summarize(
    row: &SubmissionRow,
    protection: &Protection,
    unmask: bool,
) -> Result<SubmissionSummary, RecordsError> {
    let mut fields =
        protection.record_fields(&row.reference, &row.fields, row.sealed_pii().as_ref())?;
    for name in pii_names(row)? {
        let value = fields.remove(&name).unwrap_or(Value::Null);
        let shown = if unmask || value.is_null() {
            value
        } else {
            Value::String(MASK.into())
        };
        fields.insert(name, shown);
    }
    let reasons = serde_json::from_str(&row.reasons)
        .map_err(|_| RecordsError::Malformed(row.reference.to_string()))?;
    Ok(SubmissionSummary {
        reference: row.reference.clone(),
        received_at: format_timestamp(row.received_at),
        requester_id: row.requester_id.clone(),
        user_id: row.user_id.clone(),
        app_id: row.app_id.clone(),
        client_id: row.client_id.clone(),
        document_version: row.document_version.clone(),
        document_status: row.document_status.clone(),
        mapping_name: row.mapping_name.clone(),
        mapping_hash: row.mapping_hash.clone(),
        decision: row.decision,
        status: row.status,
        reasons,
        fields,
        masked: !unmask,
        erased_at: row.erased_at.map(format_timestamp),
    })
}

/// The audit view of an event.
pub fn event_view(event: AuditEvent) -> AuditEventView {
    let details = serde_json::from_str(&event.details).unwrap_or(Value::String(event.details));
    AuditEventView {
        seq: event.seq,
        occurred_at: format_timestamp(event.occurred_at),
        kind: event.kind,
        actor: event.actor,
        reference: event.reference,
        requester_id: event.requester_id,
        details,
        prev_hash: event.prev_hash,
        hash: event.hash,
    }
}

fn review_view(review: ReviewRow, unmask: bool) -> ReviewView {
    ReviewView {
        id: review.id,
        reviewer: review.reviewer,
        decision: review.decision,
        note: if unmask { review.note } else { MASK.into() },
        created_at: format_timestamp(review.created_at),
    }
}

/// One record with its images, reviews and audit events; `None` when there is no such reference.
pub fn load_detail(
    conn: &mut DbConnection,
    reference: &Reference,
    protection: &Protection,
    unmask: bool,
) -> Result<Option<SubmissionDetail>, RecordsError> {
    let Some(row) = submissions::find(conn, reference)? else {
        return Ok(None);
    };
    let summary = summarize(&row, protection, unmask)?;
    let images = images::kinds(conn, reference)?
        .into_iter()
        .map(|(kind, content_type, byte_len)| ImageInfo {
            kind,
            content_type,
            byte_len,
        })
        .collect();
    let reviews = review::list(conn, reference)?
        .into_iter()
        .map(|r| review_view(r, unmask))
        .collect();
    let mut events = audit_log::events_of(conn, reference, MAX_RECORD_EVENTS + 1)?;
    let truncated = events.len() > MAX_RECORD_EVENTS as usize;
    events.truncate(MAX_RECORD_EVENTS as usize);
    Ok(Some(SubmissionDetail {
        summary,
        pii_fields: pii_names(&row)?,
        payload_digest: row.payload_digest.clone(),
        payload_bytes: row.payload_bytes,
        decryption_key: row.decryption_key.clone(),
        content_hash_ok: row.content_hash_ok(),
        content_hash: row.content_hash,
        images,
        reviews,
        audit_events: events.into_iter().map(event_view).collect(),
        audit_events_truncated: truncated,
    }))
}
