//! `POST {server.submit_path}`: the upstream's KYC submission. Wires the steps together: size limit → body →
//! (decrypt) → intake (parse, map, decide) off the async workers → writer (one commit with its audit event) →
//! the confirmation. A refused request leaves only a PII-free audit event.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use super::auth::authorize;
use super::body::{check_media_type, declared_too_large, read_limited, reserve_budget};
use super::{ApiError, AppState, LogFields, private_ok};
use crate::auth::scopes;
use crate::intake::{self, IntakeContext};
use crate::store::audit_log::AuditDraft;
use crate::store::writer::SubmitOutcome;
use tokio::sync::OwnedSemaphorePermit;

/// A KYC submission from the upstream (path: `server.submit_path`): the Ditto payload as JSON, or its
/// encrypted text when `[encryption.request]` is on.
#[utoipa::path(post, path = "/kyc", tag = "submission",
    request_body(content = super::openapi::SubmissionBody, description = "Ditto v3 payload (or its base64 ciphertext)", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or replayed); the confirmation, sealed as text/plain when response encryption is on. With `[receipts] enable`, a `KYC-Receipt` header holds a compact JWS (EdDSA) of the receipt", body = super::openapi::Confirmation),
        (status = 400, description = "`invalid_json`, `decrypt_failed` or `invalid_request`", body = super::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::ErrorBody),
        (status = 409, description = "`duplicate_conflict`", body = super::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_payload` or `mapping_failed`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited`", body = super::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::ErrorBody),
    ),
    security(("oauth2" = ["kyc:submit"]), ("bearer" = [])))]
pub async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let received_at = Utc::now();
    let principal = authorize(&req, &state, scopes::KYC_SUBMIT).await?;
    let client_id = Some(principal.client_id.clone());
    if let Err(retry_after) = state
        .rate_limiter
        .check(&principal.client_id, std::time::Instant::now())
    {
        return Err(ApiError::RateLimited { retry_after });
    }
    if let Err(e) = check_media_type(&req) {
        return Err(refuse(&state, e, None, client_id).await);
    }
    let server = &state.settings.server;
    if declared_too_large(&req, server.max_body_bytes) {
        let e = ApiError::PayloadTooLarge {
            limit: server.max_body_bytes,
        };
        return Err(refuse(&state, e, None, client_id).await);
    }
    // Held until the answer is built: bounds memory for bodies, their copies and queued rows.
    let mut room = reserve_budget(&req, &state.body_budget, server).await?;
    let body = match read_limited(&req, payload, server.max_body_bytes, server).await {
        Ok(body) => body.freeze(),
        Err(e) => return Err(refuse(&state, e, None, client_id).await),
    };
    let ctx = IntakeContext {
        client_id: client_id.clone(),
        key_label: None,
        received_at,
    };
    // Lets the writer hold its next commit briefly for this submission instead of syncing without it.
    let arrival = state.writer.arrival();
    let prepared = match run_intake(&state, body.clone(), ctx, &mut room).await? {
        Ok(p) => p,
        Err(refusal) => {
            let intake::Refusal {
                error,
                requester_id,
                seen,
            } = refusal;
            let intake::Seen { user_id, key_label } = *seen;
            let err = ApiError::from(error);
            let kept = Kept {
                body,
                received_at,
                client_id: principal.client_id.clone(),
                requester_id: requester_id.clone(),
                user_id,
                key_label,
            };
            return Err(keep_refused(&state, err, kept, "submission_refused").await);
        }
    };
    let requester_id = crate::payload::loggable_requester_id(&json!({
        "request_info": {"requester_id": prepared.submission.requester_id}
    }));
    LogFields::update(&req, |f| f.requester_id = requester_id);
    drop(arrival);
    // Copied only when receipts are on: a receipt names the request and what was decided.
    let receipt = state.receipts.as_ref().map(|_| crate::receipts::Receipt {
        reference_number: String::new(),
        requester_id: prepared.submission.requester_id.clone(),
        payload_sha256: prepared.submission.payload_digest.clone(),
        received_at: crate::store::audit_log::format_timestamp(received_at.naive_utc()),
        result: prepared.submission.decision.result(),
        iat: Utc::now().timestamp(),
    });
    let outcome = state
        .writer
        .submit(prepared.submission, prepared.audit_details)
        .await?;
    match outcome {
        SubmitOutcome::Stored {
            response_body,
            reference,
        }
        | SubmitOutcome::Replayed {
            response_body,
            reference,
        } => {
            let mut answer = confirmation(&state, response_body)?;
            if let (Some(signer), Some(mut receipt)) = (&state.receipts, receipt) {
                receipt.reference_number = reference.as_str().to_string();
                let jws = signer.sign(&receipt).map_err(|e| ApiError::internal(&e))?;
                if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&jws) {
                    answer.headers_mut().insert(
                        actix_web::http::header::HeaderName::from_static("kyc-receipt"),
                        value,
                    );
                }
            }
            Ok(answer)
        }
        SubmitOutcome::Conflict {
            requester_id,
            user_id,
            ..
        } => {
            // Kept as evidence.
            let kept = Kept {
                body,
                received_at,
                client_id: principal.client_id.clone(),
                requester_id: Some(requester_id),
                user_id: Some(user_id),
                key_label: None,
            };
            Err(keep_refused(
                &state,
                ApiError::DuplicateConflict,
                kept,
                "submission_quarantined",
            )
            .await)
        }
    }
}

/// Bodies up to this size are prepared on the async worker: that takes tens of microseconds, less than
/// handing them to another thread and back (the profile of small submissions showed the hand-off).
const INLINE_INTAKE_BYTES: usize = 64 * 1024;

/// Decrypts and prepares the body: small ones inline, large ones on the blocking pool, at most one per CPU
/// core at a time so megabyte bodies neither pile up threads nor their copies. Between the two steps the
/// decrypted JSON's parsed size is charged to the in-flight budget (`room` grows), because a body of small
/// numbers takes twenty times its size once parsed.
async fn run_intake(
    state: &AppState,
    body: web::Bytes,
    mut ctx: IntakeContext,
    room: &mut OwnedSemaphorePermit,
) -> Result<Result<intake::Prepared, intake::Refusal>, ApiError> {
    let mappings = state.mappings.current();
    let inline = body.len() <= INLINE_INTAKE_BYTES;
    let _slot = if inline {
        None
    } else {
        Some(
            state
                .cpu_slots
                .acquire()
                .await
                .map_err(|_| ApiError::Unavailable)?,
        )
    };
    let opened = if inline {
        intake::open(&body, &state.request_cipher, &mut ctx).map(|plain| (plain, ctx))
    } else {
        let cipher = state.request_cipher.clone();
        web::block(move || intake::open(&body, &cipher, &mut ctx).map(|plain| (plain, ctx))).await?
    };
    let (plaintext, ctx) = match opened {
        Ok(opened) => opened,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let cost = crate::payload::parsed_cost(&plaintext);
    if let Err(refusal) = grow_room(room, cost, state).await? {
        return Ok(Err(refusal));
    }
    if inline {
        return Ok(intake::prepare(
            &plaintext,
            &ctx,
            &mappings,
            &state.protection,
        ));
    }
    let protection = state.protection.clone();
    Ok(web::block(move || intake::prepare(&plaintext, &ctx, &mappings, &protection)).await?)
}

/// Makes `room` hold at least `cost` bytes of the in-flight budget, waiting as long as a body waits for its
/// room. A cost beyond the whole budget is refused (413): it could never fit.
async fn grow_room(
    room: &mut OwnedSemaphorePermit,
    cost: usize,
    state: &AppState,
) -> Result<Result<(), intake::Refusal>, ApiError> {
    let budget = state.settings.server.inflight_body_bytes;
    if cost > budget {
        return Ok(Err(intake::Refusal::bare(
            intake::IntakeError::TooLargeParsed { budget },
        )));
    }
    let held = room.num_permits();
    if cost > held {
        let more = u32::try_from(cost - held).map_err(|_| ApiError::Unavailable)?;
        let wait = std::time::Duration::from_secs(state.settings.server.inflight_wait_secs);
        match tokio::time::timeout(wait, state.body_budget.clone().acquire_many_owned(more)).await {
            Ok(Ok(extra)) => room.merge(extra),
            Ok(Err(_)) | Err(_) => {
                log::warn!(
                    "submission refused: no room for its parsed JSON (server.inflight_body_bytes)"
                );
                return Err(ApiError::Unavailable);
            }
        }
    }
    Ok(Ok(()))
}

/// The 200 answer: the confirmation JSON, or its ciphertext (base64 text) when response encryption is on.
/// Error answers stay plain JSON: the upstream treats any non-2xx as a failed call whatever the body, and
/// operators and monitoring can read them.
fn confirmation(state: &AppState, json_body: String) -> Result<HttpResponse, ApiError> {
    let mut answer = private_ok();
    if state.response_cipher.is_enabled() {
        let sealed = state
            .response_cipher
            .seal(json_body.as_bytes())
            .map_err(|e| ApiError::internal(&format!("response encryption failed: {e:?}")))?;
        Ok(answer.content_type("text/plain").body(sealed))
    } else {
        Ok(answer.content_type("application/json").body(json_body))
    }
}

/// A refused body and what is known about it, for the quarantine.
struct Kept {
    body: web::Bytes,
    received_at: chrono::DateTime<Utc>,
    client_id: String,
    requester_id: Option<String>,
    user_id: Option<String>,
    key_label: Option<String>,
}

/// Keeps a refused body of an authenticated caller in the quarantine (sealed), with the audit event of the
/// refusal in the same commit, and hands the error back unchanged. When the quarantine is off or the body
/// cannot be sealed, only the audit event is written: the answer to the upstream never depends on it.
async fn keep_refused(state: &AppState, err: ApiError, kept: Kept, kind: &str) -> ApiError {
    use actix_web::ResponseError;
    if !state.settings.quarantine.enabled {
        return refuse(state, err, kept.requester_id, Some(kept.client_id)).await;
    }
    let answered = crate::quarantine::Answered {
        code: err.code().to_string(),
        message: err.to_string(),
        status: err.status_code().as_u16(),
    };
    let draft = AuditDraft {
        kind: kind.into(),
        actor: Some(kept.client_id.clone()),
        reference: None,
        requester_id: kept.requester_id.clone(),
        details: crate::quarantine::refusal_details(&answered),
    };
    let facts = crate::quarantine::RefusedFacts {
        received_at: kept.received_at,
        client_id: kept.client_id.clone(),
        answered,
        requester_id: kept.requester_id.clone(),
        user_id: kept.user_id,
        key_label: kept.key_label,
    };
    let row = match crate::quarantine::entry(&state.protection, &kept.body, facts) {
        Ok(row) => row,
        Err(e) => {
            log::warn!("refused body ({}) not quarantined: {e}", err.code());
            return refuse(state, err, kept.requester_id, Some(kept.client_id)).await;
        }
    };
    if let Err(e) = state.writer.quarantine(row, draft).await {
        log::warn!("refused body ({}) not quarantined: {e}", err.code());
    }
    err
}

/// Records a refusal in the audit trail (code and status only) and hands the error back.
async fn refuse(
    state: &AppState,
    err: ApiError,
    requester_id: Option<String>,
    actor: Option<String>,
) -> ApiError {
    use actix_web::ResponseError;
    let draft = AuditDraft {
        kind: "submission_refused".into(),
        actor,
        reference: None,
        requester_id,
        details: json!({"code": err.code(), "status": err.status_code().as_u16()}),
    };
    if let Err(e) = state.writer.audit(draft).await {
        log::warn!("refusal ({}) not audited: {e}", err.code());
    }
    err
}

/// The public keys that verify `KYC-Receipt` headers (a JWKS; no keys when receipts are off).
#[utoipa::path(get, path = "/.well-known/kyc-receipts/jwks.json", tag = "submission",
    responses((status = 200, description = "The JWKS (Ed25519, `alg` EdDSA)", body = Object)))]
pub async fn receipt_keys(state: web::Data<AppState>) -> HttpResponse {
    let jwks = state
        .receipts
        .as_ref()
        .map_or_else(|| json!({"keys": []}), |signer| signer.jwks());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(jwks)
}
