//! `GET /v1/submissions`, `GET /v1/submissions/{reference}` and `GET /v1/submissions/{reference}/images/{kind}`
//! (`kyc:read`, `kyc:images`). Personal fields are masked unless the token holds `kyc:read_pii`; every
//! unmasked read and every image read is audited before the answer leaves.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::authorize;
use super::reads::{audit_read, log_client, purpose, query_params, with_db};
use crate::auth::scopes;
use crate::error::ApiError;
use crate::records::{
    Cursor, FilterParams, SubmissionDetail, SubmissionSummary, load_detail, parse_limit,
};
use crate::store::images;

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionPage {
    /// Records in `(received_at, reference)` order.
    pub items: Vec<SubmissionSummary>,
    /// Pass as `cursor` for the next page; absent when this page is the last.
    pub next_cursor: Option<String>,
    /// Whether personal fields are masked (the token lacks `kyc:read_pii`).
    pub masked: bool,
}

/// Paging parameters. Documentation only: handlers parse the query by hand to refuse unknown names.
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `next_cursor` of the previous page. A traversal sees the records stored when its first page was read:
    /// none twice, none skipped, however many arrive meanwhile.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// Why personal data is read; stored in the audit event. Required when `audit.require_purpose = true` and
/// the read includes personal data or images. Documentation only, like [`PageParams`].
#[allow(dead_code)]
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurposeParam {
    /// Free text, at most 200 characters (e.g. a case number).
    pub purpose: Option<String>,
}

fn no_store() -> (header::HeaderName, &'static str) {
    (header::CACHE_CONTROL, "no-store")
}

/// Lists records matching the filters, a page at a time.
#[utoipa::path(get, path = "/v1/submissions", tag = "records",
    params(FilterParams, PageParams, PurposeParam),
    responses(
        (status = 200, description = "A page of records", body = SubmissionPage),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = super::openapi::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::openapi::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::openapi::ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    log_client(&req, &principal);
    let mut allowed = FilterParams::NAMES.to_vec();
    allowed.extend(["cursor", "limit", "purpose"]);
    let q = query_params(&req, &allowed)?;
    let filter = FilterParams::from_lookup(|k| q.get(k).cloned()).parse()?;
    let limit = parse_limit(q.get("limit").map(String::as_str))?;
    let cursor = q.get("cursor").map(|c| Cursor::decode(c)).transpose()?;
    let unmask = principal.has(scopes::KYC_READ_PII);
    let purpose = if unmask {
        purpose(&state, q.get("purpose"))?
    } else {
        None
    };
    let protection = state.protection.clone();
    let (items, next_cursor) = with_db(&state, move |conn| {
        Ok(crate::records::summary_page(
            conn,
            &filter,
            cursor.as_ref(),
            limit,
            &protection,
            unmask,
        )?)
    })
    .await?;
    if unmask && !items.is_empty() {
        let references: Vec<&str> = items.iter().map(|i| i.reference.as_str()).collect();
        let details = json!({"endpoint": "list", "count": items.len(), "references": references, "purpose": purpose});
        audit_read(&state, &principal, "personal_data_listed", None, details).await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .json(SubmissionPage {
            items,
            next_cursor,
            masked: !unmask,
        }))
}

/// One record with its reasons, mapping, review history, images stored and audit events.
#[utoipa::path(get, path = "/v1/submissions/{reference}", tag = "records",
    params(("reference" = String, Path, description = "The record's reference (`KYC-…`)"), PurposeParam),
    responses(
        (status = 200, description = "The record", body = SubmissionDetail),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = super::openapi::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::openapi::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`", body = super::openapi::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::openapi::ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    log_client(&req, &principal);
    let q = query_params(&req, &["purpose"])?;
    let unmask = principal.has(scopes::KYC_READ_PII);
    let purpose = if unmask {
        purpose(&state, q.get("purpose"))?
    } else {
        None
    };
    let reference = path.into_inner();
    let protection = state.protection.clone();
    let wanted = reference.clone();
    let detail = with_db(&state, move |conn| {
        Ok(load_detail(conn, &wanted, &protection, unmask)?)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    if unmask {
        let details = json!({"endpoint": "show", "fields": detail.pii_fields, "purpose": purpose});
        audit_read(
            &state,
            &principal,
            "personal_data_read",
            Some(reference),
            details,
        )
        .await?;
    }
    Ok(HttpResponse::Ok().insert_header(no_store()).json(detail))
}

/// The bytes of one stored image, with its stored `Content-Type`. Every access is audited. The sealed raw
/// payload (`raw_payload`, kept when `storage.keep_raw_payload`) holds every personal value, so it also
/// needs `kyc:read_pii`.
#[utoipa::path(get, path = "/v1/submissions/{reference}/images/{kind}", tag = "records",
    params(
        ("reference" = String, Path, description = "The record's reference"),
        ("kind" = String, Path, description = "Image kind as listed in the record (`selfie`, `front`, …)"),
        PurposeParam,
    ),
    responses(
        (status = 200, description = "The image", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/json"))),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = super::openapi::ErrorBody),
        (status = 401, description = "`invalid_token`", body = super::openapi::ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = super::openapi::ErrorBody),
        (status = 404, description = "`not_found`: no such record or image", body = super::openapi::ErrorBody),
        (status = 503, description = "`unavailable`", body = super::openapi::ErrorBody),
    ),
    security(("oauth2" = ["kyc:images"]), ("bearer" = [])))]
pub async fn image(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_IMAGES).await?;
    log_client(&req, &principal);
    let (reference, kind) = path.into_inner();
    if kind == "raw_payload" && !principal.has(scopes::KYC_READ_PII) {
        return Err(ApiError::InsufficientScope {
            scope: scopes::KYC_READ_PII.into(),
        });
    }
    let q = query_params(&req, &["purpose"])?;
    let purpose = purpose(&state, q.get("purpose"))?;
    let protection = state.protection.clone();
    let (wanted, wanted_kind) = (reference.clone(), kind.clone());
    let (content_type, bytes) = with_db(&state, move |conn| {
        let Some(row) = images::find(conn, &wanted, &wanted_kind)? else {
            return Err(ApiError::NotFound);
        };
        let bytes = protection
            .open_image(&row)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((row.content_type, bytes))
    })
    .await?;
    let details = json!({"kind": kind, "byte_len": bytes.len(), "purpose": purpose});
    audit_read(&state, &principal, "image_read", Some(reference), details).await?;
    Ok(HttpResponse::Ok()
        .insert_header(no_store())
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type(content_type)
        .body(bytes))
}
