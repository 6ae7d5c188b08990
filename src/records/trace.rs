//! "Did push X arrive, and what happened to it?": everything known about one requester id — the audit events
//! that name it or its records (refused, quarantined, replayed, stored, reviewed, read), the records and the
//! quarantine entries — in the order it happened. `kyc-receiver trace` and `GET /v1/trace` print it.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::decision::Status;
use crate::quarantine::EntryView;
use crate::store::audit_log::format_timestamp;
use crate::store::quarantine::{self as quarantined, QuarantineFilter};
use crate::store::{DbConnection, audit_events, submissions_table as submissions};
use crate::submission::Reference;

/// Most events a trace shows.
pub const MAX_TRACE_EVENTS: i64 = 1000;

/// One step of the story: an audit event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TraceStep {
    /// Its sequence number in the audit trail.
    pub seq: i64,
    /// When (RFC 3339).
    pub at: String,
    /// What happened (`submission_refused`, `submission_quarantined`, `quarantine_replayed`,
    /// `submission_stored`, `submission_reviewed`, …).
    pub kind: String,
    /// Who caused it.
    pub actor: Option<String>,
    /// The record concerned.
    pub reference: Option<String>,
    /// The event's facts (codes, statuses, quarantine ids; never personal values).
    #[schema(value_type = Object)]
    pub details: Value,
}

/// A record of the requester id, as it stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TraceRecord {
    /// Its reference.
    pub reference: String,
    /// When it was received.
    pub received_at: String,
    /// The client that pushed it.
    pub client_id: Option<String>,
    /// The automatic decision.
    pub decision: String,
    /// The current status.
    pub status: String,
}

/// The whole story of one requester id.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Trace {
    /// The requester id asked about.
    pub requester_id: String,
    /// Its stored records (one per client that used it).
    pub records: Vec<TraceRecord>,
    /// Its quarantine entries.
    pub quarantine: Vec<EntryView>,
    /// The audit events, in the order they happened (at most [`MAX_TRACE_EVENTS`]).
    pub events: Vec<TraceStep>,
}

/// Reads the story of `requester_id`.
pub fn trace(conn: &mut DbConnection, requester_id: &str) -> QueryResult<Trace> {
    let rows: Vec<(
        Reference,
        chrono::NaiveDateTime,
        Option<String>,
        Status,
        Status,
    )> = submissions::table
        .filter(submissions::requester_id.eq(requester_id))
        .order(submissions::received_at)
        .select((
            submissions::reference,
            submissions::received_at,
            submissions::client_id,
            submissions::decision,
            submissions::status,
        ))
        .load(conn)?;
    let references: Vec<Reference> = rows.iter().map(|r| r.0.clone()).collect();
    type EventRow = (
        i64,
        chrono::NaiveDateTime,
        String,
        Option<String>,
        Option<Reference>,
        String,
    );
    let events: Vec<EventRow> = audit_events::table
        // Events about a record are found by its reference; the others (refusals, quarantine) by requester id,
        // through the partial index that holds only events without a reference.
        .filter(
            audit_events::requester_id
                .eq(requester_id)
                .and(audit_events::reference.is_null())
                .or(audit_events::reference.eq_any(&references)),
        )
        .order(audit_events::seq)
        .limit(MAX_TRACE_EVENTS)
        .select((
            audit_events::seq,
            audit_events::occurred_at,
            audit_events::kind,
            audit_events::actor,
            audit_events::reference,
            audit_events::details,
        ))
        .load(conn)?;
    let filter = QuarantineFilter {
        requester_id: Some(requester_id.to_string()),
        ..QuarantineFilter::default()
    };
    let entries = quarantined::list(conn, &filter, None, MAX_TRACE_EVENTS)?;
    Ok(Trace {
        requester_id: requester_id.to_string(),
        records: rows
            .into_iter()
            .map(|(reference, at, client_id, decision, status)| TraceRecord {
                reference: reference.as_str().to_string(),
                received_at: format_timestamp(at),
                client_id,
                decision: decision.as_str().to_string(),
                status: status.as_str().to_string(),
            })
            .collect(),
        quarantine: entries.into_iter().map(EntryView::from).collect(),
        events: events
            .into_iter()
            .map(|(seq, at, kind, actor, reference, details)| TraceStep {
                seq,
                at: format_timestamp(at),
                kind,
                actor,
                reference: reference.map(|r| r.as_str().to_string()),
                details: serde_json::from_str(&details).unwrap_or(Value::Null),
            })
            .collect(),
    })
}
