//! From decrypted bytes to a record ready to store: parse, check the envelope, map, decide, and render the
//! confirmation. Pure and synchronous, so the handler runs it off the async workers and tests call it directly.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::payload::{self, PayloadError};
use crate::store::submissions::SubmissionRow;

/// Facts about the request that are not in the body.
#[derive(Debug, Clone)]
pub struct IntakeContext {
    /// The authenticated client, when auth is on.
    pub client_id: Option<String>,
    /// Label of the key that opened the body (never the key).
    pub key_label: Option<String>,
    /// When the request arrived.
    pub received_at: DateTime<Utc>,
}

/// A submission ready for the writer.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The row to insert.
    pub row: SubmissionRow,
    /// PII-free facts for its audit event.
    pub audit_details: Value,
}

/// Why a body was refused, with the requester id when it could be read safely (for the audit event).
#[derive(Debug)]
pub struct Refusal {
    /// What was wrong.
    pub error: PayloadError,
    /// A plain requester id, if one was present.
    pub requester_id: Option<String>,
}

/// A fresh reference: time-ordered (UUID v7), so references sort by arrival.
pub fn new_reference() -> String {
    format!("KYC-{}", uuid::Uuid::now_v7().simple())
}

/// Runs every step up to storage.
pub fn prepare(plaintext: &[u8], ctx: &IntakeContext) -> Result<Prepared, Refusal> {
    let root = payload::parse(plaintext).map_err(|error| Refusal {
        error,
        requester_id: None,
    })?;
    let env = payload::envelope(&root).map_err(|error| Refusal {
        error,
        requester_id: payload::loggable_requester_id(&root),
    })?;
    let reference = new_reference();
    let (status, reasons) = interim_decision(&root);
    let response = json!({
        "result": status != "rejected",
        "reference_number": reference,
        "user_id": env.user_id,
    });
    let mut row = SubmissionRow {
        reference,
        requester_id: env.requester_id.to_string(),
        user_id: env.user_id.to_string(),
        app_id: env.app_id.map(str::to_string),
        client_id: ctx.client_id.clone(),
        received_at: crate::store::audit_log::truncate_to_micros(ctx.received_at.naive_utc()),
        document_version: env.document_version.map(str::to_string),
        document_status: env.document_status.map(str::to_string),
        mapping_name: "builtin".into(),
        mapping_hash: "builtin".into(),
        decision: status.to_string(),
        status: status.to_string(),
        reasons: json!(reasons).to_string(),
        fields: "{}".into(),
        payload_digest: hex::encode(Sha256::digest(plaintext)),
        payload_bytes: i64::try_from(plaintext.len()).unwrap_or(i64::MAX),
        decryption_key: ctx.key_label.clone(),
        response_body: response.to_string(),
        content_hash: String::new(),
    };
    row.content_hash = row.compute_content_hash();
    let audit_details = json!({
        "status": row.status,
        "reasons": reasons,
        "mapping": row.mapping_name,
        "payload_digest": row.payload_digest,
        "key": row.decryption_key,
    });
    Ok(Prepared { row, audit_details })
}

/// The foundation's fixed rule until mapping files decide: a face match of at least 1.6 and an overall document
/// status of OK approve; anything else rejects, with a reason per failed check.
fn interim_decision(root: &Value) -> (&'static str, Vec<&'static str>) {
    let mut reasons = Vec::new();
    let face = payload::lookup(root, "kyc_info.face_matcher_result.score").and_then(Value::as_f64);
    if face.is_none_or(|s| s < 1.6) {
        reasons.push("face_mismatch");
    }
    let status = payload::lookup(
        root,
        "kyc_info.document.document_status.overall_document_status",
    )
    .and_then(Value::as_str);
    if status != Some("OK") {
        reasons.push("document_invalid");
    }
    let decision = if reasons.is_empty() {
        "approved"
    } else {
        "rejected"
    };
    (decision, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
    }

    fn ctx() -> IntakeContext {
        IntakeContext {
            client_id: Some("upstream".into()),
            key_label: None,
            received_at: Utc::now(),
        }
    }

    #[test]
    fn good_sample_is_approved_and_echoes_user_id() {
        let p = prepare(&fixture("ditto-v3-small.json"), &ctx()).expect("prepare");
        assert_eq!(p.row.status, "approved");
        let response: Value = serde_json::from_str(&p.row.response_body).expect("json");
        assert_eq!(response["result"], json!(true));
        assert_eq!(response["user_id"], json!("sofía.953893@example.com"));
        assert_eq!(response["reference_number"], json!(p.row.reference));
    }

    #[test]
    fn rejectable_sample_is_rejected_with_reasons() {
        let p = prepare(&fixture("ditto-v3-rejectable.json"), &ctx()).expect("prepare");
        assert_eq!(p.row.status, "rejected");
        assert_eq!(p.row.reasons, r#"["face_mismatch","document_invalid"]"#);
    }

    #[test]
    fn content_hash_covers_the_row() {
        let p = prepare(&fixture("ditto-v3-small.json"), &ctx()).expect("prepare");
        let mut row = p.row.clone();
        assert_eq!(row.compute_content_hash(), row.content_hash);
        row.status = "approved ".into();
        assert_ne!(row.compute_content_hash(), row.content_hash);
    }

    #[test]
    fn references_are_unique_and_ordered() {
        let a = new_reference();
        let b = new_reference();
        assert!(a < b, "{a} {b}");
    }
}
