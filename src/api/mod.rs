//! HTTP routes. Handlers are thin: they authenticate, extract, call plain functions (intake, records, store)
//! and map errors through [`ApiError`], the one place errors become status codes. The whole route table is
//! [`configure`].

pub mod auth;
mod body;
pub mod error;
mod export;
mod health;
pub mod openapi;
mod query;
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

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
use kyc_crypto::CipherProfile;

pub use self::error::{ApiError, ErrorBody};
use crate::auth::AuthStack;
use crate::config::Settings;
use crate::mapping::registry::MappingRegistry;
use crate::protect::Protection;
use crate::store::Pool;
use crate::store::writer::Writer;

/// Shared state handed to every handler.
pub struct AppState {
    /// The validated configuration.
    pub settings: Arc<Settings>,
    /// Connections for reads.
    pub pool: Pool,
    /// The group-commit writer: submissions, reviews and audit events of reads go through it.
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

/// Facts the request log line reports besides method, route, status and latency: `authorize` records the
/// client, the submission handler the requester id.
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    /// The upstream's requester id, if plain enough to log.
    pub requester_id: Option<String>,
    /// The authenticated client.
    pub client_id: Option<String>,
}

impl LogFields {
    /// Changes the request's log fields (kept in its extensions until the log line is written).
    pub fn update(req: &HttpRequest, change: impl FnOnce(&mut LogFields)) {
        let mut extensions = req.extensions_mut();
        match extensions.get_mut::<LogFields>() {
            Some(fields) => change(fields),
            None => {
                let mut fields = LogFields::default();
                change(&mut fields);
                extensions.insert(fields);
            }
        }
    }
}

/// A 200 that no cache may keep: every answer of the API carries records, tokens or confirmations.
pub fn private_ok() -> HttpResponseBuilder {
    let mut ok = HttpResponse::Ok();
    ok.insert_header((header::CACHE_CONTROL, "no-store"));
    ok
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
