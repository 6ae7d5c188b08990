//! `GET /v1/audit/events` and `GET /v1/audit/verify` (`kyc:read`): the audit trail, paged in chain order, and
//! its integrity check (`audit::verify`, the same walk as `kyc-receiver audit verify`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::authorize;
use super::query::{self, AuditPaging};
use super::reads::with_db;
use super::{ApiError, AppState, ErrorBody, private_ok};
use crate::audit::VerifyReport;
use crate::auth::scopes;
use crate::records::view::event_view;
use crate::records::{AuditEventView, AuditFilterParams, decode_audit_cursor, encode_audit_cursor};
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
    params(AuditFilterParams, AuditPaging),
    responses(
        (status = 200, description = "A page of events", body = AuditPage),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let q: query::AuditEvents = query::parse(&req)?;
    let filter = q.filters.parse()?;
    let limit = q.paging.limit()?;
    let after = q
        .paging
        .cursor
        .as_deref()
        .map(decode_audit_cursor)
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
    Ok(private_ok().json(AuditPage {
        items: events.into_iter().map(event_view).collect(),
        next_cursor,
    }))
}

/// Walks the whole hash chain and every submission's content hash. Always 200; `ok` says whether the trail
/// is intact, `first_broken_event` names where it stops holding.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The verification report", body = VerifyReport),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let _: query::Nothing = query::parse(&req)?;
    // One walk at a time, whoever asks: a walk reads the whole trail, and a crowd of them would hold every
    // pooled connection. No report is reused: a row changed behind an unchanged chain head must show.
    let _one_at_a_time = state.verify_walk.lock().await;
    // The same check as `kyc-receiver audit verify`, retention checkpoints' MACs included.
    let key = state.protection.checkpoint_key();
    let report = with_db(&state, move |conn| {
        Ok(crate::audit::verify_with_key(conn, Some(&key))?)
    })
    .await?;
    Ok(private_ok().json(report))
}
