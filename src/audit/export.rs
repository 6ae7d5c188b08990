//! The audit trail as JSON Lines, for verifiers that do not read our database (`kyc-receiver audit export`,
//! `GET /v1/audit/export`, `tools/verify_audit.py`): the newest retention checkpoint if any, then every event
//! in chain order with its columns exactly as stored, then the head the export was pinned to. Events appended
//! meanwhile are left out, so the file is one consistent prefix of the chain. Format: docs/audit-format.md.

use diesel::QueryResult;
use serde_json::json;

use crate::store::DbConnection;
use crate::store::audit_log::{self, format_timestamp};
use crate::store::retention::latest_checkpoint;

/// Events per chunk.
const PAGE: i64 = 1000;

/// Produces the export a chunk at a time.
#[derive(Debug)]
pub struct TrailExporter {
    head: Option<(i64, String)>,
    after: i64,
    done: bool,
}

impl Default for TrailExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl TrailExporter {
    /// An export of the chain as it stands at the first chunk.
    pub fn new() -> TrailExporter {
        TrailExporter {
            head: None,
            after: 0,
            done: false,
        }
    }

    /// The next lines, or `None` when the export is complete.
    pub fn next_chunk(&mut self, conn: &mut DbConnection) -> QueryResult<Option<String>> {
        if self.done {
            return Ok(None);
        }
        let mut out = String::new();
        let (head_seq, head_hash) = match &self.head {
            Some(h) => h.clone(),
            None => {
                let head = audit_log::head(conn)?;
                if let Some(cp) = latest_checkpoint(conn)? {
                    self.after = cp.seq;
                    out.push_str(
                        &json!({"type": "checkpoint", "seq": cp.seq, "hash": cp.hash,
                            "created_at": format_timestamp(cp.created_at),
                            "removed_events": cp.removed_events, "mac": cp.mac})
                        .to_string(),
                    );
                    out.push('\n');
                }
                self.head = Some(head.clone());
                head
            }
        };
        let page = audit_log::events_after(conn, self.after, PAGE)?;
        for e in page.iter().filter(|e| e.seq <= head_seq) {
            out.push_str(
                &json!({
                    "type": "event",
                    "seq": e.seq,
                    "occurred_at": format_timestamp(e.occurred_at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "reference": e.reference,
                    "requester_id": e.requester_id,
                    "details": e.details,
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                    "hash_version": e.hash_version,
                    "hash_key": e.hash_key,
                })
                .to_string(),
            );
            out.push('\n');
        }
        match page.last() {
            Some(last) if last.seq < head_seq => self.after = last.seq,
            _ => {
                out.push_str(
                    &json!({"type": "head", "seq": head_seq, "hash": head_hash}).to_string(),
                );
                out.push('\n');
                self.done = true;
            }
        }
        Ok(Some(out))
    }
}
