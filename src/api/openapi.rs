//! The OpenAPI 3.1 document of every HTTP endpoint, served at `GET /openapi.json`. Every route is annotated
//! where its handler is written; this module gathers them, with the schemas of the wire types that have no
//! struct of their own (the token form and answer, the upstream's confirmation). The configured
//! `server.submit_path` and `auth.token_path` replace the defaults at serving time. `tests/api/openapi.rs`
//! probes the running service to keep the document and the mounted routes equal.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};

use super::{AppState, ErrorBody};
use crate::auth::scopes;

/// An RFC 6749 §5.2 error from the token endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`.
    pub error: String,
    /// Human-readable text.
    pub error_description: Option<String>,
}

/// Client-credentials token request (RFC 6749 §4.4); the client may authenticate with HTTP Basic instead
/// of the form fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenForm {
    /// Always `client_credentials`.
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// Space-separated scopes to narrow the token to (default: all of the client's).
    pub scope: Option<String>,
    /// Client id, when not sent by HTTP Basic.
    pub client_id: Option<String>,
    /// Client secret, when not sent by HTTP Basic.
    pub client_secret: Option<String>,
}

/// An issued access token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenAnswer {
    /// The bearer token (a signed JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Scopes granted, space-separated.
    pub scope: String,
}

/// A KYC submission as the upstream pushes it (Ditto v3, see docs/ditto-protocol.md §3). Only the envelope is
/// described: which further fields a submission needs is said by the mapping files in `mappings/`, so a
/// submission this schema allows can still be refused with `422 mapping_failed`. With `[encryption.request]`
/// on, the body is instead the base64 text of its ciphertext, whatever the `Content-Type`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubmissionBody {
    /// Who asks, and the idempotency key.
    pub request_info: RequestInfo,
    /// The verification results (document, liveness, face match, images).
    #[schema(value_type = Option<Object>)]
    pub kyc_info: Option<serde_json::Value>,
}

/// `request_info` of a submission.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestInfo {
    /// The upstream's idempotency key: a retry with the same id and payload gets the same answer.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub requester_id: String,
    /// The person's id at the enterprise; echoed in the confirmation.
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    pub user_id: String,
    /// The enterprise's app id.
    pub app_id: Option<String>,
}

/// The upstream's confirmation, rendered by the mapping's `[response]` template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Confirmation {
    /// False only for a rejected submission.
    pub result: bool,
    /// Our reference.
    pub reference_number: String,
    /// The upstream's user id, echoed.
    pub user_id: String,
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object)), security(()))]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    let doc = document(
        &state.settings.server.submit_path,
        &state.settings.auth.token_path,
    );
    HttpResponse::Ok().json(doc)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kyc-receiver",
        description = "Receives KYC submissions pushed by an upstream IDV platform; auditors list, read, \
                       export and verify them, reviewers resolve pending cases. Personal fields are masked \
                       unless the token holds `kyc:read_pii`; every read of personal data or images is \
                       recorded in the hash-chained audit trail."
    ),
    paths(
        super::token::token, super::submit::submit, super::submit::receipt_keys, super::subjects::erase, super::health::healthz,
        super::health::readyz, openapi_json,
        super::records::list, super::records::show, super::records::image,
        super::review::review, super::trail::events, super::trail::verify, super::trail::head, super::trail::export, super::export::export,
        super::quarantine::list, super::quarantine::show, super::quarantine::replay_one,
        super::quarantine::replay_many, super::quarantine::drop_entry, super::trace::trace,
        super::mapping_versions::show, super::events::feed, super::events::webhooks,
        super::events::pause, super::events::resume, super::events::redeliver,
    ),
    components(schemas(ErrorBody, OAuthErrorBody, TokenForm, TokenAnswer, Confirmation, SubmissionBody)),
    tags(
        (name = "records", description = "Submissions as auditors see them"),
        (name = "review", description = "Resolving pending cases"),
        (name = "audit", description = "The tamper-evident audit trail"),
        (name = "submission", description = "The upstream's side"),
        (name = "auth", description = "OAuth2 client credentials"),
        (name = "privacy", description = "Erasure of a data subject"),
        (name = "quarantine", description = "Refused submissions kept for replay"),
        (name = "events", description = "Decision events: the change feed and webhook delivery"),
        (name = "operations", description = "Health and this document"),
    )
)]
struct ApiDoc;

/// The document with the configured submission and token paths and both security schemes.
pub fn document(submit_path: &str, token_path: &str) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    for (default, configured) in [("/kyc", submit_path), ("/oauth/token", token_path)] {
        if default != configured
            && let Some(item) = doc.paths.paths.remove(default)
        {
            doc.paths.paths.insert(configured.to_string(), item);
        }
    }
    let described = [
        (scopes::KYC_SUBMIT, "push submissions"),
        (scopes::KYC_READ, "list, read (masked), export and verify"),
        (
            scopes::KYC_READ_PII,
            "see personal fields unmasked (every such read is audited)",
        ),
        (scopes::KYC_IMAGES, "download stored images (audited)"),
        (scopes::KYC_REVIEW, "resolve pending_review cases"),
        (scopes::KYC_ERASE, "erase a data subject"),
        (
            scopes::KYC_METRICS,
            "operate the service: readiness details and metrics",
        ),
        (scopes::KYC_ADMIN, "administer the service"),
        (
            scopes::KYC_EVENTS,
            "read the change feed of decision events",
        ),
    ];
    let mut oauth2 = OAuth2::new([Flow::ClientCredentials(ClientCredentials::new(
        token_path,
        Scopes::from_iter(described),
    ))]);
    oauth2.description = Some(
        "Client credentials (RFC 6749 §4.4) at the token endpoint; send the token as a Bearer token."
            .into(),
    );
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(
            "An access token from the token endpoint or the configured external issuer; the route's \
             scope (see the oauth2 requirement) must be in it.",
        ))
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme("oauth2", SecurityScheme::OAuth2(oauth2));
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    doc
}
