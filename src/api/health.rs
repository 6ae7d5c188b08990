//! Liveness and readiness for orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::store;

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Object)), security(()))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: database reachable, mappings loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Not ready (with `Retry-After`)", body = Object),
    ), security(()))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let db = web::block(move || -> Result<(), store::StoreError> {
        let mut conn = pool.get()?;
        store::ping(&mut conn)
    })
    .await;
    let database = match db {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => {
            log::warn!("readiness: {e}");
            "unreachable".to_string()
        }
        Err(_) => "unreachable".to_string(),
    };
    let ready = database == "ok";
    let set = state.mappings.current();
    // A refused reload leaves the last good set serving: still ready, but the error is shown.
    let mappings = json!({
        "active": set.iter().map(|m| json!({"name": m.name, "sha256": m.sha256})).collect::<Vec<_>>(),
        "reload_error": state.mappings.last_error(),
    });
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"database": database, "backend": state.backend, "mappings": mappings},
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", super::error::RETRY_AFTER_SECS.to_string()))
            .json(body)
    }
}
