//! `kyc-receiver keys rotate-data`: re-seals every image and every record's personal fields that an older
//! key sealed, under the active key. Works in batches, one transaction each with an audit event; it selects
//! by key id, so an interrupted run simply continues where it stopped.

use diesel::prelude::*;
use serde_json::json;

use super::{Protection, SealedFields};
use crate::store::audit_log::{AuditDraft, ChainCursor};
use crate::store::images::ImageRow;
use crate::store::submissions::SubmissionRow;
use crate::store::{DbConnection, StoreError, submission_images, submissions_table as submissions};

/// What a rotation run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RotationReport {
    /// Images re-sealed.
    pub images: u64,
    /// Records whose personal fields were re-sealed.
    pub records: u64,
    /// Transactions committed.
    pub batches: u64,
}

/// Re-seals everything not under the active key.
pub fn rotate_data(
    conn: &mut DbConnection,
    p: &Protection,
    batch: i64,
) -> Result<RotationReport, StoreError> {
    let active = p.keys.data.active_key_id().to_string();
    let mut report = RotationReport::default();
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
        for row in &rows {
            let plain = p
                .open_image(row)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let fresh = p
                .seal_image_row(&row.reference, &row.kind, &row.content_type, &plain)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            resealed.push(fresh);
        }
        conn.transaction(|c| {
            for row in &resealed {
                diesel::update(submission_images::table.find((&row.reference, &row.kind)))
                    .set((
                        submission_images::key_id.eq(&row.key_id),
                        submission_images::nonce.eq(&row.nonce),
                        submission_images::ciphertext.eq(&row.ciphertext),
                    ))
                    .execute(c)?;
            }
            audit(c, json!({"images": resealed.len(), "to_key": active}))
        })?;
        report.images += resealed.len() as u64;
        report.batches += 1;
    }
    loop {
        let rows: Vec<SubmissionRow> = submissions::table
            .filter(submissions::pii_key_id.is_not_null())
            .filter(submissions::pii_key_id.ne(&active))
            .order(submissions::reference)
            .limit(batch.max(1))
            .select(SubmissionRow::as_select())
            .load(conn)?;
        if rows.is_empty() {
            break;
        }
        let mut updated = Vec::with_capacity(rows.len());
        for mut row in rows {
            let sealed = SealedFields {
                key_id: row.pii_key_id.clone(),
                nonce: row.pii_nonce.clone(),
                ciphertext: row.pii_ciphertext.clone(),
            };
            let fields = p
                .open_fields(&row.reference, &sealed)
                .and_then(|f| p.seal_fields(&row.reference, &f))
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            row.pii_key_id = fields.key_id;
            row.pii_nonce = fields.nonce;
            row.pii_ciphertext = fields.ciphertext;
            row.content_hash = row.compute_content_hash();
            updated.push(row);
        }
        conn.transaction(|c| {
            for row in &updated {
                diesel::update(submissions::table.find(&row.reference))
                    .set((
                        submissions::pii_key_id.eq(&row.pii_key_id),
                        submissions::pii_nonce.eq(&row.pii_nonce),
                        submissions::pii_ciphertext.eq(&row.pii_ciphertext),
                        submissions::content_hash.eq(&row.content_hash),
                    ))
                    .execute(c)?;
            }
            audit(c, json!({"records": updated.len(), "to_key": active}))
        })?;
        report.records += updated.len() as u64;
        report.batches += 1;
    }
    Ok(report)
}

fn audit(c: &mut DbConnection, details: serde_json::Value) -> QueryResult<()> {
    let mut cursor = ChainCursor::lock(c)?;
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
