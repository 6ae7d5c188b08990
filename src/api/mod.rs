//! HTTP routes. Handlers are thin: they extract, call plain functions (intake, store) and map errors through
//! [`crate::error::ApiError`]. The whole route table is [`configure`].

pub mod auth;
mod body;
mod export;
mod health;
pub mod openapi;
pub mod rate_limit;
mod reads;
mod records;
mod review;
mod subjects;
mod submit;
mod token;
mod trail;
mod v1;

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use crate::auth::AuthStack;
use crate::config::Settings;
use crate::error::ApiError;
use crate::mapping::registry::MappingRegistry;
use crate::protect::Protection;
use crate::store::Pool;
use crate::store::writer::Writer;
use kyc_crypto::CipherProfile;

/// Shared state handed to every handler.
pub struct AppState {
    /// The validated configuration.
    pub settings: Arc<Settings>,
    /// Connections for reads.
    pub pool: Pool,
    /// The one write path.
    pub writer: Writer,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Opens request bodies (`[encryption.request]`).
    pub request_cipher: Arc<CipherProfile>,
    /// Seals confirmations (`[encryption.response]`).
    pub response_cipher: Arc<CipherProfile>,
    /// Per-client submission rate limits.
    pub rate_limiter: rate_limit::RateLimiter,
    /// Data keys and image policy.
    pub protection: Arc<Protection>,
    /// Authentication modes, token issuer and token endpoint.
    pub auth: Arc<AuthStack>,
    /// The active mapping set (swapped on reload).
    pub mappings: Arc<MappingRegistry>,
    /// Room for submission bodies in flight, in bytes (`server.inflight_body_bytes`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Large bodies prepared at once on the blocking pool (one per CPU core).
    pub cpu_slots: Arc<tokio::sync::Semaphore>,
}

/// Facts the request log line reports besides method, route, status and latency. Handlers fill it in.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// The upstream's requester id, if plain enough to log.
    pub requester_id: Option<String>,
    /// The authenticated client.
    pub client_id: Option<String>,
}

/// Mounts every route.
pub fn configure(cfg: &mut web::ServiceConfig, submit_path: &str, token_path: &str) {
    cfg.service(
        web::resource(token_path)
            .route(web::post().to(token::token))
            .route(web::get().to(token::token))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(submit_path)
            .route(web::post().to(submit::submit))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/v1/subjects/{user_id}")
            .route(web::delete().to(subjects::erase))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(health::healthz))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(health::readyz))
            .default_service(web::to(method_not_allowed)),
    );
    v1::configure(cfg);
}

/// JSON 404 for unknown paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().json(serde_json::json!({
        "error": "method_not_allowed",
        "message": "this method is not allowed on this path",
    }))
}
