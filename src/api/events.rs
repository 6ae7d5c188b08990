//! `GET /v1/events` (`kyc:events`): the change feed of decision events for pull consumers — in commit order,
//! resumable from the last sequence number seen, long-polling up to `wait` seconds until something new exists.
//! `/v1/webhooks` (`kyc:admin`): the webhook endpoints, their delivery state and dead letters; pause, resume,
//! redeliver.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::authorize;
use super::reads::with_db;
use super::{ApiError, AppState, ErrorBody, private_ok, query};
use crate::auth::scopes;
use crate::events::admin::{self, AdminError, EndpointView};
use crate::store::events;

/// Where to resume, how many, how long to wait.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The last sequence number seen (0, the default, starts at the beginning).
    #[param(value_type = Option<i64>, minimum = 0)]
    pub after: Option<String>,
    /// Most events, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Seconds to wait for a new event when there is none (default 0; at most 30, and no longer than
    /// `events.max_wait_secs`).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 30)]
    pub wait: Option<String>,
}

/// One event of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEvent {
    /// Its sequence number.
    pub seq: i64,
    /// Its id (the same as the `webhook-id` of its deliveries).
    pub id: String,
    /// `submission.decided`, `submission.reviewed`, `submission.replayed` or `subject.erased`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// Reference, requester id, user id (or pseudonym), decision, status, reasons, mapping, times.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// Events in commit order.
    pub events: Vec<FeedEvent>,
    /// Pass as `after` next time.
    pub next_after: i64,
}

fn number(name: &str, text: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match text {
        None => Ok(default),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidQuery(format!("`{name}` must be a whole number from 0 to {max}"))
            }),
    }
}

/// Decision events after `after`, in commit order.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(FeedQuery),
    responses(
        (status = 200, description = "Events after `after` (empty when `wait` passed without one)", body = FeedPage),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:events"]), ("bearer" = [])))]
pub async fn feed(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_EVENTS).await?;
    let q: FeedQuery = query::parse(&req)?;
    let after = number("after", q.after.as_deref(), 0, i64::MAX)?;
    let limit = number("limit", q.limit.as_deref(), 100, 500)?;
    if limit == 0 {
        return Err(ApiError::InvalidQuery(
            "`limit` must be a whole number from 1 to 500".into(),
        ));
    }
    // Up to 30 as documented, then held to `events.max_wait_secs`: a longer wait is not an error, it ends sooner.
    let max_wait = i64::try_from(state.settings.events.max_wait_secs).unwrap_or(30);
    let wait = number("wait", q.wait.as_deref(), 0, 30)?.min(max_wait);
    let deadline = Instant::now() + Duration::from_secs(u64::try_from(wait).unwrap_or(0));
    let mut commits = state.writer.commits();
    loop {
        commits.borrow_and_update();
        let page = with_db(&state, move |conn| {
            let head = events::head(conn)?;
            Ok(events::between(conn, after, head, None, limit)?)
        })
        .await?;
        let now = Instant::now();
        if !page.is_empty() || now >= deadline {
            let next_after = page.last().map_or(after, |e| e.seq);
            let events = page
                .into_iter()
                .map(|e| {
                    let mut envelope = crate::events::envelope(&e, &[]);
                    FeedEvent {
                        seq: e.seq,
                        id: e.id,
                        kind: e.kind,
                        timestamp: envelope["timestamp"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        data: envelope["data"].take(),
                    }
                })
                .collect();
            return Ok(private_ok().json(FeedPage { events, next_after }));
        }
        // A commit on this instance wakes the poll at once; other instances' commits are seen within 250 ms.
        let nap = (deadline - now).min(Duration::from_millis(250));
        let _ = tokio::time::timeout(nap, commits.changed()).await;
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Unknown(_) | AdminError::NoEvent(_) => ApiError::NotFound,
            AdminError::Store(s) => s.into(),
        }
    }
}

/// The endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    /// Every configured endpoint with its delivery state.
    pub endpoints: Vec<EndpointView>,
}

/// Webhook endpoints with their cursor, retry state and dead letters.
#[utoipa::path(get, path = "/v1/webhooks", tag = "events",
    responses(
        (status = 200, description = "The endpoints", body = EndpointList),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn webhooks(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorize(&req, &state, scopes::KYC_ADMIN).await?;
    let _: query::Nothing = query::parse(&req)?;
    let settings = state.settings.clone();
    let endpoints = with_db(&state, move |conn| {
        Ok(admin::list(conn, &settings.webhooks)?)
    })
    .await?;
    Ok(private_ok().json(EndpointList { endpoints }))
}

/// What an operator's request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAction {
    /// The endpoint.
    pub endpoint: String,
    /// `paused`, `resumed` or `redelivery_requested`.
    pub action: String,
    /// Events asked for again (redeliver).
    pub count: usize,
}

/// Which event to deliver again.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RedeliverQuery {
    /// The event's sequence number; without it, every dead letter of the endpoint.
    #[param(value_type = Option<i64>, minimum = 1)]
    pub seq: Option<String>,
}

/// Pauses an endpoint: events keep being written, nothing is sent until it is resumed.
#[utoipa::path(post, path = "/v1/webhooks/{name}/pause", tag = "events",
    params(("name" = String, Path, description = "The endpoint's name")),
    responses(
        (status = 200, description = "Paused (an audit event records it)", body = WebhookAction),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such endpoint", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn pause(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _: query::Nothing = query::parse(&req)?;
    act(&req, path.into_inner(), &state, Action::Pause).await
}

/// Resumes a paused endpoint from where it stopped.
#[utoipa::path(post, path = "/v1/webhooks/{name}/resume", tag = "events",
    params(("name" = String, Path, description = "The endpoint's name")),
    responses(
        (status = 200, description = "Resumed (an audit event records it)", body = WebhookAction),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such endpoint", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn resume(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let _: query::Nothing = query::parse(&req)?;
    act(&req, path.into_inner(), &state, Action::Resume).await
}

/// Asks for another delivery of one event (`seq`: a dead letter, or one already delivered) or of every dead
/// letter of the endpoint.
#[utoipa::path(post, path = "/v1/webhooks/{name}/redeliver", tag = "events",
    params(("name" = String, Path, description = "The endpoint's name"), RedeliverQuery),
    responses(
        (status = 200, description = "Asked for (an audit event records it)", body = WebhookAction),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such endpoint or event", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:admin"]), ("bearer" = [])))]
pub async fn redeliver(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q: RedeliverQuery = query::parse(&req)?;
    let seq =
        match q.seq.as_deref() {
            None => None,
            Some(t) => Some(t.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::InvalidQuery("`seq` must be a whole number from 1".into())
            })?),
        };
    act(&req, path.into_inner(), &state, Action::Redeliver(seq)).await
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Pause,
    Resume,
    Redeliver(Option<i64>),
}

async fn act(
    req: &HttpRequest,
    name: String,
    state: &web::Data<AppState>,
    action: Action,
) -> Result<HttpResponse, ApiError> {
    let principal = authorize(req, state, scopes::KYC_ADMIN).await?;
    let settings = state.settings.clone();
    let actor = principal.client_id;
    let endpoint = name.clone();
    let key = state.protection.audit_key();
    let count = with_db(state, move |conn| {
        let (w, k) = (&settings.webhooks, &key);
        Ok(match action {
            Action::Pause => admin::set_paused(conn, k, w, &endpoint, true, &actor).map(|()| 0)?,
            Action::Resume => {
                admin::set_paused(conn, k, w, &endpoint, false, &actor).map(|()| 0)?
            }
            Action::Redeliver(seq) => admin::redeliver(conn, k, w, &endpoint, seq, &actor)?,
        })
    })
    .await?;
    let action = match action {
        Action::Pause => "paused",
        Action::Resume => "resumed",
        Action::Redeliver(_) => "redelivery_requested",
    };
    Ok(private_ok().json(WebhookAction {
        endpoint: name,
        action: action.into(),
        count,
    }))
}
