//! `GET /v1/mappings/{sha256}` (`kyc:read`): a mapping file exactly as it was activated, by the hash every record
//! carries (`mapping_hash`), so an auditor can read the rules a decision was made by.

use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::authorize;
use super::reads::with_db;
use super::{ApiError, AppState, ErrorBody, private_ok, query};
use crate::auth::scopes;
use crate::store::mapping_versions::{self, MappingVersion};

/// One mapping version.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MappingVersionView {
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The mapping's `name`.
    pub name: String,
    /// The file's name.
    pub file_name: String,
    /// When it was first activated (RFC 3339).
    pub first_seen_at: String,
    /// The file's text.
    pub content: String,
}

impl From<MappingVersion> for MappingVersionView {
    fn from(v: MappingVersion) -> Self {
        MappingVersionView {
            first_seen_at: crate::store::audit_log::format_timestamp(v.first_seen_at),
            sha256: v.sha256,
            name: v.name,
            file_name: v.file_name,
            content: v.content,
        }
    }
}

/// A mapping file as it was activated.
#[utoipa::path(get, path = "/v1/mappings/{sha256}", tag = "records",
    params(("sha256" = String, Path, description = "The file's SHA-256 as a record's `mapping_hash` gives it (64 hex digits)")),
    responses(
        (status = 200, description = "The file", body = MappingVersionView),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: never activated here", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let _: query::Nothing = query::parse(&req)?;
    let hash = path.into_inner();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound);
    }
    let found = with_db(&state, move |conn| Ok(mapping_versions::find(conn, &hash)?)).await?;
    let version = found.into_iter().next().ok_or(ApiError::NotFound)?;
    Ok(private_ok().json(MappingVersionView::from(version)))
}
