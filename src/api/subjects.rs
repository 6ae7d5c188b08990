//! `DELETE /v1/subjects/{user_id}` (scope `kyc:erase`): erasure of one data subject. Needs a reason
//! (`?reason=` or `{"reason": …}`); answers the receipt, which is also the audit event.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::AppState;
use super::auth::authorize;
use crate::auth::scopes;
use crate::error::ApiError;
use crate::store::{self, StoreError};

/// The reason, from the query string or a JSON body.
#[derive(Debug, Default, Deserialize)]
pub struct EraseRequest {
    /// Why (e.g. "GDPR Art. 17 request #123"); kept in the receipt.
    pub reason: Option<String>,
}

/// Erases a subject's images and personal fields.
pub async fn erase(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<EraseRequest>,
    body: Option<web::Json<EraseRequest>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ERASE).await?;
    let user_id = path.into_inner();
    let reason = query
        .into_inner()
        .reason
        .or_else(|| body.and_then(|b| b.into_inner().reason))
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::InvalidPayload {
            path: "reason".into(),
            message: "an erasure needs a reason".into(),
        })?;
    let pseudonym = state.protection.subject_pseudonym(&user_id);
    let pool = state.pool.clone();
    let actor = principal.client_id.clone();
    let receipt = web::block(move || -> Result<_, StoreError> {
        let mut conn = pool.get()?;
        store::erasure::erase_subject(
            &mut conn,
            &user_id,
            &pseudonym,
            &reason,
            &actor,
            Utc::now().naive_utc(),
        )
        .map_err(StoreError::from)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(super::submit::store_error)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(receipt))
}
