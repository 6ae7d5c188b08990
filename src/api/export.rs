//! `GET /v1/export?format=csv|jsonl` (`kyc:read`): the records matching the list filters, streamed. Each
//! chunk is one keyset page read on the blocking pool when the client is ready for more, so memory stays
//! constant however many rows match; the whole export sees the records stored when it started. A database
//! failure mid-stream aborts the response (no final chunk), so a client never mistakes a cut file for a
//! whole one. An unmasked export (`kyc:read_pii`) is audited, with its filters, before the first byte.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::auth::authorize;
use super::query::{self, FormatParam, Purpose};
use super::reads::{audit_read, purpose, stream_chunks, with_db};
use super::{ApiError, AppState, ErrorBody, private_ok};
use crate::auth::Principal;
use crate::auth::scopes;
use crate::records::FilterParams;
use crate::records::export::{CsvCells, Exporter, Format};
use crate::store::listing;

/// Streams the matching records.
#[utoipa::path(get, path = "/v1/export", tag = "records",
    params(FormatParam, FilterParams, Purpose),
    responses(
        (status = 200, description = "The records, streamed", content(
            (String = "text/csv"), (String = "application/jsonl"))),
        (status = 400, description = "`invalid_query` or `purpose_required`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(&req, &state, scopes::KYC_READ).await?;
    let q: query::Export = query::parse(&req)?;
    let format = q.format.format()?;
    let cells = q.format.cells()?;
    let purpose = q.purpose.purpose;
    stream_export(
        &state,
        &principal,
        q.filters,
        format,
        cells,
        purpose.as_deref(),
    )
    .await
}

/// The export of `params` for `principal`, streamed; unmasked (and audited first) when the principal holds
/// `kyc:read_pii`. Shared by `GET /v1/export` and the console's export.
pub async fn stream_export(
    state: &AppState,
    principal: &Principal,
    params: FilterParams,
    format: Format,
    cells: CsvCells,
    given_purpose: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let filter = params.parse(&state.protection)?;
    let unmask = principal.has(scopes::KYC_READ_PII);
    let purpose = if unmask {
        purpose(state, given_purpose)?
    } else {
        None
    };
    let mark = with_db(state, |conn| Ok(listing::snapshot_mark(conn)?)).await?;
    if unmask {
        let details = json!({"endpoint": "export", "format": format, "mark": mark,
            "filters": params.audit_facts(&state.protection), "purpose": purpose});
        audit_read(state, principal, "personal_data_exported", None, details).await?;
    }
    let exporter = Exporter::new(filter, mark, format, unmask).with_cells(cells);
    let protection = state.protection.clone();
    let stream = stream_chunks(
        state.pool.clone(),
        exporter,
        move |exporter: &mut Exporter, conn| {
            exporter
                .next_chunk(conn, &protection)
                .map_err(|e| e.to_string())
        },
        "export",
    );
    Ok(private_ok()
        .content_type(format.content_type())
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"kyc-export.{}\"", format.extension()),
        ))
        .streaming(stream))
}
