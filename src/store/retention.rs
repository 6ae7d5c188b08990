//! Retention: deletes, in batches, images and records older than their configured age and audit events older
//! than theirs. Each batch is one transaction with a PII-free audit event (counts and reference range). A
//! removed prefix of the audit chain leaves a checkpoint (the last removed event's hash, with a MAC), so what
//! remains still verifies. `now` is passed in, so tests control the clock.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::audit_log::{AuditDraft, AuditKey, ChainCursor, format_timestamp, truncate_to_micros};
use super::{
    DbConnection, audit_checkpoints, audit_events, submission_images,
    submissions_table as submissions,
};
use crate::config::RetentionSettings;

/// Ages in days (0 keeps forever) and the batch size.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RetentionPolicy {
    /// Images are deleted this many days after their submission arrived.
    pub images_days: u32,
    /// Records (with their reviews and images) are deleted after this many days.
    pub records_days: u32,
    /// Audit events are removed after this many days (behind a checkpoint).
    pub audit_days: u32,
    /// Quarantine entries are deleted this many days after they arrived (`quarantine.retention_days`).
    pub quarantine_days: u32,
    /// Decision events are deleted this many days after they happened (`events.retention_days`), once every
    /// webhook endpoint is past them and none is a dead letter.
    pub events_days: u32,
    /// Rows per transaction.
    pub batch_size: i64,
}

impl From<&RetentionSettings> for RetentionPolicy {
    fn from(settings: &RetentionSettings) -> Self {
        RetentionPolicy {
            images_days: settings.images_days,
            records_days: settings.records_days,
            audit_days: settings.audit_days,
            quarantine_days: 0,
            events_days: 0,
            batch_size: settings.batch_size,
        }
    }
}

impl RetentionPolicy {
    /// The policy of a whole configuration: `[retention]` and the quarantine's age.
    pub fn of(settings: &crate::config::Settings) -> RetentionPolicy {
        RetentionPolicy {
            quarantine_days: settings.quarantine.retention_days,
            events_days: settings.events.retention_days,
            ..RetentionPolicy::from(&settings.retention)
        }
    }

    /// True when anything expires at all.
    pub fn enabled(&self) -> bool {
        self.images_days > 0
            || self.records_days > 0
            || self.audit_days > 0
            || self.quarantine_days > 0
            || self.events_days > 0
    }
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Images deleted.
    pub images_deleted: u64,
    /// Submission records deleted.
    pub records_deleted: u64,
    /// Audit events removed behind a checkpoint.
    pub audit_events_removed: u64,
    /// Quarantine entries deleted.
    pub quarantine_deleted: u64,
    /// Decision events deleted.
    pub events_deleted: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Nothing was changed.
    pub dry_run: bool,
}

/// A checkpoint as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    /// The last removed event.
    pub seq: i64,
    /// Its hash: the `prev_hash` the next remaining event must carry.
    pub hash: String,
    /// When the prefix was removed.
    pub created_at: NaiveDateTime,
    /// Events removed in all, up to here.
    pub removed_events: i64,
    /// HMAC-SHA256 over the other columns, see [`checkpoint_mac`].
    pub mac: String,
}

/// The MAC of a checkpoint under `key`: someone with write access to the database but not the key cannot
/// cut the chain and forge a checkpoint.
pub fn checkpoint_mac(
    key: &[u8],
    seq: i64,
    hash: &str,
    created_at: NaiveDateTime,
    removed: i64,
) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(format!("{seq}|{hash}|{}|{removed}", format_timestamp(created_at)).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The newest checkpoint, if any prefix was ever removed.
pub fn latest_checkpoint(conn: &mut DbConnection) -> QueryResult<Option<Checkpoint>> {
    audit_checkpoints::table
        .order(audit_checkpoints::seq.desc())
        .select(Checkpoint::as_select())
        .first(conn)
        .optional()
}

fn cutoff(now: NaiveDateTime, days: u32) -> Option<NaiveDateTime> {
    (days > 0).then(|| now - Duration::days(i64::from(days)))
}

/// Runs every phase until nothing more has expired.
pub fn run(
    conn: &mut DbConnection,
    policy: &RetentionPolicy,
    key: &AuditKey,
    now: NaiveDateTime,
    dry_run: bool,
) -> QueryResult<RetentionReport> {
    let mut report = RetentionReport {
        dry_run,
        ..Default::default()
    };
    let batch = policy.batch_size.max(1);
    if let Some(cut) = cutoff(now, policy.images_days) {
        loop {
            let refs: Vec<String> = submission_images::table
                .inner_join(submissions::table)
                .filter(submissions::received_at.lt(cut))
                .select(submission_images::reference)
                .distinct()
                .order(submission_images::reference)
                .limit(batch)
                .load(conn)?;
            if refs.is_empty() {
                break;
            }
            let n = submission_images::table
                .filter(submission_images::reference.eq_any(&refs))
                .count()
                .get_result::<i64>(conn)?;
            report.images_deleted += n as u64;
            if dry_run {
                break;
            }
            conn.transaction(|c| {
                diesel::delete(submission_images::table.filter(submission_images::reference.eq_any(&refs)))
                    .execute(c)?;
                append(c, key, "retention_images", json!({"images": n, "submissions": refs.len(),
                    "from": refs.first(), "to": refs.last(), "older_than_days": policy.images_days}), now)
            })?;
            report.batches += 1;
        }
    }
    if let Some(cut) = cutoff(now, policy.records_days) {
        loop {
            let refs: Vec<String> = submissions::table
                .filter(submissions::received_at.lt(cut))
                .select(submissions::reference)
                .order(submissions::reference)
                .limit(batch)
                .load(conn)?;
            if refs.is_empty() {
                break;
            }
            if dry_run {
                report.records_deleted += submissions::table
                    .filter(submissions::received_at.lt(cut))
                    .count()
                    .get_result::<i64>(conn)? as u64;
                break;
            }
            report.records_deleted += refs.len() as u64;
            conn.transaction(|c| {
                // Reviews and images go with their submission (ON DELETE CASCADE).
                diesel::delete(submissions::table.filter(submissions::reference.eq_any(&refs))).execute(c)?;
                append(c, key, "retention_records", json!({"submissions": refs.len(),
                    "from": refs.first(), "to": refs.last(), "older_than_days": policy.records_days}), now)
            })?;
            report.batches += 1;
        }
    }
    if let Some(cut) = cutoff(now, policy.quarantine_days) {
        loop {
            let ids = super::quarantine::expired(conn, cut, batch)?;
            if ids.is_empty() {
                break;
            }
            report.quarantine_deleted += ids.len() as u64;
            if dry_run {
                break;
            }
            conn.transaction(|c| {
                super::quarantine::delete_many(c, &ids)?;
                append(
                    c,
                    key,
                    "retention_quarantine",
                    json!({"entries": ids.len(), "ids": ids,
                    "older_than_days": policy.quarantine_days}),
                    now,
                )
            })?;
            report.batches += 1;
        }
    }
    if let Some(cut) = cutoff(now, policy.events_days) {
        loop {
            let seqs = super::events::expired(conn, cut, batch)?;
            if seqs.is_empty() {
                break;
            }
            report.events_deleted += seqs.len() as u64;
            if dry_run {
                break;
            }
            conn.transaction(|c| {
                super::events::delete(c, &seqs)?;
                append(
                    c,
                    key,
                    "retention_events",
                    json!({"events": seqs.len(), "from": seqs.first(),
                    "to": seqs.last(), "older_than_days": policy.events_days}),
                    now,
                )
            })?;
            report.batches += 1;
        }
    }
    if let Some(cut) = cutoff(now, policy.audit_days) {
        remove_audit_prefix(conn, cut, batch, key, now, dry_run, &mut report)?;
    }
    Ok(report)
}

/// Removes the longest prefix of the chain whose events are all older than `cut`, batch by batch, each
/// behind a new checkpoint.
fn remove_audit_prefix(
    conn: &mut DbConnection,
    cut: NaiveDateTime,
    batch: i64,
    key: &AuditKey,
    now: NaiveDateTime,
    dry_run: bool,
    report: &mut RetentionReport,
) -> QueryResult<()> {
    // The first event that must stay bounds the prefix; events are not strictly time-ordered across writers.
    let first_kept: Option<i64> = audit_events::table
        .filter(audit_events::occurred_at.ge(cut))
        .select(diesel::dsl::min(audit_events::seq))
        .first(conn)?;
    let limit_seq = match first_kept {
        Some(seq) => seq - 1,
        None => audit_events::table
            .select(diesel::dsl::max(audit_events::seq))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0),
    };
    loop {
        let ids: Vec<(i64, String)> = audit_events::table
            .filter(audit_events::seq.le(limit_seq))
            .order(audit_events::seq)
            .limit(batch)
            .select((audit_events::seq, audit_events::hash))
            .load(conn)?;
        let Some((last_seq, last_hash)) = ids.last().cloned() else {
            return Ok(());
        };
        if dry_run {
            report.audit_events_removed += audit_events::table
                .filter(audit_events::seq.le(limit_seq))
                .count()
                .get_result::<i64>(conn)? as u64;
            return Ok(());
        }
        let removed_now = ids.len() as i64;
        conn.transaction(|c| {
            let before = latest_checkpoint(c)?.map_or(0, |cp| cp.removed_events);
            let created_at = truncate_to_micros(now);
            let removed = before + removed_now;
            diesel::insert_into(audit_checkpoints::table)
                .values(&Checkpoint {
                    seq: last_seq,
                    hash: last_hash.clone(),
                    created_at,
                    removed_events: removed,
                    mac: checkpoint_mac(
                        key.checkpoint_key(),
                        last_seq,
                        &last_hash,
                        created_at,
                        removed,
                    ),
                })
                .execute(c)?;
            diesel::delete(audit_events::table.filter(audit_events::seq.le(last_seq)))
                .execute(c)?;
            append(
                c,
                key,
                "retention_audit",
                json!({"removed_events": removed_now, "up_to_seq": last_seq}),
                now,
            )
        })?;
        report.audit_events_removed += removed_now as u64;
        report.batches += 1;
    }
}

fn append(
    c: &mut DbConnection,
    key: &AuditKey,
    kind: &str,
    details: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let mut cursor = ChainCursor::lock(c, key)?;
    cursor.append(
        c,
        &AuditDraft {
            kind: kind.into(),
            actor: Some("retention".into()),
            reference: None,
            requester_id: None,
            details,
        },
        now,
    )?;
    cursor.save(c)
}
