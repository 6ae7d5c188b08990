//! Reading and verifying the audit trail. Appends live in `store::audit_log` (they share the transaction of
//! the action they record); this module walks the chain in `seq` order and reports the first event whose
//! content, order or presence was changed, and checks every submission row against its `content_hash` and
//! against its own history: the content hash the last event about it recorded (`submission_stored`,
//! `submission_reviewed`, `subject_erased`, `data_keys_rotated`). A row rewritten with a recomputed hash still
//! contradicts its history; rewriting the history too breaks the chain, which signed heads kept outside the
//! database catch ([`heads`]).

pub mod export;
pub mod heads;

use std::collections::HashMap;

use diesel::QueryResult;
use serde::Serialize;

use crate::store::DbConnection;
use crate::store::audit_log::{self, AuditEvent, AuditKey, event_hash, keyed_event_hash};
use crate::store::retention::{checkpoint_mac, latest_checkpoint};
use crate::store::submissions;
use crate::submission::Reference;

/// Events read per query while walking the chain.
const PAGE: i64 = 1000;

/// The hash before the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// True when nothing was found wrong.
    pub ok: bool,
    /// Events walked.
    pub events_checked: u64,
    /// Submission rows checked against their content hash.
    pub submissions_checked: u64,
    /// The first problem in the chain, if any.
    pub first_broken_event: Option<Problem>,
    /// Submissions whose stored content no longer matches their hash (at most 100 listed).
    pub changed_submissions: Vec<Reference>,
    /// Submissions that match their hash but not their history (`row_mismatch`; at most 100 listed).
    pub record_problems: Vec<RecordProblem>,
    /// The chain head verified up to.
    pub head: Option<HeadRef>,
    /// Signed heads checked against the chain (`audit verify --heads`).
    pub heads_checked: u64,
    /// Why the signed heads could not be used (a line that is not a head, or whose signature does not verify).
    pub heads_error: Option<String>,
}

/// A record that does not match the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecordProblem {
    /// The record.
    pub reference: Reference,
    /// `row_mismatch`.
    pub kind: &'static str,
    /// A sentence for people.
    pub detail: String,
}

/// A position in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HeadRef {
    /// Sequence number of the last event.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// The content hash each record's last event recorded (`None`: its events predate recorded hashes).
#[derive(Default)]
struct History {
    last: HashMap<String, Option<String>>,
}

impl History {
    fn note(&mut self, event: &AuditEvent) {
        let kind = event.kind.as_str();
        if !matches!(
            kind,
            "submission_stored" | "submission_reviewed" | "subject_erased" | "data_keys_rotated"
        ) {
            return;
        }
        let Ok(details) = serde_json::from_str::<serde_json::Value>(&event.details) else {
            return;
        };
        if let (Some(reference), "submission_stored" | "submission_reviewed") =
            (&event.reference, kind)
        {
            let hash = details["content_hash"].as_str().map(str::to_string);
            self.last.insert(reference.as_str().to_string(), hash);
        }
        if let Some(map) = details["content_hashes"].as_object() {
            for (reference, hash) in map {
                self.last
                    .insert(reference.clone(), hash.as_str().map(str::to_string));
            }
        }
    }
}

/// One problem, located by sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The event at which the chain stops holding.
    pub seq: i64,
    /// `content_changed`, `missing`, `order_changed`, `truncated`, `head_contradicted` or `checkpoint_forged`.
    pub kind: &'static str,
    /// A sentence for people.
    pub detail: String,
}

/// Walks the whole chain and every submission without the audit key: the links between events, the plain
/// event hashes of version 1 and the records' history are checked; the keyed hashes of version 2 and the
/// retention checkpoint's MAC are not. Use [`verify_with_key`] where the storage keys are at hand.
pub fn verify(conn: &mut DbConnection) -> QueryResult<VerifyReport> {
    verify_with_key(conn, None)
}

/// Like [`verify`], and with `key` checks every keyed event hash and the newest retention checkpoint's MAC.
pub fn verify_with_key(
    conn: &mut DbConnection,
    key: Option<&AuditKey>,
) -> QueryResult<VerifyReport> {
    let checkpoint_key = key.map(|k| &k.checkpoint_key()[..]);
    let mut report = VerifyReport {
        ok: true,
        events_checked: 0,
        submissions_checked: 0,
        first_broken_event: None,
        changed_submissions: Vec::new(),
        record_problems: Vec::new(),
        head: None,
        heads_checked: 0,
        heads_error: None,
    };
    let mut history = History::default();
    let mut cut = false;
    // Once events are keyed, a plain one after them can only be a rewrite by someone without the key.
    let mut keyed_seen = false;
    let (mut expected_seq, mut prev_hash) = (1i64, GENESIS_HASH.to_string());
    let mut after = 0i64;
    // Retention removed a prefix: the chain now starts after the newest checkpoint.
    if let Some(cp) = latest_checkpoint(conn)? {
        if let Some(key) = checkpoint_key
            && checkpoint_mac(key, cp.seq, &cp.hash, cp.created_at, cp.removed_events) != cp.mac
        {
            report.first_broken_event = Some(Problem {
                seq: cp.seq,
                kind: "checkpoint_forged",
                detail: format!(
                    "the retention checkpoint at event {} does not carry a valid MAC",
                    cp.seq
                ),
            });
        }
        expected_seq = cp.seq + 1;
        prev_hash = cp.hash;
        after = cp.seq;
        cut = true;
    }
    'walk: loop {
        if report.first_broken_event.is_some() {
            break;
        }
        let page: Vec<AuditEvent> = audit_log::events_after(conn, after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for event in page {
            report.events_checked += 1;
            if let Some(problem) = check_event(&event, expected_seq, &prev_hash, key) {
                report.first_broken_event = Some(problem);
                break 'walk;
            }
            if event.hash_version == 1 && keyed_seen {
                report.first_broken_event = Some(Problem {
                    seq: event.seq,
                    kind: "content_changed",
                    detail: format!(
                        "event {} carries a plain hash after keyed events: it was rewritten without the audit key",
                        event.seq
                    ),
                });
                break 'walk;
            }
            keyed_seen |= event.hash_version == 2;
            history.note(&event);
            expected_seq = event.seq + 1;
            prev_hash = event.hash;
        }
    }
    report.head = Some(HeadRef {
        seq: expected_seq - 1,
        hash: prev_hash.clone(),
    });
    if report.first_broken_event.is_none() {
        let (head_seq, head_hash) = audit_log::head(conn)?;
        if head_seq != expected_seq - 1 || head_hash != prev_hash {
            report.first_broken_event = Some(Problem {
                seq: expected_seq,
                kind: "truncated",
                detail: format!(
                    "the chain ends at event {} but its head records event {head_seq}: events were removed from the end",
                    expected_seq - 1
                ),
            });
        }
    }
    check_submissions(conn, &mut report, &history, cut)?;
    report.ok = report.first_broken_event.is_none()
        && report.changed_submissions.is_empty()
        && report.record_problems.is_empty();
    Ok(report)
}

/// [`verify_with_key`], then every signed head in `heads` (already read and signature-checked, see
/// [`heads::read`]) against the chain: the first head it contradicts becomes the reported problem.
pub fn verify_with_heads(
    conn: &mut DbConnection,
    key: Option<&AuditKey>,
    heads: Result<Vec<heads::SignedHead>, String>,
) -> QueryResult<VerifyReport> {
    let mut report = verify_with_key(conn, key)?;
    match heads {
        Ok(heads) => {
            let (checked, problem) = heads::check(conn, &heads)?;
            report.heads_checked = checked;
            if let Some(problem) = problem {
                let earlier = report
                    .first_broken_event
                    .as_ref()
                    .is_some_and(|p| p.seq <= problem.seq);
                if !earlier {
                    report.first_broken_event = Some(problem);
                }
            }
        }
        Err(e) => report.heads_error = Some(e),
    }
    report.ok = report.ok && report.first_broken_event.is_none() && report.heads_error.is_none();
    Ok(report)
}

fn check_event(
    event: &AuditEvent,
    expected_seq: i64,
    prev_hash: &str,
    key: Option<&AuditKey>,
) -> Option<Problem> {
    if event.seq != expected_seq {
        return Some(Problem {
            seq: expected_seq,
            kind: "missing",
            detail: format!(
                "event {expected_seq} is missing (next present is {})",
                event.seq
            ),
        });
    }
    if event.prev_hash != prev_hash {
        return Some(Problem {
            seq: event.seq,
            kind: "order_changed",
            detail: format!(
                "event {} does not follow event {}: events were reordered, replaced or rewritten",
                event.seq,
                event.seq - 1
            ),
        });
    }
    let content_ok = match (event.hash_version, key) {
        (1, _) => event_hash(event) == event.hash,
        (2, None) => true,
        (2, Some(key)) if event.hash_key.as_deref().is_some_and(|id| key.knows(id)) => {
            keyed_event_hash(event, key).as_deref() == Some(event.hash.as_str())
        }
        (2, Some(key)) => {
            return Some(Problem {
                seq: event.seq,
                kind: "content_changed",
                detail: format!(
                    "event {} claims audit key {}, which is not configured (the active key is {}): it was not \
                     written with this service's keys, or an older key was removed from storage.audit_keys",
                    event.seq,
                    event.hash_key.as_deref().unwrap_or("(none)"),
                    key.id()
                ),
            });
        }
        _ => false,
    };
    if !content_ok {
        return Some(Problem {
            seq: event.seq,
            kind: "content_changed",
            detail: format!(
                "event {} does not match its hash: its content was changed",
                event.seq
            ),
        });
    }
    None
}

fn check_submissions(
    conn: &mut DbConnection,
    report: &mut VerifyReport,
    history: &History,
    cut: bool,
) -> QueryResult<()> {
    let mut after: Option<Reference> = None;
    loop {
        let page = submissions::page_by_reference(conn, after.as_ref(), PAGE)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.reference.clone());
        for row in page {
            report.submissions_checked += 1;
            if !row.content_hash_ok() {
                if report.changed_submissions.len() < 100 {
                    report.changed_submissions.push(row.reference);
                }
                continue;
            }
            let detail = match history.last.get(row.reference.as_str()) {
                // Recorded before events carried content hashes: nothing to compare with.
                Some(None) => None,
                Some(Some(hash)) if *hash == row.content_hash => None,
                Some(Some(_)) => Some(
                    "the row matches its own hash but not the hash its last audit event recorded: it was \
                     rewritten with a recomputed hash"
                        .to_string(),
                ),
                // Retention may have removed the events of old records along with a prefix of the chain.
                None if cut => None,
                None => Some("no audit event records this row: it was inserted behind the trail".into()),
            };
            if let Some(detail) = detail
                && report.record_problems.len() < 100
            {
                report.record_problems.push(RecordProblem {
                    reference: row.reference,
                    kind: "row_mismatch",
                    detail,
                });
            }
        }
    }
}
