//! `kyc-receiver mappings diff --candidate DIR`: what a candidate mapping set would change, before it is put
//! in place. It runs the candidate through the whole intake (envelope, mapping, images, rules) for every
//! quarantined body and every stored submission whose raw payload is kept (`storage.keep_raw_payload`), each
//! at its original arrival time so expiry rules judge as they did, and prints the decisions and reasons that
//! would change. Nothing is stored; the opened bodies never leave this process.

use std::path::Path;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::intake::{self, IntakeContext};
use crate::mapping::MappingSet;
use crate::protect::Protection;
use crate::quarantine;
use crate::store::quarantine::{self as rows, QuarantineFilter};
use crate::store::{DbConnection, submission_images, submissions_table as submissions};
use crate::submission::Reference;
use kyc_crypto::CipherProfile;

/// One submission's outcome: a decision with reasons, or a refusal code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// `approved`, `rejected`, `pending_review`, or the refusal's error code.
    pub result: String,
    /// Reason codes (sorted), empty for a refusal.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.result, self.reasons.join(","))
    }
}

/// One submission whose outcome would change.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// A record's reference or a quarantine entry's id.
    pub id: String,
    /// Today's outcome.
    pub now: Outcome,
    /// The candidate's.
    pub candidate: Outcome,
}

/// The whole comparison.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    /// Quarantined bodies compared.
    pub quarantine_compared: usize,
    /// Stored submissions compared (those with a kept raw payload).
    pub records_compared: usize,
    /// Those whose outcome would change.
    pub changes: Vec<Change>,
    /// Quarantined bodies the candidate would store.
    pub would_store: usize,
    /// Sealed bodies that could not be opened with today's keys (skipped).
    pub unreadable: usize,
}

/// What to compare.
pub struct DiffInput<'a> {
    /// The candidate set.
    pub candidate: &'a MappingSet,
    /// Opens request bodies.
    pub cipher: &'a CipherProfile,
    /// Opens sealed data (and seals images as intake does, in memory only).
    pub protection: &'a Protection,
    /// Only what arrived at or after this instant.
    pub since: Option<NaiveDateTime>,
    /// Most records and most quarantine entries compared (each).
    pub limit: i64,
}

/// Compares today's outcomes with the candidate's.
pub fn diff(conn: &mut DbConnection, input: &DiffInput<'_>) -> Result<DiffReport, String> {
    let db = |e: diesel::result::Error| format!("database error: {e}");
    let mut report = DiffReport::default();
    let filter = QuarantineFilter {
        state: Some(rows::QUARANTINED.into()),
        since: input.since,
        ..QuarantineFilter::default()
    };
    for meta in rows::list(conn, &filter, None, input.limit).map_err(db)? {
        let Some(row) = rows::get(conn, &meta.id).map_err(db)? else {
            continue;
        };
        let Ok(Some(body)) = quarantine::open_body(input.protection, &row) else {
            report.unreadable += 1;
            continue;
        };
        report.quarantine_compared += 1;
        let now = Outcome {
            result: row.error_code.clone(),
            reasons: Vec::new(),
        };
        let ctx = IntakeContext {
            client_id: Some(row.client_id.clone()),
            key_label: None,
            received_at: row.received_at.and_utc(),
        };
        let plaintext = match intake::open(&body, input.cipher, &mut ctx.clone()) {
            Ok(p) => p,
            Err(_) => continue,
        };
        let candidate = outcome(&plaintext, &ctx, input);
        if candidate != now {
            if crate::decision::Status::ALL
                .iter()
                .any(|s| s.as_str() == candidate.result)
            {
                report.would_store += 1;
            }
            report.changes.push(Change {
                id: row.id.clone(),
                now,
                candidate,
            });
        }
    }
    let mut query = submission_images::table
        .inner_join(submissions::table)
        .filter(submission_images::kind.eq("raw_payload"))
        .into_boxed::<crate::store::Backend>();
    if let Some(since) = input.since {
        query = query.filter(submissions::received_at.ge(since));
    }
    let refs: Vec<Reference> = query
        .order(submissions::received_at)
        .limit(input.limit)
        .select(submission_images::reference)
        .load(conn)
        .map_err(db)?;
    for reference in refs {
        let Some(image) =
            crate::store::images::find(conn, &reference, "raw_payload").map_err(db)?
        else {
            continue;
        };
        let Ok(plaintext) = input.protection.open_image(&reference, &image) else {
            report.unreadable += 1;
            continue;
        };
        let (received_at, client_id, decision, reasons): (
            NaiveDateTime,
            Option<String>,
            crate::decision::Status,
            String,
        ) = submissions::table
            .find(&reference)
            .select((
                submissions::received_at,
                submissions::client_id,
                submissions::decision,
                submissions::reasons,
            ))
            .first(conn)
            .map_err(db)?;
        report.records_compared += 1;
        let mut stored: Vec<String> = serde_json::from_str(&reasons).unwrap_or_default();
        stored.sort();
        let now = Outcome {
            result: decision.as_str().to_string(),
            reasons: stored,
        };
        let ctx = IntakeContext {
            client_id,
            key_label: None,
            received_at: received_at.and_utc(),
        };
        let candidate = outcome(&plaintext, &ctx, input);
        if candidate != now {
            report.changes.push(Change {
                id: reference.as_str().to_string(),
                now,
                candidate,
            });
        }
    }
    Ok(report)
}

/// The candidate's outcome for one decrypted payload.
fn outcome(plaintext: &[u8], ctx: &IntakeContext, input: &DiffInput<'_>) -> Outcome {
    match intake::prepare(plaintext, ctx, input.candidate, input.protection) {
        Ok(prepared) => {
            let decision = &prepared.submission.decision;
            let mut reasons: Vec<String> = decision
                .reason_codes()
                .iter()
                .map(|r| r.to_string())
                .collect();
            reasons.sort();
            Outcome {
                result: decision.status.as_str().to_string(),
                reasons,
            }
        }
        Err(refusal) => {
            let err = crate::api::ApiError::from(refusal.error);
            Outcome {
                result: err.code().to_string(),
                reasons: Vec::new(),
            }
        }
    }
}

/// Prints the report: counts, then one line per change.
pub fn print(report: &DiffReport, candidate: &Path) {
    println!(
        "candidate {}: compared {} quarantined bod(y/ies) and {} stored submission(s) with a kept payload",
        candidate.display(),
        report.quarantine_compared,
        report.records_compared
    );
    if report.unreadable > 0 {
        println!(
            "{} sealed bod(y/ies) could not be opened with today's keys (skipped)",
            report.unreadable
        );
    }
    for c in &report.changes {
        println!("  {}  {}  ->  {}", c.id, c.now, c.candidate);
    }
    println!(
        "{} outcome(s) would change; {} quarantined submission(s) would be stored",
        report.changes.len(),
        report.would_store
    );
}
