//! `GET /v1/audit/events` and `GET /v1/audit/verify` (`kyc:read`): the audit trail, paged in chain order, and
//! its integrity check (`audit::verify`, the same walk as `kyc-receiver audit verify`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::authorize;
use super::reads::{log_client, query_params, with_db};
use super::records::PageParams;
use crate::audit::VerifyReport;
use crate::auth::scopes;
use crate::error::ApiError;
use crate::records::view::event_view;
use crate::records::{
    AuditEventView, AuditFilterParams, decode_audit_cursor, encode_audit_cursor, parse_limit,
};
use crate::store::listing;

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Events in chain order.
    pub items: Vec<AuditEventView>,
    /// Pass as `cursor` for the next page; absent when this page is the last (for now).
    pub next_cursor: Option<String>,
}

/// Audit events matching the filters, in chain (`seq`) order.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit",
    params(AuditFilterParams, PageParams),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "`invalid_query`", body = super::openapi::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::openapi::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::openapi::ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    log_client(&req, &principal);
    let mut allowed = AuditFilterParams::NAMES.to_vec();
    allowed.extend(["cursor", "limit"]);
    let q = query_params(&req, &allowed)?;
    let filter = AuditFilterParams::from_lookup(|k| q.get(k).cloned()).parse()?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let after = q
        .get("cursor")
        .map(|c| decode_audit_cursor(c))
        .transpose()?
        .unwrap_or(0);
    let events = with_db(&state, move |conn| {
        Ok(listing::audit_page(conn, &filter, after, limit)?)
    })
    .await?;
    let next_cursor = match events.last() {
        Some(last) if events.len() as i64 == limit => Some(encode_audit_cursor(last.seq)),
        _ => None,
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(AuditPage {
            items: events.into_iter().map(event_view).collect(),
            next_cursor,
        }))
}

/// Walks the whole hash chain and every submission's content hash. Always 200; `ok` says whether the trail
/// is intact, `first_broken_event` names where it stops holding.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The verification report", body = VerifyReport),
        (status = 401, description = "`invalid_token`", body = super::openapi::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::openapi::ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    log_client(&req, &principal);
    query_params(&req, &[])?;
    let report = with_db(&state, |conn| Ok(crate::audit::verify(conn)?)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(report))
}
