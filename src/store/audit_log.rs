//! Appending to the hash-chained audit trail. Appends happen inside the transaction of the action they record,
//! so an event exists exactly when its action committed. Every append first updates the single `audit_head` row,
//! which takes a row lock on PostgreSQL and the write lock on SQLite: appenders are serialised and `seq` is a
//! total order even with several instances writing. The `audit` module above reads and verifies the chain.

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{DbConnection, audit_events, audit_head};
use crate::submission::Reference;

/// An event about to be appended. `details` must be free of personal data.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// What happened, e.g. `submission_stored`.
    pub kind: String,
    /// Who caused it (client id), when known.
    pub actor: Option<String>,
    /// The submission it concerns, when there is one.
    pub reference: Option<Reference>,
    /// The upstream's request id, when known and well-formed.
    pub requester_id: Option<String>,
    /// Event-specific facts (codes, counts, key labels); never personal values.
    pub details: Value,
}

/// A stored audit event.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub struct AuditEvent {
    /// Position in the chain, from 1 without gaps.
    pub seq: i64,
    /// When it was appended (UTC, microseconds).
    pub occurred_at: NaiveDateTime,
    /// What happened.
    pub kind: String,
    /// Who caused it.
    pub actor: Option<String>,
    /// The submission it concerns.
    pub reference: Option<Reference>,
    /// The upstream request id.
    pub requester_id: Option<String>,
    /// JSON text of the details.
    pub details: String,
    /// Hash of the previous event (64 zeros for the first).
    pub prev_hash: String,
    /// This event's hash, see [`event_hash`].
    pub hash: String,
    /// 1: plain SHA-256 (events written before keyed hashes); 2: HMAC-SHA256 under the audit key `hash_key`.
    pub hash_version: i32,
    /// The id of the audit key of a version 2 hash.
    pub hash_key: Option<String>,
}

/// The key that MACs audit events (and the retention checkpoints), derived from the storage search key so it
/// lives where the data keys live, never in the database. Its id (the first 16 hex digits of the key's SHA-256)
/// is stored with each event, so a verifier knows which key an event needs. The MAC key may be handed to an
/// auditor's verifier: it is one-way derived, and reveals neither the search key nor the checkpoint key.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    mac: [u8; 32],
    checkpoint: [u8; 32],
    /// Keys of earlier events (rotation): they verify, they never MAC new events.
    older: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A key from its MAC key and the retention checkpoints' key; its id is derived from the key.
    pub fn new(mac: [u8; 32], checkpoint: [u8; 32]) -> AuditKey {
        AuditKey {
            id: hex::encode(Sha256::digest(mac))[..16].to_string(),
            mac,
            checkpoint,
            older: Vec::new(),
        }
    }

    /// Configured keys: the active one (id, key) MACs new events, `older` ones still verify earlier events.
    pub fn configured(
        active: (String, [u8; 32]),
        older: Vec<(String, [u8; 32])>,
        checkpoint: [u8; 32],
    ) -> AuditKey {
        AuditKey {
            id: active.0,
            mac: active.1,
            checkpoint,
            older,
        }
    }

    /// The MAC key of `id`, if it is this key or one of the older ones.
    fn mac_of(&self, id: &str) -> Option<&[u8; 32]> {
        if id == self.id {
            return Some(&self.mac);
        }
        self.older.iter().find(|(k, _)| k == id).map(|(_, m)| m)
    }

    /// Whether events MAC'd under `id` can be verified.
    pub fn knows(&self, id: &str) -> bool {
        self.mac_of(id).is_some()
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every MAC key with its id, the active one first (for `kyc-receiver audit mac-key`, to hand to an
    /// independent verifier).
    pub fn mac_keys(&self) -> Vec<(&str, &[u8; 32])> {
        std::iter::once((self.id.as_str(), &self.mac))
            .chain(self.older.iter().map(|(id, k)| (id.as_str(), k)))
            .collect()
    }

    /// The retention checkpoints' MAC key.
    pub fn checkpoint_key(&self) -> &[u8; 32] {
        &self.checkpoint
    }

    fn mac_hex(key: &[u8; 32], bytes: &[u8]) -> String {
        use hmac::Mac;
        let mut mac =
            <hmac::Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }
}

// HMAC takes keys of any length; a 32-byte key cannot be refused.
fn unreachable_hmac() -> hmac::Hmac<Sha256> {
    use hmac::Mac;
    match <hmac::Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// The chain head held for the length of one transaction. It also hands out decision-event sequence numbers
/// (`audit_head.event_seq`): events are written under the same lock, so their commit order is their order.
pub struct ChainCursor {
    seq: i64,
    hash: String,
    event_seq: i64,
    key: AuditKey,
}

impl ChainCursor {
    /// Locks the head row (a no-op update) and reads it. Call inside a transaction. New events are MAC'd
    /// with `key`.
    pub fn lock(conn: &mut DbConnection, key: &AuditKey) -> QueryResult<ChainCursor> {
        diesel::update(audit_head::table.find(1))
            .set(audit_head::seq.eq(audit_head::seq))
            .execute(conn)?;
        let (seq, hash, event_seq) = audit_head::table
            .find(1)
            .select((audit_head::seq, audit_head::hash, audit_head::event_seq))
            .first::<(i64, String, i64)>(conn)?;
        Ok(ChainCursor {
            seq,
            hash,
            event_seq,
            key: key.clone(),
        })
    }

    /// The next decision event's sequence number.
    pub fn next_event_seq(&mut self) -> i64 {
        self.event_seq += 1;
        self.event_seq
    }

    /// Appends one event after the current head.
    pub fn append(
        &mut self,
        conn: &mut DbConnection,
        draft: &AuditDraft,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        let event = self.next_event(draft, now);
        diesel::insert_into(audit_events::table)
            .values(&event)
            .execute(conn)?;
        Ok(event.seq)
    }

    /// The next event of the chain, hashed, with the cursor moved past it; the caller inserts it (with others,
    /// see [`insert_events`]) in the same transaction before [`ChainCursor::save`].
    pub fn next_event(&mut self, draft: &AuditDraft, now: NaiveDateTime) -> AuditEvent {
        let mut event = AuditEvent {
            seq: self.seq + 1,
            occurred_at: truncate_to_micros(now),
            kind: draft.kind.clone(),
            actor: draft.actor.clone(),
            reference: draft.reference.clone(),
            requester_id: draft.requester_id.clone(),
            details: draft.details.to_string(),
            prev_hash: self.hash.clone(),
            hash: String::new(),
            hash_version: 2,
            hash_key: Some(self.key.id.clone()),
        };
        event.hash = keyed_event_hash(&event, &self.key).unwrap_or_default();
        self.seq = event.seq;
        self.hash.clone_from(&event.hash);
        event
    }

    /// Writes the new head back; call once before the transaction commits.
    pub fn save(self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::update(audit_head::table.find(1))
            .set((
                audit_head::seq.eq(self.seq),
                audit_head::hash.eq(self.hash),
                audit_head::event_seq.eq(self.event_seq),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// The chain head as stored: the last event's sequence number and hash.
pub fn head(conn: &mut DbConnection) -> QueryResult<(i64, String)> {
    audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)
}

/// Up to `limit` events with `seq > after`, in chain order.
pub fn events_after(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::seq.gt(after))
        .order(audit_events::seq)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The first `limit` events about one submission, in chain order.
pub fn events_of(
    conn: &mut DbConnection,
    reference: &Reference,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::reference.eq(reference))
        .order(audit_events::seq)
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Inserts events made by [`ChainCursor::next_event`], many rows per statement.
pub fn insert_events(conn: &mut DbConnection, events: &[AuditEvent]) -> QueryResult<()> {
    for chunk in events.chunks(super::ROWS_PER_INSERT) {
        super::insert_many!(conn, audit_events::table, chunk)?;
    }
    Ok(())
}

/// HMAC-SHA256 (hex) of a version 2 event's canonical encoding, under the key its `hash_key` names: the JSON
/// array `[2, hash_key, seq, occurred_at, kind, actor, reference, requester_id, details, prev_hash]`
/// (docs/audit-format.md). `None` when `key` does not know that key.
pub fn keyed_event_hash(event: &AuditEvent, key: &AuditKey) -> Option<String> {
    let mac = key.mac_of(event.hash_key.as_deref()?)?;
    let canonical = serde_json::json!([
        2,
        event.hash_key,
        event.seq,
        format_timestamp(event.occurred_at),
        event.kind,
        event.actor,
        event.reference,
        event.requester_id,
        event.details,
        event.prev_hash,
    ]);
    Some(AuditKey::mac_hex(mac, canonical.to_string().as_bytes()))
}

/// SHA-256 (hex) of a version 1 event's canonical encoding: a JSON array of every column but `hash`, in column
/// order, with the timestamp as RFC 3339 in microseconds. JSON arrays of strings and integers serialise one way
/// only. Events written before keyed hashes keep verifying under this rule.
pub fn event_hash(event: &AuditEvent) -> String {
    let canonical = serde_json::json!([
        event.seq,
        format_timestamp(event.occurred_at),
        event.kind,
        event.actor,
        event.reference,
        event.requester_id,
        event.details,
        event.prev_hash,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// RFC 3339 UTC with microseconds, the one text form of timestamps in hashes and API output.
pub fn format_timestamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Both backends keep microseconds; truncating first makes hashes computed before and after storage agree.
pub fn truncate_to_micros(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// Appends one event in a transaction of its own, for processes without a writer (the operator CLI). The head
/// lock serialises it with a running service's writers.
pub fn append_alone(
    conn: &mut DbConnection,
    key: &AuditKey,
    draft: &AuditDraft,
) -> QueryResult<i64> {
    in_chain(conn, key, |c, cursor| {
        cursor.append(c, draft, chrono::Utc::now().naive_utc())
    })
}

/// Runs `work` in a transaction of its own holding the chain's head, and saves the head after it: for an
/// operator's change and the events that record it.
pub fn in_chain<T>(
    conn: &mut DbConnection,
    key: &AuditKey,
    work: impl FnOnce(&mut DbConnection, &mut ChainCursor) -> QueryResult<T>,
) -> QueryResult<T> {
    conn.transaction(|c| {
        let mut cursor = ChainCursor::lock(c, key)?;
        let out = work(c, &mut cursor)?;
        cursor.save(c)?;
        Ok(out)
    })
}
