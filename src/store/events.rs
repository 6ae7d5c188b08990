//! Decision events: the transactional outbox that the change feed reads and webhooks deliver. Each event is
//! written in the transaction of the change it reports (a stored submission, a review taking effect, an
//! erasure), numbered by the audit chain's head ([`ChainCursor::next_event_seq`]), so no change commits without
//! its event and no event exists for a change that rolled back. Events carry no personal fields: ids, the
//! decision, reasons, mapping and time, and the record's non-personal canonical fields (an endpoint picks which
//! of those it receives). Delivery state lives here too: per endpoint a cursor, retry state and a lease, and
//! the dead letters.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::DbConnection;
use super::audit_log::{ChainCursor, format_timestamp, truncate_to_micros};
use super::schema::{audit_head, events, webhook_dead_letters, webhook_state};
use super::submissions::SubmissionRow;

/// One decision event, column for column.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = events)]
pub struct EventRow {
    /// Position in commit order, from 1.
    pub seq: i64,
    /// `evt_…`: the `webhook-id`, the same on every delivery attempt (receivers de-duplicate by it).
    pub id: String,
    /// `submission.decided`, `submission.reviewed`, `submission.replayed` or `subject.erased`.
    pub kind: String,
    /// When the change committed (UTC, microseconds).
    pub occurred_at: NaiveDateTime,
    /// The record concerned.
    pub reference: Option<String>,
    /// The event's `data` as JSON text.
    pub data: String,
}

/// The `data` of a submission event, but its two JSON columns (reasons and fields), spliced in as stored.
#[derive(Serialize)]
struct SubmissionData<'a> {
    reference: &'a str,
    requester_id: &'a str,
    user_id: &'a str,
    client_id: Option<&'a str>,
    decision: &'a str,
    status: &'a str,
    mapping: &'a str,
    mapping_hash: &'a str,
    received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<ReviewFacts<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quarantine_id: Option<&'a str>,
}

/// What a review event adds.
#[derive(Serialize)]
pub struct ReviewFacts<'a> {
    /// The review's id.
    pub id: &'a str,
    /// Who decided (and who proposed, with four eyes).
    pub reviewer: &'a str,
    /// Who proposed it, with four eyes.
    pub proposed_by: Option<&'a str>,
}

/// The event reporting `row` as it now stands.
pub fn submission_event(
    cursor: &mut ChainCursor,
    kind: &str,
    row: &SubmissionRow,
    review: Option<ReviewFacts<'_>>,
    quarantine_id: Option<&str>,
    now: NaiveDateTime,
) -> EventRow {
    let data = SubmissionData {
        reference: row.reference.as_str(),
        requester_id: &row.requester_id,
        user_id: &row.user_id,
        client_id: row.client_id.as_deref(),
        decision: row.decision.as_str(),
        status: row.status.as_str(),
        mapping: &row.mapping_name,
        mapping_hash: &row.mapping_hash,
        received_at: format_timestamp(row.received_at),
        review,
        quarantine_id,
    };
    EventRow {
        seq: cursor.next_event_seq(),
        id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
        kind: kind.to_string(),
        occurred_at: truncate_to_micros(now),
        reference: Some(row.reference.as_str().to_string()),
        data: splice(&data, &row.reasons, &row.fields),
    }
}

/// `data` as JSON with `"reasons"` and `"fields"` appended from the row's JSON columns as they are: serde_json
/// wrote both, so they are JSON, and parsing them again for every stored submission would only cost time.
fn splice(data: &SubmissionData<'_>, reasons: &str, fields: &str) -> String {
    let mut text = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    let ok = |t: &str, open: char, close: char| t.starts_with(open) && t.ends_with(close);
    if text.ends_with('}') && ok(reasons, '[', ']') && ok(fields, '{', '}') {
        text.pop();
        text.reserve(reasons.len() + fields.len() + 24);
        text.push_str(",\"reasons\":");
        text.push_str(reasons);
        text.push_str(",\"fields\":");
        text.push_str(fields);
        text.push('}');
    }
    text
}

/// An event without a record (`subject.erased`).
pub fn other_event(
    cursor: &mut ChainCursor,
    kind: &str,
    data: &serde_json::Value,
    now: NaiveDateTime,
) -> EventRow {
    EventRow {
        seq: cursor.next_event_seq(),
        id: format!("evt_{}", uuid::Uuid::now_v7().simple()),
        kind: kind.to_string(),
        occurred_at: truncate_to_micros(now),
        reference: None,
        data: data.to_string(),
    }
}

/// Inserts events, many rows per statement.
pub fn insert(conn: &mut DbConnection, rows: &[EventRow]) -> QueryResult<()> {
    for chunk in rows.chunks(super::ROWS_PER_INSERT) {
        super::insert_many!(conn, events::table, chunk)?;
    }
    Ok(())
}

/// Up to `limit` events with `after < seq <= upto`, in order; only `kinds` when given.
pub fn between(
    conn: &mut DbConnection,
    after: i64,
    upto: i64,
    kinds: Option<&[String]>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::seq.gt(after))
        .filter(events::seq.le(upto))
        .into_boxed::<super::Backend>();
    if let Some(kinds) = kinds {
        query = query.filter(events::kind.eq_any(kinds));
    }
    query
        .order(events::seq)
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// One event.
pub fn get(conn: &mut DbConnection, seq: i64) -> QueryResult<Option<EventRow>> {
    events::table
        .find(seq)
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// The last event's sequence number (0 before the first).
pub fn head(conn: &mut DbConnection) -> QueryResult<i64> {
    audit_head::table
        .find(1)
        .select(audit_head::event_seq)
        .first(conn)
}

/// Replaces a subject's user id by its pseudonym in the events about `references` (erasure).
pub fn pseudonymise(
    conn: &mut DbConnection,
    references: &[String],
    user_id: &str,
    pseudonym: &str,
) -> QueryResult<usize> {
    let rows: Vec<(i64, String)> = events::table
        .filter(events::reference.eq_any(references))
        .select((events::seq, events::data))
        .load(conn)?;
    let mut changed = 0;
    for (seq, data) in rows {
        let erased = super::erasure::replace_string(&data, user_id, pseudonym);
        if erased != data {
            changed += diesel::update(events::table.find(seq))
                .set(events::data.eq(erased))
                .execute(conn)?;
        }
    }
    Ok(changed)
}

/// Delivery state of one endpoint.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_state)]
pub struct EndpointState {
    /// The endpoint's name.
    pub endpoint: String,
    /// The last event handled (delivered, skipped as not wanted, or dead-lettered).
    pub cursor: i64,
    /// Paused by an operator.
    pub paused: bool,
    /// Failed attempts at the event after `cursor`.
    pub attempts: i32,
    /// When that event first failed.
    pub first_failure_at: Option<NaiveDateTime>,
    /// No attempt before this.
    pub next_attempt_at: Option<NaiveDateTime>,
    /// Why the last attempt failed (status or transport error; never a response body).
    pub last_error: Option<String>,
    /// Events delivered in all.
    pub delivered: i64,
    /// The instance delivering now.
    pub lease_owner: Option<String>,
    /// Until when.
    pub leased_until: Option<NaiveDateTime>,
}

/// Makes a state row for every endpoint that has none: from the first event with `from_start`, else from now.
pub fn ensure_endpoint(conn: &mut DbConnection, name: &str, from_start: bool) -> QueryResult<()> {
    let exists = webhook_state::table
        .find(name)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(());
    }
    let cursor = if from_start { 0 } else { head(conn)? };
    let inserted = diesel::insert_into(webhook_state::table)
        .values((
            webhook_state::endpoint.eq(name),
            webhook_state::cursor.eq(cursor),
            webhook_state::paused.eq(false),
            webhook_state::attempts.eq(0),
            webhook_state::delivered.eq(0i64),
        ))
        .execute(conn);
    match inserted {
        // Another instance made it first.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(()),
        other => other.map(|_| ()),
    }
}

/// Takes (or renews) the endpoint's lease for `owner` until `until`; false when another instance holds it.
pub fn lease(
    conn: &mut DbConnection,
    name: &str,
    owner: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<bool> {
    let taken = diesel::update(
        webhook_state::table.find(name).filter(
            webhook_state::lease_owner
                .is_null()
                .or(webhook_state::lease_owner.eq(owner))
                .or(webhook_state::leased_until.lt(now)),
        ),
    )
    .set((
        webhook_state::lease_owner.eq(owner),
        webhook_state::leased_until.eq(until),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease back.
pub fn release(conn: &mut DbConnection, name: &str, owner: &str) -> QueryResult<()> {
    diesel::update(
        webhook_state::table
            .find(name)
            .filter(webhook_state::lease_owner.eq(owner)),
    )
    .set((
        webhook_state::lease_owner.eq(None::<String>),
        webhook_state::leased_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(())
}

/// One endpoint's state.
pub fn state(conn: &mut DbConnection, name: &str) -> QueryResult<Option<EndpointState>> {
    webhook_state::table
        .find(name)
        .select(EndpointState::as_select())
        .first(conn)
        .optional()
}

/// Every endpoint's state.
pub fn states(conn: &mut DbConnection) -> QueryResult<Vec<EndpointState>> {
    webhook_state::table
        .order(webhook_state::endpoint)
        .select(EndpointState::as_select())
        .load(conn)
}

/// Moves the cursor to `seq` (the events up to it are handled) and clears the retry state, if `owner` still
/// holds the lease. `delivered` counts the deliveries among them.
pub fn advance(
    conn: &mut DbConnection,
    name: &str,
    owner: &str,
    seq: i64,
    delivered: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        webhook_state::table
            .find(name)
            .filter(webhook_state::lease_owner.eq(owner))
            .filter(webhook_state::cursor.lt(seq)),
    )
    .set((
        webhook_state::cursor.eq(seq),
        webhook_state::attempts.eq(0),
        webhook_state::first_failure_at.eq(None::<NaiveDateTime>),
        webhook_state::next_attempt_at.eq(None::<NaiveDateTime>),
        webhook_state::last_error.eq(None::<String>),
        webhook_state::delivered.eq(webhook_state::delivered + delivered),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records a failed attempt at the event after the cursor.
pub fn failed(
    conn: &mut DbConnection,
    name: &str,
    owner: &str,
    attempts: i32,
    first_failure_at: NaiveDateTime,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(
        webhook_state::table
            .find(name)
            .filter(webhook_state::lease_owner.eq(owner)),
    )
    .set((
        webhook_state::attempts.eq(attempts),
        webhook_state::first_failure_at.eq(first_failure_at),
        webhook_state::next_attempt_at.eq(next_attempt_at),
        webhook_state::last_error.eq(error),
    ))
    .execute(conn)?;
    Ok(())
}

/// A dead letter, or a redelivery an operator asked for.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_dead_letters)]
pub struct DeadLetter {
    /// The endpoint.
    pub endpoint: String,
    /// The event.
    pub seq: i64,
    /// Attempts made.
    pub attempts: i32,
    /// The last failure.
    pub last_error: String,
    /// When it was given up (or asked for again).
    pub dead_at: NaiveDateTime,
    /// Waiting for another attempt.
    pub redeliver: bool,
}

/// Gives up on the event after the cursor: a dead letter, and the cursor moves past it (one transaction).
pub fn bury(
    conn: &mut DbConnection,
    name: &str,
    owner: &str,
    seq: i64,
    attempts: i32,
    error: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|c| {
        diesel::delete(webhook_dead_letters::table.find((name, seq))).execute(c)?;
        diesel::insert_into(webhook_dead_letters::table)
            .values((
                webhook_dead_letters::endpoint.eq(name),
                webhook_dead_letters::seq.eq(seq),
                webhook_dead_letters::attempts.eq(attempts),
                webhook_dead_letters::last_error.eq(error),
                webhook_dead_letters::dead_at.eq(truncate_to_micros(now)),
                webhook_dead_letters::redeliver.eq(false),
            ))
            .execute(c)?;
        advance(c, name, owner, seq, 0)?;
        Ok(())
    })
}

/// Dead letters (and redelivery requests) of an endpoint, or of all.
pub fn dead_letters(conn: &mut DbConnection, name: Option<&str>) -> QueryResult<Vec<DeadLetter>> {
    let mut query = webhook_dead_letters::table.into_boxed::<super::Backend>();
    if let Some(name) = name {
        query = query.filter(webhook_dead_letters::endpoint.eq(name));
    }
    query
        .order((webhook_dead_letters::endpoint, webhook_dead_letters::seq))
        .select(DeadLetter::as_select())
        .load(conn)
}

/// Asks for another attempt at `seq` (a dead letter, or any event already handled), or at every dead letter
/// of the endpoint. Returns how many were asked for.
pub fn request_redelivery(
    conn: &mut DbConnection,
    name: &str,
    seq: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    match seq {
        None => diesel::update(
            webhook_dead_letters::table.filter(webhook_dead_letters::endpoint.eq(name)),
        )
        .set(webhook_dead_letters::redeliver.eq(true))
        .execute(conn),
        Some(seq) => {
            if get(conn, seq)?.is_none() {
                return Ok(0);
            }
            let marked = diesel::update(webhook_dead_letters::table.find((name, seq)))
                .set(webhook_dead_letters::redeliver.eq(true))
                .execute(conn)?;
            if marked > 0 {
                return Ok(marked);
            }
            diesel::insert_into(webhook_dead_letters::table)
                .values((
                    webhook_dead_letters::endpoint.eq(name),
                    webhook_dead_letters::seq.eq(seq),
                    webhook_dead_letters::attempts.eq(0),
                    webhook_dead_letters::last_error.eq("redelivery requested"),
                    webhook_dead_letters::dead_at.eq(truncate_to_micros(now)),
                    webhook_dead_letters::redeliver.eq(true),
                ))
                .execute(conn)
        }
    }
}

/// The redeliveries waiting for an endpoint, oldest event first.
pub fn redeliveries(conn: &mut DbConnection, name: &str, limit: i64) -> QueryResult<Vec<i64>> {
    webhook_dead_letters::table
        .filter(webhook_dead_letters::endpoint.eq(name))
        .filter(webhook_dead_letters::redeliver.eq(true))
        .order(webhook_dead_letters::seq)
        .limit(limit)
        .select(webhook_dead_letters::seq)
        .load(conn)
}

/// A redelivery went through: the letter is gone.
pub fn redelivered(conn: &mut DbConnection, name: &str, seq: i64) -> QueryResult<()> {
    diesel::delete(webhook_dead_letters::table.find((name, seq))).execute(conn)?;
    diesel::update(webhook_state::table.find(name))
        .set(webhook_state::delivered.eq(webhook_state::delivered + 1))
        .execute(conn)?;
    Ok(())
}

/// A redelivery failed: it stays a dead letter, not asked for again until an operator does.
pub fn redelivery_failed(
    conn: &mut DbConnection,
    name: &str,
    seq: i64,
    error: &str,
) -> QueryResult<()> {
    diesel::update(webhook_dead_letters::table.find((name, seq)))
        .set((
            webhook_dead_letters::redeliver.eq(false),
            webhook_dead_letters::last_error.eq(error),
            webhook_dead_letters::attempts.eq(webhook_dead_letters::attempts + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Pauses or resumes an endpoint; false when there is no such endpoint.
pub fn set_paused(conn: &mut DbConnection, name: &str, paused: bool) -> QueryResult<bool> {
    Ok(diesel::update(webhook_state::table.find(name))
        .set(webhook_state::paused.eq(paused))
        .execute(conn)?
        == 1)
}

/// Up to `limit` events older than `cutoff` that every endpoint is past and no dead letter holds, oldest first.
pub fn expired(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    let slowest: Option<i64> = webhook_state::table
        .select(diesel::dsl::min(webhook_state::cursor))
        .first(conn)?;
    let upto = match slowest {
        Some(cursor) => cursor,
        None => head(conn)?,
    };
    let held: Vec<i64> = webhook_dead_letters::table
        .select(webhook_dead_letters::seq)
        .load(conn)?;
    events::table
        .filter(events::occurred_at.lt(cutoff))
        .filter(events::seq.le(upto))
        .filter(events::seq.ne_all(held))
        .order(events::seq)
        .limit(limit)
        .select(events::seq)
        .load(conn)
}

/// Deletes the events named.
pub fn delete(conn: &mut DbConnection, seqs: &[i64]) -> QueryResult<usize> {
    diesel::delete(events::table.filter(events::seq.eq_any(seqs))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_columns_are_spliced_in_as_valid_json() {
        let data = SubmissionData {
            reference: "KYC-1",
            requester_id: "r\"1",
            user_id: "u",
            client_id: None,
            decision: "approved",
            status: "approved",
            mapping: "m",
            mapping_hash: "h",
            received_at: "t".into(),
            review: None,
            quarantine_id: None,
        };
        let text = splice(&data, r#"["a"]"#, r#"{"document_type":"P"}"#);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["requester_id"], "r\"1");
        assert_eq!(v["reasons"], serde_json::json!(["a"]));
        assert_eq!(v["fields"]["document_type"], "P");
    }
}
