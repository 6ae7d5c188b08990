//! `GET /v1/trace?requester_id=ID` (`kyc:read`): everything that happened to one push — refused, quarantined,
//! replayed, stored, reviewed — from the audit trail, the records and the quarantine (`records::trace`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::auth::authorize;
use super::reads::with_db;
use super::{ApiError, AppState, ErrorBody, private_ok, query};
use crate::auth::scopes;
use crate::records::trace::{Trace, trace as read_trace};

/// Which push.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// The upstream's requester id (exact).
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub requester_id: String,
}

/// The story of one requester id, oldest first. An unknown id answers an empty story, not 404: "nothing
/// arrived" is the answer.
#[utoipa::path(get, path = "/v1/trace", tag = "records",
    params(TraceQuery),
    responses(
        (status = 200, description = "Events, records and quarantine entries of that requester id", body = Trace),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:read"]), ("bearer" = [])))]
pub async fn trace(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_READ).await?;
    let q: TraceQuery = query::parse(&req)?;
    let id = q.requester_id;
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(ApiError::InvalidQuery(
            "`requester_id` must be 1 to 128 printable characters".into(),
        ));
    }
    let story = with_db(&state, move |conn| Ok(read_trace(conn, &id)?)).await?;
    Ok(private_ok().json(story))
}
