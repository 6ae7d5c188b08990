//! From decrypted bytes to a submission ready to store: parse, check the envelope, map, decide, then the three
//! steps of [`prepare`] — [`identify`] (who and which request), [`seal`] (images, personal fields, the
//! document-number hash) and [`render`] (the confirmation). Pure and synchronous, so the handler runs it off the
//! async workers and tests call it directly. It returns a domain value ([`NewSubmission`]); `store` turns it
//! into rows.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::mapping::{Mapped, Mapping, MappingError, MappingSet, ResponseContext};
use crate::payload::{self, Envelope, PayloadError};
use crate::protect::{ProtectError, Protection};
use crate::submission::{NewSubmission, Reference, SealedImage};
use kyc_crypto::CipherProfile;
use kyc_crypto::at_rest::SealedBlob;

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

/// A submission ready for the writer, with the PII-free facts of its audit event.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The submission, sealed.
    pub submission: NewSubmission,
    /// PII-free facts for its audit event.
    pub audit_details: Value,
}

/// Why a body was refused, with the requester id when it could be read safely (for the audit event).
#[derive(Debug, Default)]
pub struct Refusal {
    /// What was wrong.
    pub error: IntakeError,
    /// A plain requester id, if one was present.
    pub requester_id: Option<String>,
    /// What else was seen of the body, for the quarantine (boxed: refusals travel in `Result`s).
    pub seen: Box<Seen>,
}

/// What a refused body showed besides its requester id.
#[derive(Debug, Default)]
pub struct Seen {
    /// The user id, if one was present: only ever turned into the subject's keyed pseudonym (quarantine).
    pub user_id: Option<String>,
    /// Which key opened the body, or how many failed (labels only).
    pub key_label: Option<String>,
}

impl Refusal {
    /// A refusal knowing nothing about the body but why.
    pub fn bare(error: IntakeError) -> Refusal {
        Refusal {
            error,
            ..Refusal::default()
        }
    }
}

/// The reasons intake refuses a body.
#[derive(Debug, Default, thiserror::Error)]
pub enum IntakeError {
    /// The body could not be decrypted (the detail is logged, never answered).
    #[default]
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
    /// The JSON would take more memory once parsed than the whole in-flight budget.
    #[error(
        "the JSON would take more than {budget} bytes of memory once parsed (server.inflight_body_bytes)"
    )]
    TooLargeParsed {
        /// `server.inflight_body_bytes`.
        budget: usize,
    },
}

/// Opens the body with the request profile, then runs [`prepare`].
pub fn open_and_prepare(
    body: &[u8],
    cipher: &CipherProfile,
    mut ctx: IntakeContext,
    mappings: &MappingSet,
    protection: &Protection,
) -> Result<Prepared, Refusal> {
    let plaintext = open(body, cipher, &mut ctx)?;
    prepare(&plaintext, &ctx, mappings, protection)
}

/// Opens the body with the request profile and notes in `ctx` which key opened it (by label), for the audit
/// event. Why decryption failed goes to the log only, so a client cannot probe padding or tags.
pub fn open(
    body: &[u8],
    cipher: &CipherProfile,
    ctx: &mut IntakeContext,
) -> Result<Vec<u8>, Refusal> {
    let opened = cipher.open(body).map_err(|e| {
        log::warn!(
            "request body not decrypted ({}): {:?} after {} key(s)",
            cipher.spec_name(),
            e.detail(),
            e.keys_tried()
        );
        Refusal {
            seen: Box::new(Seen {
                user_id: None,
                key_label: Some(format!("none of {} key(s)", e.keys_tried())),
            }),
            ..Refusal::bare(IntakeError::Decrypt)
        }
    })?;
    if cipher.is_enabled() {
        ctx.key_label = Some(opened.key.label());
    }
    Ok(opened.plaintext)
}

/// Runs every step up to storage with the mapping set current at arrival.
pub fn prepare(
    plaintext: &[u8],
    ctx: &IntakeContext,
    mappings: &MappingSet,
    protection: &Protection,
) -> Result<Prepared, Refusal> {
    let root = payload::parse(plaintext).map_err(|error| Refusal {
        seen: Box::new(Seen {
            user_id: None,
            key_label: ctx.key_label.clone(),
        }),
        ..Refusal::bare(error.into())
    })?;
    let refuse = |error: IntakeError| Refusal {
        error,
        requester_id: payload::loggable_requester_id(&root),
        seen: Box::new(Seen {
            user_id: payload::lookup(&root, "request_info.user_id")
                .and_then(Value::as_str)
                .map(str::to_string),
            key_label: ctx.key_label.clone(),
        }),
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
    let who =
        identify(envelope.as_ref(), mapping, &mapped, &digest).map_err(|e| refuse(e.into()))?;
    let reference = Reference::new();
    let sealed = seal(&reference, plaintext, &mapped, protection).map_err(refuse)?;
    let response = render(mapping, &root, &mapped, &reference, ctx.received_at)
        .map_err(|e| refuse(e.into()))?;
    for warning in &mapped.warnings {
        log::debug!("mapping {}: {warning}", mapping.name);
    }
    let field = |name: &str| field_text(&mapped, name).map(str::to_string);
    let submission = NewSubmission {
        reference,
        requester_id: who.requester_id,
        user_id: who.user_id,
        app_id: envelope
            .as_ref()
            .and_then(|e| e.app_id)
            .map(str::to_string)
            .or_else(|| field("app_id")),
        client_id: ctx.client_id.clone(),
        received_at: ctx.received_at,
        document_version: envelope
            .as_ref()
            .and_then(|e| e.document_version)
            .map(str::to_string),
        document_status: envelope
            .as_ref()
            .and_then(|e| e.document_status)
            .map(str::to_string)
            .or_else(|| field("document_status")),
        mapping_name: mapping.name.clone(),
        mapping_hash: mapping.sha256.clone(),
        decision: mapped.decision.clone(),
        public_fields: sealed.public_fields,
        pii_names: mapped.pii.iter().cloned().collect(),
        sealed_pii: sealed.pii,
        document_number_hmac: sealed.document_number_hmac,
        payload_digest: digest,
        payload_bytes: plaintext.len(),
        decryption_key: ctx.key_label.clone(),
        response_body: response.to_string(),
        images: sealed.images,
    };
    let audit_details = json!({
        "status": submission.decision.status,
        "reasons": submission.decision.reason_codes(),
        "mapping": submission.mapping_name,
        "mapping_hash": submission.mapping_hash,
        "payload_digest": submission.payload_digest,
        "key": submission.decryption_key,
        "images": submission.images.iter().map(|i| i.kind.as_str()).collect::<Vec<_>>(),
        "image_policy": format!("{:?}", protection.images).to_lowercase(),
    });
    Ok(Prepared {
        submission,
        audit_details,
    })
}

/// Who sent it and which request it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The upstream's idempotency key (or `digest:…`).
    pub requester_id: String,
    /// The upstream's user id.
    pub user_id: String,
}

/// The requester and user ids: from the Ditto envelope, or from the mapping's `requester_id`/`user_id`
/// fields for custom template bodies. Without a requester id the payload digest is the idempotency key, so
/// an identical retry is still answered from the stored record.
pub fn identify(
    envelope: Option<&Envelope<'_>>,
    mapping: &Mapping,
    mapped: &Mapped<'_>,
    digest: &str,
) -> Result<Identity, PayloadError> {
    let user_id = envelope
        .map(|e| e.user_id)
        .or_else(|| field_text(mapped, "user_id"))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PayloadError::Invalid {
            path: format!("{}: user_id", mapping.name),
            message: "the mapping produced no user_id".into(),
        })?;
    let requester_id = envelope
        .map(|e| e.requester_id.to_string())
        .or_else(|| {
            field_text(mapped, "requester_id")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("digest:{}", &digest[..32]));
    if requester_id.len() > payload::MAX_REQUESTER_ID_LEN {
        return Err(PayloadError::Invalid {
            path: "requester_id".into(),
            message: format!("must be at most {} bytes", payload::MAX_REQUESTER_ID_LEN),
        });
    }
    Ok(Identity {
        requester_id,
        user_id: user_id.to_string(),
    })
}

/// What [`seal`] produced: the public fields in clear, everything personal sealed or keyed.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Canonical fields that are not flagged `pii`.
    pub public_fields: Map<String, Value>,
    /// The `pii` fields as one sealed JSON object.
    pub pii: Option<SealedBlob>,
    /// Keyed hash of the document number.
    pub document_number_hmac: Option<String>,
    /// Images (and the raw payload when kept), sealed.
    pub images: Vec<SealedImage>,
}

/// Seals the images, the raw payload (when kept) and the personal fields, bound to `reference`, and computes
/// the document number's keyed hash.
pub fn seal(
    reference: &Reference,
    plaintext: &[u8],
    mapped: &Mapped<'_>,
    protection: &Protection,
) -> Result<Sealed, IntakeError> {
    let mut images = Vec::with_capacity(mapped.images.len() + 1);
    for image in &mapped.images {
        if let Some(sealed) = protection.image(reference, &image.kind, &image.data)? {
            images.push(sealed);
        }
    }
    if let Some(raw) = protection.raw_payload(reference, plaintext)? {
        images.push(raw);
    }
    let (pii, public_fields): (Map<String, Value>, Map<String, Value>) = mapped
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| mapped.pii.contains(k));
    Ok(Sealed {
        public_fields,
        pii: protection.seal_fields(reference, &pii)?,
        document_number_hmac: field_text(mapped, "document_number")
            .filter(|s| !s.is_empty())
            .map(|n| protection.document_number_hmac(n)),
        images,
    })
}

/// The confirmation the upstream gets, from the mapping's `[response]` template.
pub fn render(
    mapping: &Mapping,
    payload: &Value,
    mapped: &Mapped<'_>,
    reference: &Reference,
    received_at: DateTime<Utc>,
) -> Result<Value, MappingError> {
    mapping.render_response(&ResponseContext {
        payload,
        fields: &mapped.fields,
        decision: &mapped.decision,
        reference: reference.as_str(),
        received_at,
    })
}

/// A canonical field's text, trimmed.
fn field_text<'m>(mapped: &'m Mapped<'_>, name: &str) -> Option<&'m str> {
    mapped
        .fields
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Status;
    use crate::store::submissions::SubmissionRow;

    /// The row the store would write for a prepared submission.
    fn row(p: &Prepared) -> SubmissionRow {
        SubmissionRow::from_new(&p.submission).0
    }

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
        let row = row(&p);
        assert_eq!(row.status, Status::PendingReview);
        assert_eq!(row.reasons, r#"["nfc_not_verified"]"#);
        assert_eq!(row.mapping_name, "ditto-v3");
        assert_eq!(row.mapping_hash.len(), 64);
        let response: Value = serde_json::from_str(&row.response_body).expect("json");
        assert_eq!(response["result"], json!(true));
        assert_eq!(response["user_id"], json!("sofía.953893@example.com"));
        assert_eq!(response["reference_number"], json!(row.reference));
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
        let row = row(&p);
        assert_eq!(row.status, Status::Rejected);
        assert_eq!(
            row.reasons,
            r#"["face_mismatch","liveness_failed","document_invalid","document_expired"]"#
        );
        let response: Value = serde_json::from_str(&row.response_body).expect("json");
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
        let mut row = row(&p);
        assert_eq!(row.compute_content_hash(), row.content_hash);
        row.status = Status::Approved;
        assert_ne!(row.compute_content_hash(), row.content_hash);
    }
}
