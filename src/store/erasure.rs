//! Erasure of one data subject: every submission of a user id loses its images and sealed personal fields,
//! its reviewers' notes (free text written while looking at the person's data) are replaced by
//! [`ERASED_NOTE`], the user id is replaced by a keyed pseudonym everywhere it was stored (columns, public
//! fields, the stored confirmation), and the decision, reasons and hashes stay. One transaction, with an audit receipt that says
//! what was erased, when, by whom and why — without the personal values.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Value, json};

use super::audit_log::{AuditDraft, AuditKey, ChainCursor};
use super::submissions::SubmissionRow;
use super::{DbConnection, reviews, submission_images, submissions_table as submissions};
use crate::submission::Reference;

/// What a reviewer's note reads after its subject was erased.
pub const ERASED_NOTE: &str = "(erased)";

/// What an erasure did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ErasureReceipt {
    /// The pseudonym that now stands for the subject.
    pub subject: String,
    /// Submissions touched.
    pub submissions: usize,
    /// Images deleted.
    pub images: usize,
    /// Reviewer notes erased.
    pub review_notes: usize,
    /// Quarantine entries deleted (the subject's user id, or a requester id of the subject's records).
    pub quarantine_entries: usize,
    /// Their references.
    pub references: Vec<Reference>,
    /// Sequence number of the receipt in the audit trail.
    pub audit_seq: i64,
}

/// Who is erased, why, by whom and when.
#[derive(Debug, Clone, Copy)]
pub struct ErasureRequest<'a> {
    /// The subject's user id as the upstream sent it.
    pub user_id: &'a str,
    /// The keyed pseudonym that replaces it.
    pub pseudonym: &'a str,
    /// Why (kept in the receipt).
    pub reason: &'a str,
    /// Who asked.
    pub actor: &'a str,
    /// When.
    pub now: NaiveDateTime,
    /// Write the `subject.erased` decision event.
    pub emit_event: bool,
}

/// Erases the subject `user_id`; `pseudonym` replaces it. Idempotent: a second call finds nothing left.
pub fn erase_subject(
    conn: &mut DbConnection,
    key: &AuditKey,
    request: ErasureRequest<'_>,
) -> QueryResult<ErasureReceipt> {
    let ErasureRequest {
        user_id,
        pseudonym,
        reason,
        actor,
        now,
        emit_event,
    } = request;
    conn.transaction(|c| {
        let mut cursor = ChainCursor::lock(c, key)?;
        let rows: Vec<SubmissionRow> = submissions::table
            .filter(submissions::user_id.eq(user_id))
            .order(submissions::reference)
            .select(SubmissionRow::as_select())
            .load(c)?;
        let requester_ids: Vec<String> = rows.iter().map(|r| r.requester_id.clone()).collect();
        let quarantined = super::quarantine::of_subject(c, pseudonym, &requester_ids)?;
        let quarantine_entries = super::quarantine::delete_many(c, &quarantined)?;
        let mut images = 0;
        let mut review_notes = 0;
        let mut references = Vec::with_capacity(rows.len());
        let mut hashes = serde_json::Map::new();
        for mut row in rows {
            images += diesel::delete(
                submission_images::table.filter(submission_images::reference.eq(&row.reference)),
            )
            .execute(c)?;
            review_notes += diesel::update(
                reviews::table
                    .filter(reviews::reference.eq(&row.reference))
                    .filter(reviews::note.ne(ERASED_NOTE)),
            )
            .set(reviews::note.eq(ERASED_NOTE))
            .execute(c)?;
            row.user_id = pseudonym.to_string();
            row.fields = replace_string(&row.fields, user_id, pseudonym);
            row.response_body = replace_string(&row.response_body, user_id, pseudonym);
            row.pii_key_id = None;
            row.pii_nonce = None;
            row.pii_ciphertext = None;
            row.document_number_hmac = None;
            row.erased_at = Some(super::audit_log::truncate_to_micros(now));
            row.content_hash = row.compute_content_hash();
            diesel::update(submissions::table.find(&row.reference))
                .set((
                    submissions::user_id.eq(&row.user_id),
                    submissions::fields.eq(&row.fields),
                    submissions::response_body.eq(&row.response_body),
                    submissions::pii_key_id.eq(None::<String>),
                    submissions::pii_nonce.eq(None::<Vec<u8>>),
                    submissions::pii_ciphertext.eq(None::<Vec<u8>>),
                    submissions::document_number_hmac.eq(None::<String>),
                    submissions::erased_at.eq(row.erased_at),
                    submissions::content_hash.eq(&row.content_hash),
                ))
                .execute(c)?;
            hashes.insert(row.reference.as_str().to_string(), json!(row.content_hash));
            references.push(row.reference);
        }
        // Events already written about these records name the subject: they get the pseudonym too.
        let texts: Vec<String> = references.iter().map(|r| r.as_str().to_string()).collect();
        super::events::pseudonymise(c, &texts, user_id, pseudonym)?;
        if emit_event {
            let event = super::events::other_event(
                &mut cursor,
                "subject.erased",
                &json!({"subject": pseudonym, "references": references, "submissions": references.len()}),
                now,
            );
            super::events::insert(c, std::slice::from_ref(&event))?;
        }
        let audit_seq = cursor.append(
            c,
            &AuditDraft {
                kind: "subject_erased".into(),
                actor: Some(actor.to_string()),
                reference: None,
                requester_id: None,
                details: json!({
                    "subject": pseudonym,
                    "reason": reason,
                    "submissions": references.len(),
                    "images": images,
                    "review_notes": review_notes,
                    "references": references,
                    "quarantine_entries": quarantine_entries,
                    "quarantine_ids": quarantined,
                    "content_hashes": hashes,
                    "erased": ["images", "personal_fields", "document_number_hash", "user_id", "review_notes", "quarantine"],
                }),
            },
            now,
        )?;
        cursor.save(c)?;
        Ok(ErasureReceipt {
            subject: pseudonym.to_string(),
            submissions: references.len(),
            images,
            review_notes,
            quarantine_entries,
            references,
            audit_seq,
        })
    })
}

/// Replaces every JSON string equal to `from` inside a JSON text (keys untouched).
pub(crate) fn replace_string(json_text: &str, from: &str, to: &str) -> String {
    fn walk(v: &mut Value, from: &str, to: &str) {
        match v {
            Value::String(s) if s == from => *s = to.to_string(),
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, from, to)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, from, to)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(json_text) {
        Ok(mut v) => {
            walk(&mut v, from, to);
            v.to_string()
        }
        Err(_) => json_text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_string;

    #[test]
    fn only_equal_strings_are_replaced() {
        let out = replace_string(
            r#"{"user_id":"a@b","n":["a@b","x"],"note":"a@b2","a@b":1}"#,
            "a@b",
            "erased-1",
        );
        assert_eq!(
            out,
            r#"{"a@b":1,"n":["erased-1","x"],"note":"a@b2","user_id":"erased-1"}"#
        );
    }
}
