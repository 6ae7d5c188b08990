//! `GET /v1/submissions`, `GET /v1/submissions/{reference}` and `GET /v1/submissions/{reference}/images/{kind}`
//! (`kyc:read`, `kyc:images`). Personal fields are masked unless the token holds `kyc:read_pii`; every
//! unmasked read and every image read is audited before the answer leaves.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::authorize;
use super::query::{self, Paging, Purpose};
use super::reads::{audit_read, purpose, with_db};
use super::{ApiError, AppState, ErrorBody, private_ok};
use crate::auth::scopes;
use crate::records::{Cursor, FilterParams, SubmissionDetail, SubmissionSummary, load_detail};
use crate::store::images;
use crate::submission::Reference;

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

/// Lists records matching the filters, a page at a time.
#[utoipa::path(get, path = "/v1/submissions", tag = "records",
    params(FilterParams, Paging, Purpose),
    responses(
        (status = 200, description = "A page of records", body = SubmissionPage),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    let q: query::SubmissionList = query::parse(&req)?;
    let filter = q.filters.parse(&state.protection)?;
    let limit = q.paging.limit()?;
    let cursor = q.paging.cursor.as_deref().map(Cursor::decode).transpose()?;
    let unmask = principal.has(scopes::KYC_READ_PII);
    let purpose = if unmask {
        purpose(&state, q.purpose.purpose.as_deref())?
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
        let references: Vec<&Reference> = items.iter().map(|i| &i.reference).collect();
        let details = json!({"endpoint": "list", "count": items.len(), "references": references, "purpose": purpose});
        audit_read(&state, &principal, "personal_data_listed", None, details).await?;
    }
    Ok(private_ok().json(SubmissionPage {
        items,
        next_cursor,
        masked: !unmask,
    }))
}

/// One record with its reasons, mapping, review history, images stored and audit events.
#[utoipa::path(get, path = "/v1/submissions/{reference}", tag = "records",
    params(("reference" = String, Path, description = "The record's reference (`KYC-…`)"), Purpose),
    responses(
        (status = 200, description = "The record", body = SubmissionDetail),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    let q: query::Only<Purpose> = query::parse(&req)?;
    let unmask = principal.has(scopes::KYC_READ_PII);
    let purpose = if unmask {
        purpose(&state, q.part.purpose.as_deref())?
    } else {
        None
    };
    let reference = Reference::parse(&path).ok_or(ApiError::NotFound)?;
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
    Ok(private_ok().json(detail))
}

/// The bytes of one stored image, with its stored `Content-Type`. Every access is audited. The sealed raw
/// payload (`raw_payload`, kept when `storage.keep_raw_payload`) holds every personal value, so it also
/// needs `kyc:read_pii`.
#[utoipa::path(get, path = "/v1/submissions/{reference}/images/{kind}", tag = "records",
    params(
        ("reference" = String, Path, description = "The record's reference"),
        ("kind" = String, Path, description = "Image kind as listed in the record (`selfie`, `front`, …)"),
        Purpose,
    ),
    responses(
        (status = 200, description = "The image", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/json"))),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such record or image", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:images"]), ("bearer" = [])))]
pub async fn image(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_IMAGES).await?;
    let (reference, kind) = path.into_inner();
    if kind == "raw_payload" && !principal.has(scopes::KYC_READ_PII) {
        return Err(ApiError::InsufficientScope {
            scope: scopes::KYC_READ_PII.into(),
        });
    }
    let q: query::Only<Purpose> = query::parse(&req)?;
    let purpose = purpose(&state, q.part.purpose.as_deref())?;
    let reference = Reference::parse(&reference).ok_or(ApiError::NotFound)?;
    let protection = state.protection.clone();
    let (wanted, wanted_kind) = (reference.clone(), kind.clone());
    let (content_type, bytes) = with_db(&state, move |conn| {
        let Some(image) = images::find(conn, &wanted, &wanted_kind)? else {
            return Err(ApiError::NotFound);
        };
        let bytes = protection
            .open_image(&wanted, &image)
            .map_err(|e| ApiError::internal(&e))?;
        Ok((image.content_type, bytes))
    })
    .await?;
    let details = json!({"kind": kind, "byte_len": bytes.len(), "purpose": purpose});
    audit_read(&state, &principal, "image_read", Some(reference), details).await?;
    Ok(private_ok()
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type(content_type)
        .body(bytes))
}
