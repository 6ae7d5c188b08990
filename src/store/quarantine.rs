//! Repository functions for `quarantine`: refused submissions of authenticated callers, kept sealed so they can
//! be replayed once the mapping or key that refused them is fixed. The store never sees a body in clear: the
//! caller seals it (see `protect`) and opens it. Bounded by bytes (`quarantine.max_bytes`): admitting an entry
//! that does not fit removes the oldest bodies first, with an audit event naming them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::DbConnection;
use super::audit_log::{AuditDraft, ChainCursor};
use super::schema::quarantine;

/// An entry waiting for replay.
pub const QUARANTINED: &str = "quarantined";
/// An entry whose submission is now stored; its body is gone.
pub const REPLAYED: &str = "replayed";

/// One quarantine entry, column for column.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = quarantine, treat_none_as_default_value = false)]
pub struct QuarantineRow {
    /// `Q-` and 32 hex digits.
    pub id: String,
    /// When the request arrived (UTC); a replayed submission keeps it.
    pub received_at: NaiveDateTime,
    /// The authenticated client that sent it.
    pub client_id: String,
    /// The error code answered (or, after a failed replay, the replay's).
    pub error_code: String,
    /// The error message (names fields and mappings, never submitted values).
    pub error_message: String,
    /// The HTTP status answered.
    pub status_code: i32,
    /// Size of the body as received.
    pub body_bytes: i64,
    /// Hex SHA-256 of the body as received.
    pub body_sha256: String,
    /// Which key opened the body, or how many were tried in vain (labels only).
    pub key_label: Option<String>,
    /// The upstream's requester id, when it could be read.
    pub requester_id: Option<String>,
    /// The subject's keyed pseudonym, when the user id could be read (erasure finds entries by it).
    pub subject: Option<String>,
    /// Data key id of the sealed body.
    pub key_id: Option<String>,
    /// Nonce of the sealed body.
    pub nonce: Option<Vec<u8>>,
    /// AES-256-GCM ciphertext of the body, bound to `id`; `None` once replayed.
    pub ciphertext: Option<Vec<u8>>,
    /// [`QUARANTINED`] or [`REPLAYED`].
    pub state: String,
    /// Replays tried.
    pub attempts: i32,
    /// When the last replay was tried.
    pub last_attempt_at: Option<NaiveDateTime>,
    /// The record the replay stored (or found already stored).
    pub replayed_reference: Option<String>,
    /// When it was replayed.
    pub replayed_at: Option<NaiveDateTime>,
}

/// An entry without its sealed body, for lists.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = quarantine)]
pub struct QuarantineMeta {
    /// See [`QuarantineRow`].
    pub id: String,
    /// See [`QuarantineRow`].
    pub received_at: NaiveDateTime,
    /// See [`QuarantineRow`].
    pub client_id: String,
    /// See [`QuarantineRow`].
    pub error_code: String,
    /// See [`QuarantineRow`].
    pub error_message: String,
    /// See [`QuarantineRow`].
    pub status_code: i32,
    /// See [`QuarantineRow`].
    pub body_bytes: i64,
    /// See [`QuarantineRow`].
    pub body_sha256: String,
    /// See [`QuarantineRow`].
    pub key_label: Option<String>,
    /// See [`QuarantineRow`].
    pub requester_id: Option<String>,
    /// See [`QuarantineRow`].
    pub state: String,
    /// See [`QuarantineRow`].
    pub attempts: i32,
    /// See [`QuarantineRow`].
    pub last_attempt_at: Option<NaiveDateTime>,
    /// See [`QuarantineRow`].
    pub replayed_reference: Option<String>,
    /// See [`QuarantineRow`].
    pub replayed_at: Option<NaiveDateTime>,
}

/// Which entries to list or replay.
#[derive(Debug, Clone, Default)]
pub struct QuarantineFilter {
    /// Only this state.
    pub state: Option<String>,
    /// Only this error code.
    pub error_code: Option<String>,
    /// Only this client.
    pub client_id: Option<String>,
    /// Only this requester id.
    pub requester_id: Option<String>,
    /// `received_at >= since`.
    pub since: Option<NaiveDateTime>,
    /// `received_at < until`.
    pub until: Option<NaiveDateTime>,
}

/// What admitting an entry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Stored; the ids of older entries removed to make room.
    Stored {
        /// Removed to make room, oldest first.
        evicted: Vec<String>,
    },
    /// Larger than the whole quarantine: not kept.
    TooLarge,
}

/// Stores `row`, first removing the oldest bodies until the quarantine holds at most `max_bytes` with it; the
/// removal is an audit event (`quarantine_evicted`) in the same transaction. Call inside a transaction.
pub fn admit(
    conn: &mut DbConnection,
    cursor: &mut ChainCursor,
    row: &QuarantineRow,
    max_bytes: u64,
    now: NaiveDateTime,
) -> QueryResult<Admission> {
    let size = u64::try_from(row.body_bytes).unwrap_or(u64::MAX);
    if size > max_bytes {
        return Ok(Admission::TooLarge);
    }
    let mut held = u64::try_from(held_bytes(conn)?).unwrap_or(0);
    let mut evicted = Vec::new();
    if held + size > max_bytes {
        let oldest: Vec<(String, i64)> = quarantine::table
            .filter(quarantine::ciphertext.is_not_null())
            .order((quarantine::received_at, quarantine::id))
            .select((quarantine::id, quarantine::body_bytes))
            .load(conn)?;
        for (id, bytes) in oldest {
            if held + size <= max_bytes {
                break;
            }
            held = held.saturating_sub(u64::try_from(bytes).unwrap_or(0));
            evicted.push(id);
        }
        diesel::delete(quarantine::table.filter(quarantine::id.eq_any(&evicted))).execute(conn)?;
        let draft = AuditDraft {
            kind: "quarantine_evicted".into(),
            actor: None,
            reference: None,
            requester_id: None,
            details: json!({"ids": evicted, "reason": "quarantine.max_bytes", "max_bytes": max_bytes}),
        };
        cursor.append(conn, &draft, now)?;
    }
    diesel::insert_into(quarantine::table)
        .values(row)
        .execute(conn)?;
    Ok(Admission::Stored { evicted })
}

/// Bytes of sealed bodies held. Summed in Rust: `SUM` of a BIGINT is NUMERIC on PostgreSQL and INTEGER on
/// SQLite, and the quarantine is small enough to read its sizes.
fn held_bytes(conn: &mut DbConnection) -> QueryResult<i64> {
    let sizes: Vec<i64> = quarantine::table
        .filter(quarantine::ciphertext.is_not_null())
        .select(quarantine::body_bytes)
        .load(conn)?;
    Ok(sizes.iter().sum())
}

fn filtered(filter: &QuarantineFilter) -> quarantine::BoxedQuery<'_, super::Backend> {
    let mut query = quarantine::table.into_boxed::<super::Backend>();
    if let Some(state) = &filter.state {
        query = query.filter(quarantine::state.eq(state));
    }
    if let Some(code) = &filter.error_code {
        query = query.filter(quarantine::error_code.eq(code));
    }
    if let Some(client) = &filter.client_id {
        query = query.filter(quarantine::client_id.eq(client));
    }
    if let Some(requester) = &filter.requester_id {
        query = query.filter(quarantine::requester_id.eq(requester));
    }
    if let Some(since) = filter.since {
        query = query.filter(quarantine::received_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(quarantine::received_at.lt(until));
    }
    query
}

/// Up to `limit` entries after `after` (`(received_at, id)` of the last one seen), oldest first.
pub fn list(
    conn: &mut DbConnection,
    filter: &QuarantineFilter,
    after: Option<&(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<QuarantineMeta>> {
    let mut query = filtered(filter);
    if let Some((at, id)) = after {
        query = query.filter(
            quarantine::received_at.gt(*at).or(quarantine::received_at
                .eq(*at)
                .and(quarantine::id.gt(id.clone()))),
        );
    }
    query
        .order((quarantine::received_at, quarantine::id))
        .limit(limit)
        .select(QuarantineMeta::as_select())
        .load(conn)
}

/// One entry with its sealed body.
pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<QuarantineRow>> {
    quarantine::table
        .find(id)
        .select(QuarantineRow::as_select())
        .first(conn)
        .optional()
}

/// Marks an entry replayed into `reference` and removes its body; 0 when it was no longer quarantined.
pub fn mark_replayed(
    conn: &mut DbConnection,
    id: &str,
    reference: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        quarantine::table
            .find(id)
            .filter(quarantine::state.eq(QUARANTINED)),
    )
    .set((
        quarantine::state.eq(REPLAYED),
        quarantine::replayed_reference.eq(reference),
        quarantine::replayed_at.eq(now),
        quarantine::last_attempt_at.eq(now),
        quarantine::attempts.eq(quarantine::attempts + 1),
        quarantine::key_id.eq(None::<String>),
        quarantine::nonce.eq(None::<Vec<u8>>),
        quarantine::ciphertext.eq(None::<Vec<u8>>),
    ))
    .execute(conn)
}

/// Notes a failed replay: the entry stays quarantined with the new error.
pub fn record_failure(
    conn: &mut DbConnection,
    id: &str,
    code: &str,
    message: &str,
    status: u16,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        quarantine::table
            .find(id)
            .filter(quarantine::state.eq(QUARANTINED)),
    )
    .set((
        quarantine::error_code.eq(code),
        quarantine::error_message.eq(message),
        quarantine::status_code.eq(i32::from(status)),
        quarantine::last_attempt_at.eq(now),
        quarantine::attempts.eq(quarantine::attempts + 1),
    ))
    .execute(conn)
}

/// Deletes one entry; 0 when there was none.
pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(quarantine::table.find(id)).execute(conn)
}

/// Ids of up to `limit` entries received before `cutoff`, oldest first (retention).
pub fn expired(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    quarantine::table
        .filter(quarantine::received_at.lt(cutoff))
        .order((quarantine::received_at, quarantine::id))
        .limit(limit)
        .select(quarantine::id)
        .load(conn)
}

/// Deletes the entries named.
pub fn delete_many(conn: &mut DbConnection, ids: &[String]) -> QueryResult<usize> {
    diesel::delete(quarantine::table.filter(quarantine::id.eq_any(ids))).execute(conn)
}

/// Ids of the entries of one subject: by pseudonym, or by a requester id of that subject's records.
pub fn of_subject(
    conn: &mut DbConnection,
    subject: &str,
    requester_ids: &[String],
) -> QueryResult<Vec<String>> {
    quarantine::table
        .filter(
            quarantine::subject
                .eq(subject)
                .or(quarantine::requester_id.eq_any(requester_ids)),
        )
        .order(quarantine::id)
        .select(quarantine::id)
        .load(conn)
}
