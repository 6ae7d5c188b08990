//! `DELETE /v1/subjects/{user_id}` (scope `kyc:erase`): erasure of one data subject. Needs a reason
//! (`?reason=` or `{"reason": …}`); answers the receipt, which is also the audit event.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::auth::authorize;
use super::body::read_limited;
use super::reads::with_db;
use super::{ApiError, AppState, private_ok, query};
use crate::auth::scopes;
use crate::store;

/// Largest erasure body (it holds a reason only).
const MAX_ERASE_BODY: usize = 16 * 1024;

/// The reason, from the query string or a JSON body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// Why (e.g. "GDPR Art. 17 request #123"); kept in the receipt.
    pub reason: Option<String>,
}

/// Erasure of one data subject: images and personal fields of every record of that user id are deleted, the
/// user id is replaced by a keyed pseudonym; decisions, reasons and hashes stay. Answers the audit receipt.
#[utoipa::path(delete, path = "/v1/subjects/{user_id}", tag = "privacy",
    params(
        ("user_id" = String, Path, description = "The subject's user id as the upstream sent it"),
        ("reason" = String, Query, description = "Why (kept in the receipt); may instead come as a JSON body `{\"reason\": …}`", min_length = 1, pattern = r"\S"),
    ),
    responses(
        (status = 200, description = "The erasure receipt (also an audit event `subject_erased`)", body = Object),
        (status = 400, description = "`invalid_query` (an unknown or repeated parameter) or `invalid_json` (a body that is not `{\"reason\": …}`)", body = super::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::ErrorBody),
        (status = 422, description = "`invalid_payload`: no reason given", body = super::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::ErrorBody),
    ),
    security(("oauth2" = ["kyc:erase"]), ("bearer" = [])))]
pub async fn erase(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ERASE).await?;
    let query: EraseRequest = query::parse(&req)?;
    let body = read_limited(&req, payload, MAX_ERASE_BODY, &state.settings.server).await?;
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        EraseRequest::default()
    } else {
        serde_json::from_slice::<EraseRequest>(&body)
            .map_err(|e| ApiError::InvalidJson(format!("the body is not {{\"reason\": …}}: {e}")))?
    };
    let reason = query
        .reason
        .or(from_body.reason)
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::InvalidPayload {
            path: "reason".into(),
            message: "an erasure needs a reason".into(),
        })?;
    let user_id = path.into_inner();
    let pseudonym = state.protection.subject_pseudonym(&user_id);
    let actor = principal.client_id;
    let emit = state.settings.events.enabled;
    let key = state.protection.audit_key();
    let receipt = with_db(&state, move |conn| {
        Ok(store::erasure::erase_subject(
            conn,
            &key,
            store::erasure::ErasureRequest {
                user_id: &user_id,
                pseudonym: &pseudonym,
                reason: &reason,
                actor: &actor,
                now: Utc::now().naive_utc(),
                emit_event: emit,
            },
        )?)
    })
    .await?;
    Ok(private_ok().json(receipt))
}
