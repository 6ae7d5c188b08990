//! The quarantine of refused submissions and their replay. A submission from an authenticated caller that was
//! refused after its body was read is kept sealed (the body exactly as received, so a decryption failure can be
//! replayed once the old key is listed again). A replay runs the body through today's keys, mapping set and
//! writer as if it had just arrived, keeping its original arrival time, client and requester id; nothing is
//! answered to anyone. HTTP (`api::quarantine`) and the command line (`cli::quarantine`) both call [`replay`].

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::intake::{self, IntakeContext, Refusal};
use crate::mapping::MappingSet;
use crate::protect::{ProtectError, Protection};
use crate::store::quarantine::{self as rows, QUARANTINED, QuarantineMeta, QuarantineRow};
use crate::store::writer::{ReplayTag, SubmitOutcome, Writer};
use crate::store::{DbConnection, Pool, StoreError, audit_log};
use kyc_crypto::CipherProfile;
use kyc_crypto::at_rest::SealedBlob;

/// Why a refused submission was refused, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Answered {
    /// The error code (`mapping_failed`, `decrypt_failed`, …).
    pub code: String,
    /// The message (names fields and mappings, never submitted values).
    pub message: String,
    /// The HTTP status.
    pub status: u16,
}

/// What is known about a refused body besides the body.
#[derive(Debug, Clone)]
pub struct RefusedFacts {
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// The authenticated client.
    pub client_id: String,
    /// The answer.
    pub answered: Answered,
    /// The requester id, when it could be read.
    pub requester_id: Option<String>,
    /// The user id, when it could be read (only its keyed pseudonym is stored).
    pub user_id: Option<String>,
    /// Which key opened the body or how many failed.
    pub key_label: Option<String>,
}

/// A new entry's row: the body sealed under the active data key, bound to a fresh id.
pub fn entry(
    protection: &Protection,
    body: &[u8],
    facts: RefusedFacts,
) -> Result<QuarantineRow, ProtectError> {
    let id = format!("Q-{}", uuid::Uuid::now_v7().simple());
    let sealed = protection.seal_quarantine(&id, body)?;
    Ok(QuarantineRow {
        received_at: audit_log::truncate_to_micros(facts.received_at.naive_utc()),
        client_id: facts.client_id,
        error_code: facts.answered.code,
        error_message: facts.answered.message,
        status_code: i32::from(facts.answered.status),
        body_bytes: i64::try_from(body.len()).unwrap_or(i64::MAX),
        body_sha256: hex::encode(Sha256::digest(body)),
        key_label: facts.key_label,
        requester_id: facts.requester_id,
        subject: facts.user_id.map(|u| protection.subject_pseudonym(&u)),
        key_id: Some(sealed.key_id),
        nonce: Some(sealed.nonce),
        ciphertext: Some(sealed.ciphertext),
        state: QUARANTINED.into(),
        attempts: 0,
        last_attempt_at: None,
        replayed_reference: None,
        replayed_at: None,
        id,
    })
}

/// Checks a quarantine id given by a client: `Q-` and 32 lower-case hex digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == 34
        && id.starts_with("Q-")
        && id[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An entry as the API and the command line show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    /// `Q-…`.
    pub id: String,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// The client that sent it.
    pub client_id: String,
    /// `quarantined` or `replayed`.
    pub state: String,
    /// The last error: as answered, or of the last failed replay.
    pub error: Answered,
    /// Body size as received.
    pub body_bytes: i64,
    /// Hex SHA-256 of the body as received.
    pub body_sha256: String,
    /// Which key opened it, or how many failed.
    pub key_label: Option<String>,
    /// The requester id, when it could be read.
    pub requester_id: Option<String>,
    /// Replays tried.
    pub attempts: i32,
    /// When the last replay was tried.
    pub last_attempt_at: Option<String>,
    /// The record it became.
    pub replayed_reference: Option<String>,
    /// When it was replayed.
    pub replayed_at: Option<String>,
}

impl From<QuarantineMeta> for EntryView {
    fn from(m: QuarantineMeta) -> Self {
        let time = audit_log::format_timestamp;
        EntryView {
            received_at: time(m.received_at),
            error: Answered {
                code: m.error_code,
                message: m.error_message,
                status: u16::try_from(m.status_code).unwrap_or(0),
            },
            last_attempt_at: m.last_attempt_at.map(time),
            replayed_at: m.replayed_at.map(time),
            id: m.id,
            client_id: m.client_id,
            state: m.state,
            body_bytes: m.body_bytes,
            body_sha256: m.body_sha256,
            key_label: m.key_label,
            requester_id: m.requester_id,
            attempts: m.attempts,
            replayed_reference: m.replayed_reference,
        }
    }
}

impl From<&QuarantineRow> for EntryView {
    fn from(r: &QuarantineRow) -> Self {
        EntryView::from(QuarantineMeta {
            id: r.id.clone(),
            received_at: r.received_at,
            client_id: r.client_id.clone(),
            error_code: r.error_code.clone(),
            error_message: r.error_message.clone(),
            status_code: r.status_code,
            body_bytes: r.body_bytes,
            body_sha256: r.body_sha256.clone(),
            key_label: r.key_label.clone(),
            requester_id: r.requester_id.clone(),
            state: r.state.clone(),
            attempts: r.attempts,
            last_attempt_at: r.last_attempt_at,
            replayed_reference: r.replayed_reference.clone(),
            replayed_at: r.replayed_at,
        })
    }
}

/// A quarantined body opened for an admin: decrypted when today's keys open it, else as received.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpenedBody {
    /// `decrypted` (the JSON text), `received_text` (as received, UTF-8) or `received_base64`.
    pub form: String,
    /// The body in that form.
    pub text: String,
}

/// Opens an entry's sealed body (`None` once replayed).
pub fn open_body(
    protection: &Protection,
    row: &QuarantineRow,
) -> Result<Option<Vec<u8>>, ProtectError> {
    let (Some(key_id), Some(nonce), Some(ciphertext)) = (&row.key_id, &row.nonce, &row.ciphertext)
    else {
        return Ok(None);
    };
    let blob = SealedBlob {
        key_id: key_id.clone(),
        nonce: nonce.clone(),
        ciphertext: ciphertext.clone(),
    };
    protection.open_quarantine(&row.id, &blob).map(Some)
}

/// The body for display: decrypted with the request profile when that works, else as received.
pub fn display_body(body: &[u8], cipher: &CipherProfile) -> OpenedBody {
    if cipher.is_enabled()
        && let Ok(opened) = cipher.open(body)
        && let Ok(text) = String::from_utf8(opened.plaintext)
    {
        return OpenedBody {
            form: "decrypted".into(),
            text,
        };
    }
    match std::str::from_utf8(body) {
        Ok(text) => OpenedBody {
            form: "received_text".into(),
            text: text.to_string(),
        },
        Err(_) => OpenedBody {
            form: "received_base64".into(),
            text: base64::engine::general_purpose::STANDARD.encode(body),
        },
    }
}

/// What a replay did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    /// The entry.
    pub id: String,
    /// `stored`, `already_stored` (the same payload was stored before under its requester id),
    /// `already_replayed` (nothing done), `refused` (still quarantined, with the new error),
    /// `would_store` or `would_refuse` (dry run).
    pub outcome: String,
    /// The record stored or found.
    pub reference: Option<String>,
    /// The decision (`approved`, `rejected`, `pending_review`) when it was or would be stored.
    pub decision: Option<String>,
    /// Its reason codes.
    pub reasons: Vec<String>,
    /// The mapping that took it.
    pub mapping: Option<String>,
    /// Why it is still refused.
    pub error: Option<Answered>,
}

impl ReplayReport {
    fn new(id: &str, outcome: &str) -> ReplayReport {
        ReplayReport {
            id: id.to_string(),
            outcome: outcome.to_string(),
            reference: None,
            decision: None,
            reasons: Vec::new(),
            mapping: None,
            error: None,
        }
    }
}

/// Why a replay could not be tried at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No entry with that id.
    #[error("no quarantine entry with that id")]
    NotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sealed body does not open (a data key missing from `storage.keys`).
    #[error(transparent)]
    Protect(#[from] ProtectError),
}

impl From<diesel::result::Error> for ReplayError {
    fn from(e: diesel::result::Error) -> Self {
        ReplayError::Store(e.into())
    }
}

impl From<diesel::r2d2::PoolError> for ReplayError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ReplayError::Store(e.into())
    }
}

/// What a replay runs with: today's keys, mappings and writer.
#[derive(Clone)]
pub struct ReplayEnv {
    /// The pool (to read entries and record failures).
    pub pool: Pool,
    /// The writer (to store).
    pub writer: Writer,
    /// The request cipher profile.
    pub cipher: std::sync::Arc<CipherProfile>,
    /// The mapping set.
    pub mappings: std::sync::Arc<MappingSet>,
    /// Data keys.
    pub protection: std::sync::Arc<Protection>,
}

/// The answer a refusal gets (the HTTP mapping of intake errors, so a replay reports what the upstream would
/// have been told).
fn answered(refusal: Refusal) -> Answered {
    use actix_web::ResponseError;
    let err = crate::api::ApiError::from(refusal.error);
    Answered {
        code: err.code().to_string(),
        message: err.to_string(),
        status: err.status_code().as_u16(),
    }
}

/// Replays one entry. Idempotent: an entry already replayed is left alone and says so.
pub async fn replay(
    env: &ReplayEnv,
    id: &str,
    actor: &str,
    dry_run: bool,
) -> Result<ReplayReport, ReplayError> {
    let pool = env.pool.clone();
    let wanted = id.to_string();
    let row = blocking(move || {
        let mut conn = pool.get()?;
        Ok(rows::get(&mut conn, &wanted)?)
    })
    .await?
    .ok_or(ReplayError::NotFound)?;
    if row.state != QUARANTINED {
        let mut report = ReplayReport::new(id, "already_replayed");
        report.reference = row.replayed_reference;
        return Ok(report);
    }
    let body = open_body(&env.protection, &row)?.ok_or(ReplayError::NotFound)?;
    let ctx = IntakeContext {
        client_id: Some(row.client_id.clone()),
        key_label: None,
        received_at: row.received_at.and_utc(),
    };
    let (cipher, mappings, protection) = (
        env.cipher.clone(),
        env.mappings.clone(),
        env.protection.clone(),
    );
    let prepared = blocking(move || {
        Ok(intake::open_and_prepare(
            &body,
            &cipher,
            ctx,
            &mappings,
            &protection,
        ))
    })
    .await?;
    let prepared = match prepared {
        Ok(p) => p,
        Err(refusal) => {
            let error = answered(refusal);
            if !dry_run {
                record_failure(env, &row, &error, actor).await?;
            }
            let mut report =
                ReplayReport::new(id, if dry_run { "would_refuse" } else { "refused" });
            report.error = Some(error);
            return Ok(report);
        }
    };
    let submission = &prepared.submission;
    let mut report = ReplayReport::new(id, "would_store");
    report.decision = Some(submission.decision.status.as_str().to_string());
    report.reasons = submission
        .decision
        .reason_codes()
        .iter()
        .map(|r| r.to_string())
        .collect();
    report.mapping = Some(submission.mapping_name.clone());
    if dry_run {
        return Ok(report);
    }
    let mut details = prepared.audit_details;
    if let Some(map) = details.as_object_mut() {
        map.insert("quarantine_id".into(), json!(row.id));
        map.insert("replayed_by".into(), json!(actor));
    }
    let tag = ReplayTag {
        quarantine_id: row.id.clone(),
        actor: actor.to_string(),
    };
    match env.writer.replay(prepared.submission, details, tag).await? {
        SubmitOutcome::Stored { reference, .. } => {
            report.outcome = "stored".into();
            report.reference = Some(reference.as_str().to_string());
        }
        SubmitOutcome::Replayed { reference, .. } => {
            report.outcome = "already_stored".into();
            report.reference = Some(reference.as_str().to_string());
        }
        SubmitOutcome::Conflict { reference, .. } => {
            report.outcome = "refused".into();
            report.reference = Some(reference.as_str().to_string());
            report.error = Some(Answered {
                code: "duplicate_conflict".into(),
                message: "the requester id was already used for a different payload".into(),
                status: 409,
            });
        }
    }
    Ok(report)
}

/// Keeps the entry quarantined with the replay's error, and says so in the audit trail.
async fn record_failure(
    env: &ReplayEnv,
    row: &QuarantineRow,
    error: &Answered,
    actor: &str,
) -> Result<(), ReplayError> {
    let pool = env.pool.clone();
    let key = env.protection.audit_key();
    let (id, requester_id, error, actor) = (
        row.id.clone(),
        row.requester_id.clone(),
        error.clone(),
        actor.to_string(),
    );
    blocking(move || {
        let mut conn = pool.get()?;
        let now = Utc::now().naive_utc();
        audit_log::in_chain(&mut conn, &key, |c, cursor| {
            rows::record_failure(c, &id, &error.code, &error.message, error.status, now)?;
            let draft = audit_log::AuditDraft {
                kind: "quarantine_replay_failed".into(),
                actor: Some(actor),
                reference: None,
                requester_id,
                details: json!({"quarantine_id": id, "code": error.code, "status": error.status}),
            };
            cursor.append(c, &draft, now)?;
            Ok(())
        })?;
        Ok(())
    })
    .await
}

/// Deletes an entry, with an audit event; `false` when there was none.
pub fn drop_entry(
    conn: &mut DbConnection,
    key: &audit_log::AuditKey,
    id: &str,
    actor: &str,
) -> Result<bool, StoreError> {
    let now = Utc::now().naive_utc();
    Ok(audit_log::in_chain(conn, key, |c, cursor| {
        let Some(row) = rows::get(c, id)? else {
            return Ok(false);
        };
        rows::delete(c, id)?;
        let draft = audit_log::AuditDraft {
            kind: "quarantine_dropped".into(),
            actor: Some(actor.to_string()),
            reference: None,
            requester_id: row.requester_id,
            details: json!({"quarantine_id": id, "state": row.state, "body_sha256": row.body_sha256}),
        };
        cursor.append(c, &draft, now)?;
        Ok(true)
    })?)
}

/// Audits that an admin opened a quarantined body (a read of personal data).
pub fn audit_body_read(
    conn: &mut DbConnection,
    key: &audit_log::AuditKey,
    row: &QuarantineRow,
    actor: &str,
    purpose: Option<&str>,
) -> Result<(), StoreError> {
    let draft = audit_log::AuditDraft {
        kind: "quarantine_body_read".into(),
        actor: Some(actor.to_string()),
        reference: None,
        requester_id: row.requester_id.clone(),
        details: json!({"quarantine_id": row.id, "purpose": purpose}),
    };
    audit_log::append_alone(conn, key, &draft)?;
    Ok(())
}

/// The ids of quarantined entries matching `filter`, oldest first, at most `limit`.
pub fn ids_matching(
    conn: &mut DbConnection,
    filter: &rows::QuarantineFilter,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let mut filter = filter.clone();
    filter.state = Some(QUARANTINED.into());
    Ok(rows::list(conn, &filter, None, limit)?
        .into_iter()
        .map(|m| m.id)
        .collect())
}

/// Filters of the quarantine, as given (query string or command line).
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuarantineFilterParams {
    /// Only this state: quarantined or replayed.
    #[arg(long)]
    #[param(value_type = Option<String>, pattern = r"^(quarantined|replayed)$")]
    pub state: Option<String>,
    /// Only this error code (e.g. mapping_failed, decrypt_failed, duplicate_conflict).
    #[arg(long)]
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,64}$")]
    pub code: Option<String>,
    /// Only this client id.
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub client_id: Option<String>,
    /// Only this requester id.
    #[arg(long)]
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub requester_id: Option<String>,
    /// Only entries received at or after this instant (RFC 3339).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// Only entries received before this instant (RFC 3339).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
}

impl QuarantineFilterParams {
    /// Checks every value and builds the store filter.
    pub fn parse(&self) -> Result<rows::QuarantineFilter, crate::records::QueryError> {
        use crate::records::{QueryError, code, instant, text};
        let state = match self.state.as_deref() {
            None => None,
            Some(s @ (QUARANTINED | rows::REPLAYED)) => Some(s.to_string()),
            Some(_) => {
                return Err(QueryError("`state` must be quarantined or replayed".into()));
            }
        };
        Ok(rows::QuarantineFilter {
            state,
            error_code: code("code", self.code.as_deref())?,
            client_id: text("client_id", self.client_id.as_deref(), 256)?,
            requester_id: text("requester_id", self.requester_id.as_deref(), 128)?,
            since: self
                .since
                .as_deref()
                .map(|t| instant("since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| instant("until", t))
                .transpose()?,
        })
    }
}

/// A paging cursor of the quarantine list: the last entry's `received_at` (microseconds) and id.
pub fn encode_cursor(meta: &QuarantineMeta) -> String {
    format!(
        "{}.{}",
        meta.received_at.and_utc().timestamp_micros(),
        meta.id
    )
}

/// Reads a cursor made by [`encode_cursor`].
pub fn decode_cursor(text: &str) -> Option<(NaiveDateTime, String)> {
    let (micros, id) = text.split_once('.')?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    valid_id(id).then(|| (at, id.to_string()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ReplayError> + Send + 'static,
) -> Result<T, ReplayError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ReplayError::Store(StoreError::Unavailable(e.to_string())))?
}

/// The PII-free facts of a refusal audit event about a quarantined body.
pub fn refusal_details(answered: &Answered) -> Value {
    json!({"code": answered.code, "status": answered.status})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_strictly() {
        assert!(valid_id("Q-0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("Q-0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_id("Q-0123456789abcdef0123456789abcde"));
        assert!(!valid_id("K-0123456789abcdef0123456789abcdef"));
        assert!(!valid_id("Q-0123456789abcdef0123456789abcdeé"));
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let at = "2026-11-30T10:00:00.123456"
            .parse::<NaiveDateTime>()
            .unwrap();
        let meta = QuarantineMeta {
            id: "Q-0123456789abcdef0123456789abcdef".into(),
            received_at: at,
            client_id: "c".into(),
            error_code: "e".into(),
            error_message: "m".into(),
            status_code: 422,
            body_bytes: 1,
            body_sha256: String::new(),
            key_label: None,
            requester_id: None,
            state: QUARANTINED.into(),
            attempts: 0,
            last_attempt_at: None,
            replayed_reference: None,
            replayed_at: None,
        };
        let text = encode_cursor(&meta);
        assert_eq!(decode_cursor(&text), Some((at, meta.id.clone())));
        assert_eq!(decode_cursor("12.nope"), None);
        assert_eq!(decode_cursor("x.Q-0123456789abcdef0123456789abcdef"), None);
    }

    #[test]
    fn a_sealed_body_opens_only_under_its_own_id() {
        let protection = crate::protect::tests::protection(crate::config::ImagePolicy::Encrypt);
        let facts = RefusedFacts {
            received_at: Utc::now(),
            client_id: "upstream".into(),
            answered: Answered {
                code: "mapping_failed".into(),
                message: "no mapping".into(),
                status: 422,
            },
            requester_id: Some("r-1".into()),
            user_id: Some("someone@example.com".into()),
            key_label: None,
        };
        let body = br#"{"request_info":{"user_id":"someone@example.com"}}"#;
        let mut row = entry(&protection, body, facts).unwrap();
        assert_eq!(
            open_body(&protection, &row).unwrap().as_deref(),
            Some(&body[..])
        );
        let ciphertext = row.ciphertext.clone().unwrap();
        assert!(
            !ciphertext
                .windows(b"someone".len())
                .any(|w| w == b"someone")
        );
        assert_eq!(
            row.subject.as_deref(),
            Some(protection.subject_pseudonym("someone@example.com").as_str())
        );
        row.id = "Q-00000000000000000000000000000000".into();
        assert!(open_body(&protection, &row).is_err());
    }
}
