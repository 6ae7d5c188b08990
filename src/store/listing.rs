//! Keyset-paged reads of `submissions` and `audit_events` for auditors (list, export, the audit trail).
//!
//! Submissions are ordered by `(received_at, reference)`. `received_at` is taken when a request arrives, but a
//! row becomes visible only when its transaction commits, which can be later (a slow upload, a busy writer).
//! A plain keyset over `received_at` could therefore step past a row that commits behind the cursor. Every
//! traversal is instead pinned to a *mark*: the audit chain's head when it started. A submission's
//! `submission_stored` event is appended in the same transaction as the row, under the chain lock, so "stored
//! at or before the mark" is a commit-ordered cut: every page of one traversal sees exactly the same set of
//! rows — none twice, none skipped — however many submissions arrive meanwhile. Rows whose stored event has
//! been purged by retention count as old (stored before any mark).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};

use super::audit_log::AuditEvent;
use super::submissions::SubmissionRow;
use super::{Backend, DbConnection, audit_events, audit_head, submissions_table as submissions};
use crate::decision::Status;
use crate::submission::Reference;

/// Which submissions to read. Every field narrows the set; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionFilter {
    /// `received_at >= since`.
    pub since: Option<NaiveDateTime>,
    /// `received_at < until`.
    pub until: Option<NaiveDateTime>,
    /// Exact upstream user id.
    pub user_id: Option<String>,
    /// The automatic decision.
    pub decision: Option<Status>,
    /// The current status (differs from `decision` once reviewed).
    pub status: Option<Status>,
    /// Exact document status as sent.
    pub document_status: Option<String>,
    /// A reason code the record carries.
    pub reason: Option<String>,
    /// Exact upstream requester id.
    pub requester_id: Option<String>,
    /// Keyed hash of the document number.
    pub document_number_hmac: Option<String>,
}

/// Where a page ends: the last row's sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Its `received_at`.
    pub received_at: NaiveDateTime,
    /// Its reference (the tie-breaker).
    pub reference: Reference,
}

impl Position {
    /// The sort key of a row.
    pub fn of(row: &SubmissionRow) -> Position {
        Position {
            received_at: row.received_at,
            reference: row.reference.clone(),
        }
    }
}

/// The audit chain's head sequence number: the mark a new traversal is pinned to.
pub fn snapshot_mark(conn: &mut DbConnection) -> QueryResult<i64> {
    audit_head::table
        .find(1)
        .select(audit_head::seq)
        .first(conn)
}

fn filtered<'a>(filter: &'a SubmissionFilter, mark: i64) -> submissions::BoxedQuery<'a, Backend> {
    let mut query = submissions::table.into_boxed::<Backend>();
    if let Some(since) = filter.since {
        query = query.filter(submissions::received_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(submissions::received_at.lt(until));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(submissions::user_id.eq(user_id));
    }
    if let Some(requester_id) = &filter.requester_id {
        query = query.filter(submissions::requester_id.eq(requester_id));
    }
    if let Some(hmac) = &filter.document_number_hmac {
        query = query.filter(submissions::document_number_hmac.eq(hmac));
    }
    if let Some(decision) = filter.decision {
        query = query.filter(submissions::decision.eq(decision));
    }
    if let Some(status) = filter.status {
        query = query.filter(submissions::status.eq(status));
    }
    if let Some(document_status) = &filter.document_status {
        query = query.filter(submissions::document_status.eq(document_status));
    }
    if let Some(reason) = &filter.reason {
        // `reasons` is a JSON array of codes: match the quoted code, with LIKE wildcards escaped.
        let escaped = reason
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
            .replace('"', "\\\"");
        query = query.filter(
            submissions::reasons
                .like(format!("%\"{escaped}\"%"))
                .escape('\\'),
        );
    }
    // Correlated anti-join: leave out rows stored after the mark (see the module comment).
    query.filter(
        diesel::dsl::sql::<Bool>(
            "NOT EXISTS (SELECT 1 FROM audit_events ae WHERE ae.reference = submissions.reference \
             AND ae.kind = 'submission_stored' AND ae.seq > ",
        )
        .bind::<BigInt, _>(mark)
        .sql(")"),
    )
}

/// Up to `limit` rows after `after` (from the start when `None`), in `(received_at, reference)` order, among
/// rows stored at or before `mark`.
pub fn page(
    conn: &mut DbConnection,
    filter: &SubmissionFilter,
    mark: i64,
    after: Option<&Position>,
    limit: i64,
) -> QueryResult<Vec<SubmissionRow>> {
    let mut query = filtered(filter, mark);
    if let Some(after) = after {
        // The `>=` lets the planner range-scan the (received_at, reference) index; the `or` breaks ties.
        query = query.filter(
            submissions::received_at.ge(after.received_at).and(
                submissions::received_at
                    .gt(after.received_at)
                    .or(submissions::reference.gt(after.reference.clone())),
            ),
        );
    }
    query
        .order((submissions::received_at, submissions::reference))
        .limit(limit)
        .select(SubmissionRow::as_select())
        .load(conn)
}

/// How many rows a traversal pinned to `mark` will visit (the CLI's progress bar).
pub fn count(conn: &mut DbConnection, filter: &SubmissionFilter, mark: i64) -> QueryResult<i64> {
    filtered(filter, mark).count().get_result(conn)
}

/// Which audit events to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `occurred_at >= since`.
    pub since: Option<NaiveDateTime>,
    /// `occurred_at < until`.
    pub until: Option<NaiveDateTime>,
    /// Exact event kind, e.g. `submission_reviewed`.
    pub kind: Option<String>,
    /// The submission it concerns.
    pub reference: Option<Reference>,
    /// Who caused it (client id).
    pub actor: Option<String>,
}

/// Up to `limit` events with `seq > after_seq`, in chain order. `seq` is assigned under the chain lock, so
/// keyset paging on it never skips an event that commits later.
pub fn audit_page(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    audit_filtered(filter)
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Up to `limit` events before `before_seq` (from the newest when `None`), newest first: the console's view.
pub fn audit_page_newest(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_filtered(filter);
    if let Some(before) = before_seq {
        query = query.filter(audit_events::seq.lt(before));
    }
    query
        .order(audit_events::seq.desc())
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

fn audit_filtered(filter: &AuditFilter) -> audit_events::BoxedQuery<'_, Backend> {
    let mut query = audit_events::table.into_boxed::<Backend>();
    if let Some(since) = filter.since {
        query = query.filter(audit_events::occurred_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(audit_events::kind.eq(kind));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(audit_events::reference.eq(reference));
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_events::actor.eq(actor));
    }
    query
}
