//! From decrypted bytes to a record ready to store: parse, check the envelope, map, decide, and render the
//! confirmation. Pure and synchronous, so the handler runs it off the async workers and tests call it directly.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::mapping::{MappingError, MappingSet, ResponseContext};
use crate::payload::{self, PayloadError};
use crate::protect::{ProtectError, Protection};
use crate::store::images::ImageRow;
use crate::store::submissions::SubmissionRow;
use kyc_crypto::CipherProfile;

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
    /// Its sealed images (none when the policy drops them).
    pub images: Vec<ImageRow>,
    /// PII-free facts for its audit event.
    pub audit_details: Value,
}

/// Why a body was refused, with the requester id when it could be read safely (for the audit event).
#[derive(Debug)]
pub struct Refusal {
    /// What was wrong.
    pub error: IntakeError,
    /// A plain requester id, if one was present.
    pub requester_id: Option<String>,
}

/// The reasons intake refuses a body.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The body could not be decrypted (the detail is logged, never answered).
    #[error("{}", kyc_crypto::DECRYPT_PUBLIC_MESSAGE)]
    Decrypt,
    /// Not JSON, or JSON of the wrong shape.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// No mapping takes it, a required field is empty, or the response template failed.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// Sealing for storage failed (a key problem, not the client's fault).
    #[error(transparent)]
    Protect(#[from] ProtectError),
}

/// A fresh reference: time-ordered (UUID v7), so references sort by arrival.
pub fn new_reference() -> String {
    format!("KYC-{}", uuid::Uuid::now_v7().simple())
}

/// Opens the body with the request profile, then runs [`prepare`]. The audit event records which key opened
/// it (by label). Why decryption failed goes to the log only, so a client cannot probe padding or tags.
pub fn open_and_prepare(
    body: &[u8],
    cipher: &CipherProfile,
    mut ctx: IntakeContext,
    mappings: &MappingSet,
    protection: &Protection,
) -> Result<Prepared, Refusal> {
    let opened = cipher.open(body).map_err(|e| {
        log::warn!(
            "request body not decrypted ({}): {:?} after {} key(s)",
            cipher.spec_name(),
            e.detail(),
            e.keys_tried()
        );
        Refusal {
            error: IntakeError::Decrypt,
            requester_id: None,
        }
    })?;
    if cipher.is_enabled() {
        ctx.key_label = Some(opened.key.label());
    }
    prepare(&opened.plaintext, &ctx, mappings, protection)
}

/// Runs every step up to storage with the mapping set current at arrival.
pub fn prepare(
    plaintext: &[u8],
    ctx: &IntakeContext,
    mappings: &MappingSet,
    protection: &Protection,
) -> Result<Prepared, Refusal> {
    let root = payload::parse(plaintext).map_err(|error| Refusal {
        error: error.into(),
        requester_id: None,
    })?;
    let refuse = |error: IntakeError| Refusal {
        error,
        requester_id: payload::loggable_requester_id(&root),
    };
    // Ditto-shaped bodies get the strict envelope checks; custom template bodies rely on their mapping.
    let envelope = if root.get("request_info").is_some() || root.get("kyc_info").is_some() {
        Some(payload::envelope(&root).map_err(|e| refuse(e.into()))?)
    } else {
        None
    };
    let mapping = mappings.select(&root).map_err(|e| refuse(e.into()))?;
    let mapped = mapping
        .apply(&root, ctx.received_at)
        .map_err(|e| refuse(e.into()))?;
    let digest = hex::encode(Sha256::digest(plaintext));
    let field = |name: &str| {
        mapped
            .fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
    };
    let user_id = envelope
        .as_ref()
        .map(|e| e.user_id)
        .or_else(|| field("user_id"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            refuse(
                PayloadError::Invalid {
                    path: format!("{}: user_id", mapping.name),
                    message: "the mapping produced no user_id".into(),
                }
                .into(),
            )
        })?;
    // Without a requester id (custom templates may lack one) the payload digest is the idempotency key,
    // so an identical retry is still answered from the stored record.
    let requester_id = envelope
        .as_ref()
        .map(|e| e.requester_id.to_string())
        .or_else(|| {
            field("requester_id")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("digest:{}", &digest[..32]));
    if requester_id.len() > payload::MAX_REQUESTER_ID_LEN {
        return Err(refuse(
            PayloadError::Invalid {
                path: "requester_id".into(),
                message: format!("must be at most {} bytes", payload::MAX_REQUESTER_ID_LEN),
            }
            .into(),
        ));
    }
    let reference = new_reference();
    let response = mapping
        .render_response(&ResponseContext {
            payload: &root,
            fields: &mapped.fields,
            decision: &mapped.decision,
            reference: &reference,
            received_at: ctx.received_at,
        })
        .map_err(|e| refuse(e.into()))?;
    let mut images = Vec::with_capacity(mapped.images.len() + 1);
    for image in &mapped.images {
        if let Some(row) = protection
            .image(&reference, &image.kind, &image.data)
            .map_err(|e| refuse(e.into()))?
        {
            images.push(row);
        }
    }
    if let Some(raw) = protection
        .raw_payload(&reference, plaintext)
        .map_err(|e| refuse(e.into()))?
    {
        images.push(raw);
    }
    let (pii, public): (Map<String, Value>, Map<String, Value>) = mapped
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| mapped.pii.contains(k));
    let sealed = protection
        .seal_fields(&reference, &pii)
        .map_err(|e| refuse(e.into()))?;
    let document_number_hmac = field("document_number")
        .filter(|s| !s.is_empty())
        .map(|n| protection.document_number_hmac(n));
    let status = mapped.decision.status.as_str();
    let reasons = mapped.decision.reason_codes();
    let mut row = SubmissionRow {
        reference,
        requester_id,
        user_id: user_id.to_string(),
        app_id: envelope
            .as_ref()
            .and_then(|e| e.app_id)
            .or_else(|| field("app_id"))
            .map(str::to_string),
        client_id: ctx.client_id.clone(),
        received_at: crate::store::audit_log::truncate_to_micros(ctx.received_at.naive_utc()),
        document_version: envelope
            .as_ref()
            .and_then(|e| e.document_version)
            .map(str::to_string),
        document_status: envelope
            .as_ref()
            .and_then(|e| e.document_status)
            .or_else(|| field("document_status"))
            .map(str::to_string),
        mapping_name: mapping.name.clone(),
        mapping_hash: mapping.sha256.clone(),
        decision: status.to_string(),
        status: status.to_string(),
        reasons: json!(reasons).to_string(),
        fields: Value::Object(public).to_string(),
        pii_names: json!(mapped.pii).to_string(),
        pii_key_id: sealed.key_id,
        pii_nonce: sealed.nonce,
        pii_ciphertext: sealed.ciphertext,
        document_number_hmac,
        erased_at: None,
        payload_digest: digest,
        payload_bytes: i64::try_from(plaintext.len()).unwrap_or(i64::MAX),
        decryption_key: ctx.key_label.clone(),
        response_body: response.to_string(),
        content_hash: String::new(),
    };
    row.content_hash = row.compute_content_hash();
    for warning in &mapped.warnings {
        log::debug!("mapping {}: {warning}", mapping.name);
    }
    let audit_details = json!({
        "status": row.status,
        "reasons": reasons,
        "mapping": row.mapping_name,
        "mapping_hash": row.mapping_hash,
        "payload_digest": row.payload_digest,
        "key": row.decryption_key,
        "images": images.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
        "image_policy": format!("{:?}", protection.images).to_lowercase(),
    });
    Ok(Prepared {
        row,
        images,
        audit_details,
    })
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

    fn shipped() -> MappingSet {
        MappingSet::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"))
            .expect("shipped mappings")
    }

    fn protection() -> Protection {
        crate::protect::tests::protection(crate::config::ImagePolicy::Encrypt)
    }

    fn ctx() -> IntakeContext {
        IntakeContext {
            client_id: Some("upstream".into()),
            key_label: None,
            received_at: "2026-11-22T10:00:00Z".parse().expect("time"),
        }
    }

    #[test]
    fn bypassed_chip_read_is_sent_to_review_and_answered_true() {
        let p = prepare(
            &fixture("ditto-v3-small.json"),
            &ctx(),
            &shipped(),
            &protection(),
        )
        .expect("prepare");
        assert_eq!(p.row.status, "pending_review");
        assert_eq!(p.row.reasons, r#"["nfc_not_verified"]"#);
        assert_eq!(p.row.mapping_name, "ditto-v3");
        assert_eq!(p.row.mapping_hash.len(), 64);
        let response: Value = serde_json::from_str(&p.row.response_body).expect("json");
        assert_eq!(response["result"], json!(true));
        assert_eq!(response["user_id"], json!("sofía.953893@example.com"));
        assert_eq!(response["reference_number"], json!(p.row.reference));
    }

    #[test]
    fn rejectable_sample_is_rejected_with_every_reason() {
        let p = prepare(
            &fixture("ditto-v3-rejectable.json"),
            &ctx(),
            &shipped(),
            &protection(),
        )
        .expect("prepare");
        assert_eq!(p.row.status, "rejected");
        assert_eq!(
            p.row.reasons,
            r#"["face_mismatch","liveness_failed","document_invalid","document_expired"]"#
        );
        let response: Value = serde_json::from_str(&p.row.response_body).expect("json");
        assert_eq!(response["result"], json!(false));
    }

    #[test]
    fn unknown_document_version_is_a_mapping_failure() {
        let mut v: Value = serde_json::from_slice(&fixture("ditto-v3-small.json")).expect("json");
        v["kyc_info"]["document"]["version"] = json!("2.0");
        let err = prepare(v.to_string().as_bytes(), &ctx(), &shipped(), &protection())
            .expect_err("no mapping");
        assert!(matches!(err.error, IntakeError::Mapping(_)));
        assert!(
            err.error.to_string().contains("version 2.0"),
            "{}",
            err.error
        );
        assert_eq!(
            err.requester_id.as_deref(),
            Some("3d9c1724-11e2-0b8f-6b0d-549b6f03675a")
        );
    }

    #[test]
    fn content_hash_covers_the_row() {
        let p = prepare(
            &fixture("ditto-v3-small.json"),
            &ctx(),
            &shipped(),
            &protection(),
        )
        .expect("prepare");
        let mut row = p.row.clone();
        assert_eq!(row.compute_content_hash(), row.content_hash);
        row.status = "approved".into();
        assert_ne!(row.compute_content_hash(), row.content_hash);
    }

    #[test]
    fn references_are_unique_and_ordered() {
        let a = new_reference();
        let b = new_reference();
        assert!(a < b, "{a} {b}");
    }
}
