//! HTTP routes. Handlers are thin: they authenticate, extract, call plain functions (intake, records, store)
//! and map errors through [`ApiError`], the one place errors become status codes. The whole route table is
//! [`configure`].

pub mod auth;
pub mod body;
pub mod connections;
pub mod error;
mod events;
pub mod export;
mod health;
mod mapping_versions;
pub mod openapi;
pub mod peer;
pub(crate) mod quarantine;
mod query;
pub mod rate_limit;
pub mod reads;
mod records;
pub mod request_id;
pub mod review;
mod subjects;
mod submit;
mod token;
mod trace;
pub(crate) mod trail;
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
    /// The console's sign-in limits and OpenID Connect cache.
    pub console: crate::console::ConsoleState,
    /// `server.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The last database check of `/readyz`.
    pub readiness: health::ReadinessCache,
    /// Held while `GET /v1/audit/verify` walks the trail, so walks run one at a time.
    pub verify_walk: tokio::sync::Mutex<()>,
    /// Signs the audit chain's head (`[audit] head_key_file`).
    pub head_signer: Arc<crate::audit::heads::HeadSigner>,
    /// Signs receipts for the upstream, when `[receipts] enable = true`.
    pub receipts: Option<Arc<crate::receipts::ReceiptSigner>>,
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

/// Mounts every route. `allow_get_token` is `auth.allow_get_token` (the token endpoint's methods).
pub fn configure(
    cfg: &mut web::ServiceConfig,
    submit_path: &str,
    token_path: &str,
    allow_get_token: bool,
) {
    let token_methods = if allow_get_token { "GET, POST" } else { "POST" };
    cfg.service(
        resource(token_path, token_methods)
            .route(web::post().to(token::token))
            .route(web::get().to(token::token)),
    )
    .service(resource(submit_path, "POST").route(web::post().to(submit::submit)))
    .service(resource("/v1/subjects/{user_id}", "DELETE").route(web::delete().to(subjects::erase)))
    .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
    .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
    .service(
        resource("/.well-known/kyc-receipts/jwks.json", "GET")
            .route(web::get().to(submit::receipt_keys)),
    );
    v1::configure(cfg);
}

/// A resource at `path` that answers 405 with `Allow: allow` (RFC 9110 §15.5.6) to methods it does not route.
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || method_not_allowed(allow)))
}

/// JSON 404 for unknown paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, allow))
        .json(serde_json::json!({
            "error": "method_not_allowed",
            "message": "this method is not allowed on this path",
        }))
}
