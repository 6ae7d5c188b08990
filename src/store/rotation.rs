//! Re-sealing under the active data key (`kyc-receiver keys rotate-data`): every image and every record's
//! personal fields that an older key sealed. Works in batches, one transaction each with an audit event; it
//! selects by key id, so an interrupted run simply continues where it stopped.
//!
//! Rows are read and re-sealed outside the transaction (sealing is the slow part), then written back only
//! where they are still exactly what was read: an image by its old key id and nonce, a record by its old
//! content hash. An erasure, review or second rotation committed in between therefore wins, and the row is
//! taken up again by the next batch if it still needs a new key; a rotation never writes old data over
//! newer.

use diesel::prelude::*;
use kyc_crypto::at_rest::SealedBlob;
use serde_json::json;

use super::audit_log::{AuditDraft, ChainCursor};
use super::images::ImageRow;
use super::submissions::SubmissionRow;
use super::{DbConnection, StoreError, submission_images, submissions_table as submissions};
use crate::submission::{Reference, SealedImage};

/// What a rotation run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RotationReport {
    /// Images re-sealed.
    pub images: u64,
    /// Records whose personal fields were re-sealed.
    pub records: u64,
    /// Rows left alone because they changed while they were being re-sealed.
    pub skipped: u64,
    /// Transactions committed.
    pub batches: u64,
}

/// How to re-seal: the caller holds the keys, the store only the rows.
pub trait Resealer {
    /// The id of the key that new blobs are sealed with.
    fn active_key_id(&self) -> &str;
    /// The key that MACs the audit events of the rotation.
    fn audit_key(&self) -> super::audit_log::AuditKey;
    /// Opens an image of `reference` and seals it again under the active key.
    fn reseal_image(
        &self,
        reference: &Reference,
        image: &SealedImage,
    ) -> Result<SealedImage, String>;
    /// Opens a record's sealed personal fields and seals them again under the active key.
    fn reseal_fields(
        &self,
        reference: &Reference,
        fields: &SealedBlob,
    ) -> Result<SealedBlob, String>;
}

/// Re-seals everything not under the active key, `batch` rows per transaction.
pub fn rotate_data(
    conn: &mut DbConnection,
    keys: &dyn Resealer,
    batch: i64,
) -> Result<RotationReport, StoreError> {
    let active = keys.active_key_id().to_string();
    let mut report = RotationReport::default();
    let unusable = |e: String| StoreError::Unavailable(e);
    loop {
        let rows: Vec<ImageRow> = submission_images::table
            .filter(submission_images::key_id.ne(&active))
            .order((submission_images::reference, submission_images::kind))
            .limit(batch.max(1))
            .select(ImageRow::as_select())
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        let mut resealed = Vec::with_capacity(rows.len());
        for row in rows {
            let reference = row.reference.clone();
            let old = row.into_sealed();
            let fresh = keys.reseal_image(&reference, &old).map_err(unusable)?;
            resealed.push((reference, old, fresh));
        }
        let written = conn.transaction(|c| {
            let cursor = ChainCursor::lock(c, &keys.audit_key())?;
            let mut written = 0usize;
            for (reference, old, fresh) in &resealed {
                written += diesel::update(
                    submission_images::table
                        .find((reference, &old.kind))
                        .filter(submission_images::key_id.eq(&old.blob.key_id))
                        .filter(submission_images::nonce.eq(&old.blob.nonce)),
                )
                .set((
                    submission_images::key_id.eq(&fresh.blob.key_id),
                    submission_images::nonce.eq(&fresh.blob.nonce),
                    submission_images::ciphertext.eq(&fresh.blob.ciphertext),
                ))
                .execute(c)?;
            }
            audit(c, cursor, json!({"images": written, "to_key": active}))?;
            Ok::<_, diesel::result::Error>(written)
        })?;
        report.images += written as u64;
        report.skipped += (resealed.len() - written) as u64;
        report.batches += 1;
        if written == 0 {
            // Every row of the batch changed while it was re-sealed; stop rather than race a busy writer
            // forever. The rows keep their old key and the next run takes them up again.
            break;
        }
    }
    loop {
        let planned = plan_records(conn, keys, batch)?;
        if planned.is_empty() {
            break;
        }
        let written = write_records(conn, &keys.audit_key(), &planned, &active)?;
        report.records += written as u64;
        report.skipped += (planned.len() - written) as u64;
        report.batches += 1;
        if written == 0 {
            break;
        }
    }
    Ok(report)
}

/// A record re-sealed in memory, with the content hash it had when it was read.
#[derive(Debug, Clone)]
pub struct PlannedRecord {
    read_hash: String,
    row: SubmissionRow,
}

/// Reads up to `batch` records whose personal fields another key sealed, and re-seals them in memory.
pub fn plan_records(
    conn: &mut DbConnection,
    keys: &dyn Resealer,
    batch: i64,
) -> Result<Vec<PlannedRecord>, StoreError> {
    let active = keys.active_key_id().to_string();
    let rows: Vec<SubmissionRow> = submissions::table
        .filter(submissions::pii_key_id.is_not_null())
        .filter(submissions::pii_key_id.ne(&active))
        .order(submissions::reference)
        .limit(batch.max(1))
        .select(SubmissionRow::as_select())
        .load(conn)?;
    let mut planned = Vec::with_capacity(rows.len());
    for mut row in rows {
        let Some(old) = row.sealed_pii() else {
            continue;
        };
        let fresh = keys
            .reseal_fields(&row.reference, &old)
            .map_err(StoreError::Unavailable)?;
        let read_hash = std::mem::take(&mut row.content_hash);
        row.pii_key_id = Some(fresh.key_id);
        row.pii_nonce = Some(fresh.nonce);
        row.pii_ciphertext = Some(fresh.ciphertext);
        row.content_hash = row.compute_content_hash();
        planned.push(PlannedRecord { read_hash, row });
    }
    Ok(planned)
}

/// Writes planned records back in one transaction under the chain lock, each only if its row still has the
/// content hash it was read with; returns how many were written.
pub fn write_records(
    conn: &mut DbConnection,
    key: &super::audit_log::AuditKey,
    planned: &[PlannedRecord],
    active: &str,
) -> Result<usize, StoreError> {
    let written = conn.transaction(|c| {
        let cursor = ChainCursor::lock(c, key)?;
        let mut written = 0usize;
        let mut hashes = serde_json::Map::new();
        for PlannedRecord { read_hash, row } in planned {
            let n = diesel::update(
                submissions::table
                    .find(&row.reference)
                    .filter(submissions::content_hash.eq(read_hash)),
            )
            .set((
                submissions::pii_key_id.eq(&row.pii_key_id),
                submissions::pii_nonce.eq(&row.pii_nonce),
                submissions::pii_ciphertext.eq(&row.pii_ciphertext),
                submissions::content_hash.eq(&row.content_hash),
            ))
            .execute(c)?;
            if n == 1 {
                // The record's history: each row this event changed, with the hash it left.
                hashes.insert(row.reference.as_str().to_string(), json!(row.content_hash));
            }
            written += n;
        }
        audit(
            c,
            cursor,
            json!({"records": written, "to_key": active, "content_hashes": hashes}),
        )?;
        Ok::<_, diesel::result::Error>(written)
    })?;
    Ok(written)
}

fn audit(
    c: &mut DbConnection,
    mut cursor: ChainCursor,
    details: serde_json::Value,
) -> QueryResult<()> {
    cursor.append(
        c,
        &AuditDraft {
            kind: "data_keys_rotated".into(),
            actor: Some("keys rotate-data".into()),
            reference: None,
            requester_id: None,
            details,
        },
        chrono::Utc::now().naive_utc(),
    )?;
    cursor.save(c)
}
