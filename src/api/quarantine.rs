//! `/v1/quarantine` (scope `kyc:admin`): refused submissions kept for replay — list, show (the body only with
//! `kyc:read_pii`, audited), replay one or many (`dry_run` shows the outcome without storing), and drop.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::authorize;
use super::query::flag;
use super::reads::{purpose, with_db};
use super::{ApiError, AppState, ErrorBody, private_ok, query};
use crate::auth::scopes;
use crate::quarantine::{
    self, EntryView, OpenedBody, QuarantineFilterParams, ReplayEnv, ReplayReport,
};
use crate::store::quarantine as rows;

/// Most entries one `POST /v1/quarantine/replay` replays.
const MAX_REPLAY_BATCH: i64 = 500;

/// Query of the quarantine list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(flatten)]
    filters: QuarantineFilterParams,
    cursor: Option<String>,
    limit: Option<String>,
}

/// Paging of the quarantine list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Describes the parameters in the OpenAPI document; `ListQuery` reads them.
struct QuarantinePaging {
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}\.Q-[0-9a-f]{32}$")]
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// A page of quarantine entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    /// Entries, oldest first.
    pub items: Vec<EntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists quarantine entries, oldest first.
#[utoipa::path(get, path = "/v1/quarantine", tag = "quarantine",
    params(QuarantineFilterParams, QuarantinePaging),
    responses(
        (status = 200, description = "A page of entries (never their bodies)", body = QuarantinePage),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let q: ListQuery = query::parse(&req)?;
    let filter = q.filters.parse()?;
    let limit = crate::records::parse_limit(q.limit.as_deref())?;
    let after =
        match q.cursor.as_deref() {
            None => None,
            Some(text) => Some(quarantine::decode_cursor(text).ok_or_else(|| {
                ApiError::InvalidQuery("`cursor` is not one this list gave".into())
            })?),
        };
    let mut metas = with_db(&state, move |conn| {
        Ok(rows::list(conn, &filter, after.as_ref(), limit + 1)?)
    })
    .await?;
    let more = metas.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    metas.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = more
        .then(|| metas.last().map(quarantine::encode_cursor))
        .flatten();
    Ok(private_ok().json(QuarantinePage {
        items: metas.into_iter().map(EntryView::from).collect(),
        next_cursor,
    }))
}

/// Query of one entry.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ShowQuery {
    /// `true` to include the body (needs `kyc:read_pii`; audited as `quarantine_body_read`).
    #[param(value_type = Option<bool>)]
    body: Option<String>,
    /// Why personal data is read (required with `body=true` when `audit.require_purpose`): at most 200
    /// characters without control characters.
    #[param(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    purpose: Option<String>,
}

/// One entry, and its body when asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryDetail {
    /// The entry.
    #[serde(flatten)]
    pub entry: EntryView,
    /// The body (only with `body=true`; absent once replayed).
    pub body: Option<OpenedBody>,
}

/// One quarantine entry.
#[utoipa::path(get, path = "/v1/quarantine/{id}", tag = "quarantine",
    params(("id" = String, Path, description = "The entry's id (`Q-…`)"), ShowQuery),
    responses(
        (status = 200, description = "The entry", body = EntryDetail),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope` (`kyc:admin`; `kyc:read_pii` for the body)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin", "kyc:read_pii"]), ("bearer" = [])))]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let q: ShowQuery = query::parse(&req)?;
    let with_body = flag("body", q.body.as_deref())?;
    if q.purpose.is_some() {
        // Checked whenever given, so a malformed one is refused whether or not the body is read.
        purpose(&state, q.purpose.as_deref())?;
    }
    let purpose = if with_body {
        if !principal.has(scopes::KYC_READ_PII) {
            return Err(ApiError::InsufficientScope {
                scope: scopes::KYC_READ_PII.into(),
            });
        }
        purpose(&state, q.purpose.as_deref())?
    } else {
        None
    };
    let id = path.into_inner();
    if !quarantine::valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    let row = with_db(&state, move |conn| Ok(rows::get(conn, &id)?))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut detail = EntryDetail {
        entry: EntryView::from(&row),
        body: None,
    };
    if with_body {
        let body =
            quarantine::open_body(&state.protection, &row).map_err(|e| ApiError::internal(&e))?;
        if let Some(body) = body {
            let actor = principal.client_id.clone();
            let audited = row.clone();
            let key = state.protection.audit_key();
            with_db(&state, move |conn| {
                Ok(quarantine::audit_body_read(
                    conn,
                    &key,
                    &audited,
                    &actor,
                    purpose.as_deref(),
                )?)
            })
            .await?;
            detail.body = Some(quarantine::display_body(&body, &state.request_cipher));
        }
    }
    Ok(private_ok().json(detail))
}

/// Query of a replay.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReplayQuery {
    /// `true` to show the outcome without storing anything.
    #[param(value_type = Option<bool>)]
    dry_run: Option<String>,
}

/// Replays one entry through today's keys, mappings and writer. Idempotent.
#[utoipa::path(post, path = "/v1/quarantine/{id}/replay", tag = "quarantine",
    params(("id" = String, Path, description = "The entry's id (`Q-…`)"), ReplayQuery),
    responses(
        (status = 200, description = "What the replay did: `stored`, `already_stored`, `already_replayed`, `refused` (the entry keeps the new error), or with `dry_run` `would_store` / `would_refuse`", body = ReplayReport),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn replay_one(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let q: ReplayQuery = query::parse(&req)?;
    let dry_run = flag("dry_run", q.dry_run.as_deref())?;
    let id = path.into_inner();
    if !quarantine::valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    let report = quarantine::replay(&env(&state), &id, &principal.client_id, dry_run).await?;
    Ok(private_ok().json(report))
}

/// Query of a replay by filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayManyQuery {
    #[serde(flatten)]
    filters: QuarantineFilterParams,
    dry_run: Option<String>,
    limit: Option<String>,
}

/// Limits of a replay by filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Describes the parameters in the OpenAPI document; `ReplayManyQuery` reads them.
struct ReplayManyParams {
    /// `true` to show the outcomes without storing anything.
    #[param(value_type = Option<bool>)]
    dry_run: Option<String>,
    /// Most entries to replay, 1 to 500 (default 100), oldest first.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// What a replay by filter did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayBatch {
    /// One report per entry, oldest first.
    pub reports: Vec<ReplayReport>,
    /// Whether more quarantined entries match than `limit` took.
    pub more: bool,
}

/// Replays the quarantined entries matching the filters, oldest first.
#[utoipa::path(post, path = "/v1/quarantine/replay", tag = "quarantine",
    params(QuarantineFilterParams, ReplayManyParams),
    responses(
        (status = 200, description = "One report per entry", body = ReplayBatch),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn replay_many(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let q: ReplayManyQuery = query::parse(&req)?;
    let filter = q.filters.parse()?;
    let dry_run = flag("dry_run", q.dry_run.as_deref())?;
    let limit = crate::records::parse_limit(q.limit.as_deref())?.min(MAX_REPLAY_BATCH);
    let mut ids = with_db(&state, move |conn| {
        Ok(quarantine::ids_matching(conn, &filter, limit + 1)?)
    })
    .await?;
    let more = ids.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let env = env(&state);
    let mut reports = Vec::with_capacity(ids.len());
    for id in ids {
        match quarantine::replay(&env, &id, &principal.client_id, dry_run).await {
            Ok(report) => reports.push(report),
            // Dropped meanwhile: nothing to report.
            Err(quarantine::ReplayError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(private_ok().json(ReplayBatch { reports, more }))
}

/// What dropping an entry did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dropped {
    /// The entry.
    pub id: String,
    /// Always true (a missing entry is a 404).
    pub dropped: bool,
}

/// Deletes one entry (with its body), with an audit event `quarantine_dropped`.
#[utoipa::path(delete, path = "/v1/quarantine/{id}", tag = "quarantine",
    params(("id" = String, Path, description = "The entry's id (`Q-…`)")),
    responses(
        (status = 200, description = "Dropped", body = Dropped),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn drop_entry(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let _: query::Nothing = query::parse(&req)?;
    let id = path.into_inner();
    if !quarantine::valid_id(&id) {
        return Err(ApiError::NotFound);
    }
    let actor = principal.client_id;
    let wanted = id.clone();
    let key = state.protection.audit_key();
    let dropped = with_db(&state, move |conn| {
        Ok(quarantine::drop_entry(conn, &key, &wanted, &actor)?)
    })
    .await?;
    if !dropped {
        return Err(ApiError::NotFound);
    }
    Ok(private_ok().json(Dropped { id, dropped }))
}

/// What a replay runs with on this instance: its pool, writer, request keys, current mappings and data keys.
pub(crate) fn env(state: &AppState) -> ReplayEnv {
    ReplayEnv {
        pool: state.pool.clone(),
        writer: state.writer.clone(),
        cipher: state.request_cipher.clone(),
        mappings: state.mappings.current(),
        protection: state.protection.clone(),
    }
}
