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

/// Walks the whole hash chain, every submission against its content hash and its history, and the heads this
/// instance signed (`audit.heads_file`). Always 200; `ok` says whether the trail is intact,
/// `first_broken_event` names where it stops holding.
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
    Ok(private_ok().json(verify_report(&state).await?))
}

/// The verification the API and the console run: the whole chain with the storage keys, every record against
/// its history, and the heads this instance signed.
pub async fn verify_report(state: &AppState) -> Result<crate::audit::VerifyReport, ApiError> {
    // One walk at a time, whoever asks: a walk reads the whole trail, and a crowd of them would hold every
    // pooled connection. No report is reused: a row changed behind an unchanged chain head must show.
    let _one_at_a_time = state.verify_walk.lock().await;
    // The same check as `kyc-receiver audit verify`, retention checkpoints' MACs included.
    let key = state.protection.audit_key();
    // The heads this instance signed, checked with its own key (auditors check their copies with the CLI or
    // the independent verifier).
    let file = state.settings.audit.heads_file.clone();
    let public = state
        .head_signer
        .public_key()
        .map_err(|e| ApiError::internal(&e))?;
    with_db(state, move |conn| {
        let heads = if file.exists() {
            crate::audit::heads::read(&file, &public)
        } else {
            Ok(Vec::new())
        };
        Ok(crate::audit::verify_with_heads(conn, Some(&key), heads)?)
    })
    .await
}

/// The chain's current head, freshly signed with the instance's Ed25519 head key (`[audit] head_key_file`),
/// with the public key: auditors keep their own copies and later check the chain still contains them.
#[utoipa::path(get, path = "/v1/audit/head", tag = "audit",
    responses(
        (status = 200, description = "The signed head", body = SignedHeadAnswer),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn head(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let _: query::Nothing = query::parse(&req)?;
    let (seq, hash) = with_db(&state, |conn| Ok(crate::store::audit_log::head(conn)?)).await?;
    let signer = &state.head_signer;
    let head = signer
        .sign(seq, &hash, chrono::Utc::now())
        .map_err(|e| ApiError::internal(&e))?;
    let public_key_pem = signer
        .public_key_pem()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(private_ok().json(SignedHeadAnswer {
        head,
        public_key_pem,
    }))
}

/// A signed head and the key that verifies it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SignedHeadAnswer {
    /// The head.
    pub head: crate::audit::heads::SignedHead,
    /// The Ed25519 public key (PEM, SubjectPublicKeyInfo).
    pub public_key_pem: String,
}

/// The whole trail as JSON Lines (the newest retention checkpoint, every event as stored, the head), streamed:
/// what `tools/verify_audit.py` and other independent verifiers read (docs/audit-format.md).
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit",
    responses(
        (status = 200, description = "JSON Lines", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let _: query::Nothing = query::parse(&req)?;
    let stream = super::reads::stream_chunks(
        state.pool.clone(),
        crate::audit::export::TrailExporter::new(),
        |exporter: &mut crate::audit::export::TrailExporter, conn| {
            exporter.next_chunk(conn).map_err(|e| e.to_string())
        },
        "audit export",
    );
    Ok(private_ok()
        .content_type("application/x-ndjson")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"kyc-audit.jsonl\"",
        ))
        .streaming(stream))
}
