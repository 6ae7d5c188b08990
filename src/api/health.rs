//! Liveness and readiness for orchestrators.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::store;

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers a query.
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
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"database": database, "backend": state.backend},
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", crate::error::RETRY_AFTER_SECS.to_string()))
            .json(body)
    }
}
