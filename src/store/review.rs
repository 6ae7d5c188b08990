//! Reviewer decisions on `pending_review` submissions. [`apply`] runs inside a writer transaction that holds
//! the audit chain lock: it inserts the `reviews` row, moves the submission's `status`, recomputes its
//! `content_hash`, and appends the `submission_reviewed` event — all or nothing. The lock serialises reviews
//! across writer threads and instances, so of two concurrent reviews of one case exactly one wins.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit_log::{AuditDraft, ChainCursor, truncate_to_micros};
use super::schema::{console_claims, console_proposals};
use super::{DbConnection, reviews, submissions, submissions_table};
use crate::decision::{ReviewDecision, Status};
use crate::submission::Reference;

/// One stored review.
#[derive(Debug, Clone, Insertable, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = reviews)]
pub struct ReviewRow {
    /// Review id (UUID v7).
    pub id: String,
    /// The submission reviewed.
    pub reference: Reference,
    /// The reviewer's client id.
    pub reviewer: String,
    /// The reviewer's decision.
    pub decision: ReviewDecision,
    /// The reviewer's note (free text; kept out of audit events, which carry its SHA-256 instead).
    pub note: String,
    /// When it was recorded (UTC).
    pub created_at: NaiveDateTime,
}

/// A review to record.
#[derive(Debug, Clone)]
pub struct ReviewRequest {
    /// The submission.
    pub reference: Reference,
    /// The reviewer's client id.
    pub reviewer: String,
    /// The reviewer's decision.
    pub decision: ReviewDecision,
    /// The note.
    pub note: String,
    /// A keyed hash of the note for the audit event (the note itself stays out of the trail, and a plain hash
    /// of text that names a person could be confirmed by guessing).
    pub note_hmac: String,
    /// With four eyes: who proposed the decision that `reviewer` confirms.
    pub proposed_by: Option<String>,
}

/// What became of a review request.
#[derive(Debug, Clone)]
pub enum ReviewOutcome {
    /// Recorded; the case now has the review's decision as its status.
    Reviewed(ReviewRow),
    /// No submission with this reference.
    NotFound,
    /// The case is not pending review (already resolved, or decided automatically).
    NotPending {
        /// Its current status.
        status: Status,
    },
    /// The stored row no longer matches its `content_hash`; reviewing it would launder the change.
    IntegrityMismatch,
}

/// The reviews of one submission, oldest first.
pub fn list(conn: &mut DbConnection, reference: &Reference) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .filter(reviews::reference.eq(reference))
        .order((reviews::created_at, reviews::id))
        .select(ReviewRow::as_select())
        .load(conn)
}

/// Records a review. Call inside a transaction that holds `cursor` (see the module comment).
pub fn apply(
    conn: &mut DbConnection,
    cursor: &mut ChainCursor,
    request: &ReviewRequest,
    now: NaiveDateTime,
    emit_event: bool,
) -> QueryResult<ReviewOutcome> {
    let Some(mut row) = submissions::find(conn, &request.reference)? else {
        return Ok(ReviewOutcome::NotFound);
    };
    if row.status != Status::PendingReview {
        return Ok(ReviewOutcome::NotPending { status: row.status });
    }
    if !row.content_hash_ok() {
        return Ok(ReviewOutcome::IntegrityMismatch);
    }
    let review = ReviewRow {
        id: uuid::Uuid::now_v7().to_string(),
        reference: row.reference.clone(),
        reviewer: request.reviewer.clone(),
        decision: request.decision,
        note: request.note.clone(),
        created_at: truncate_to_micros(now),
    };
    diesel::insert_into(reviews::table)
        .values(&review)
        .execute(conn)?;
    row.status = request.decision.status();
    row.content_hash = row.compute_content_hash();
    let updated = diesel::update(
        submissions_table::table
            .find(&row.reference)
            .filter(submissions_table::status.eq(Status::PendingReview)),
    )
    .set((
        submissions_table::status.eq(row.status),
        submissions_table::content_hash.eq(&row.content_hash),
    ))
    .execute(conn)?;
    if updated != 1 {
        // Cannot happen under the chain lock; refuse rather than record a review that changed nothing.
        return Err(diesel::result::Error::RollbackTransaction);
    }
    cursor.append(
        conn,
        &AuditDraft {
            kind: "submission_reviewed".into(),
            actor: Some(request.reviewer.clone()),
            reference: Some(row.reference.clone()),
            requester_id: Some(row.requester_id.clone()),
            details: json!({
                "review_id": review.id,
                "from": Status::PendingReview,
                "to": row.status,
                "note_hmac": request.note_hmac,
                "proposed_by": request.proposed_by,
                "content_hash": row.content_hash,
            }),
        },
        now,
    )?;
    if emit_event {
        let event = super::events::submission_event(
            cursor,
            "submission.reviewed",
            &row,
            Some(super::events::ReviewFacts {
                id: &review.id,
                reviewer: &request.reviewer,
                proposed_by: request.proposed_by.as_deref(),
            }),
            None,
            now,
        );
        super::events::insert(conn, std::slice::from_ref(&event))?;
    }
    // The case is decided: its console claim and any four-eyes proposal go with the decision.
    diesel::delete(console_claims::table.find(&row.reference)).execute(conn)?;
    diesel::delete(console_proposals::table.find(&row.reference)).execute(conn)?;
    Ok(ReviewOutcome::Reviewed(review))
}
