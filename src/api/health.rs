//! Liveness and readiness for orchestrators. `/readyz` checks the database at most once a second, whoever
//! asks (a flood of probes must not become a flood of queries), and shows its details — backend, mapping
//! files, their hashes and the last reload error — only to a caller whose token holds `kyc:metrics` or
//! `kyc:admin`.

use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::auth::scopes;
use crate::store;

/// How long one database check answers for.
const CHECK_TTL: Duration = Duration::from_secs(1);

/// The last database check: when it ran and whether the database answered.
#[derive(Debug, Default)]
pub struct ReadinessCache(tokio::sync::Mutex<Option<(Instant, bool)>>);

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Object)), security(()))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: database reachable, mappings loaded. Details with a `kyc:metrics` or `kyc:admin` token.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Not ready (with `Retry-After`)", body = Object),
    ), security((), ("oauth2" = ["kyc:metrics"]), ("bearer" = [])))]
pub async fn readyz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let ready = database_answers(&state).await;
    let status = if ready { "ready" } else { "not_ready" };
    let body = if operator(&req, &state).await {
        let set = state.mappings.current();
        // A refused reload leaves the last good set serving: still ready, but the error is shown.
        let mappings = json!({
            "active": set.iter().map(|m| json!({"name": m.name, "sha256": m.sha256})).collect::<Vec<_>>(),
            "reload_error": state.mappings.last_error(),
        });
        let database = if ready { "ok" } else { "unreachable" };
        json!({
            "status": status,
            "checks": {"database": database, "backend": state.backend, "mappings": mappings},
        })
    } else {
        json!({ "status": status })
    };
    let mut answer = if ready {
        HttpResponse::Ok()
    } else {
        let mut unavailable = HttpResponse::ServiceUnavailable();
        unavailable.insert_header((
            header::RETRY_AFTER,
            super::error::RETRY_AFTER_SECS.to_string(),
        ));
        unavailable
    };
    answer.insert_header((header::CACHE_CONTROL, "no-store"));
    answer.json(body)
}

/// The cached database check, refreshed when older than [`CHECK_TTL`]; concurrent callers wait for one check.
async fn database_answers(state: &AppState) -> bool {
    let mut last = state.readiness.0.lock().await;
    if let Some((at, ok)) = *last
        && at.elapsed() < CHECK_TTL
    {
        return ok;
    }
    let pool = state.pool.clone();
    let checked =
        web::block(move || -> Result<(), store::StoreError> { store::ping(&mut *pool.get()?) })
            .await;
    let ok = match checked {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            log::warn!("readiness: {e}");
            false
        }
        Err(_) => false,
    };
    *last = Some((Instant::now(), ok));
    ok
}

/// Whether the caller presented a valid token for operators (no token, or another: the short answer).
async fn operator(req: &HttpRequest, state: &AppState) -> bool {
    let Some(authorization) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    match state
        .auth
        .authenticator
        .authenticate(Some(authorization))
        .await
    {
        Ok(p) => p.has(scopes::KYC_METRICS) || p.has(scopes::KYC_ADMIN),
        Err(_) => false,
    }
}
