//! The OpenAPI 3.1 document of every HTTP endpoint, served at `GET /openapi.json`. Auditor routes are
//! annotated where they are written; the submission, token and health routes are described here by
//! doc-only stubs so their modules stay untouched. The configured `server.submit_path` and `auth.token_path`
//! replace the defaults at serving time. `tests/api/openapi.rs` probes the running service to keep the
//! document and the mounted routes equal.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};

use super::AppState;
use crate::auth::scopes;

/// Every error answer: a stable code and a PII-free message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_token`, `not_pending_review`.
    #[schema(example = "invalid_query")]
    pub error: String,
    /// Human-readable text; never echoes secrets, tokens or personal data.
    pub message: String,
    /// Present on 500 answers: matches the server's log line.
    pub error_id: Option<String>,
}

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

/// OAuth2 client-credentials token endpoint (path: `auth.token_path`).
#[utoipa::path(post, path = "/oauth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token issued", body = TokenAnswer),
        (status = 400, description = "RFC 6749 error", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = OAuthErrorBody),
        (status = 429, description = "Too many failed attempts", body = OAuthErrorBody),
    ),
    security(()))]
#[allow(dead_code)]
fn token_doc() {}

/// A KYC submission from the upstream (path: `server.submit_path`): the Ditto payload as JSON, or its
/// encrypted text when `[encryption.request]` is on.
#[utoipa::path(post, path = "/kyc", tag = "submission",
    request_body(content = Object, description = "Ditto v3 payload (or its base64 ciphertext)", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored (or replayed); the confirmation, sealed as text/plain when response encryption is on", body = Confirmation),
        (status = 400, description = "`invalid_json`, `decrypt_failed` or `invalid_request`", body = ErrorBody),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 409, description = "`duplicate_conflict`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`invalid_payload` or `mapping_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:submit"]), ("bearer" = [])))]
#[allow(dead_code)]
fn submit_doc() {}

/// Erasure of one data subject: images and personal fields of every record of that user id are deleted, the
/// user id is replaced by a keyed pseudonym; decisions, reasons and hashes stay. Answers the audit receipt.
#[utoipa::path(delete, path = "/v1/subjects/{user_id}", tag = "privacy",
    params(
        ("user_id" = String, Path, description = "The subject's user id as the upstream sent it"),
        ("reason" = Option<String>, Query, description = "Why; required here or as `{\"reason\": …}`"),
    ),
    responses(
        (status = 200, description = "The erasure receipt (also an audit event `subject_erased`)", body = Object),
        (status = 401, description = "`invalid_token`", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`", body = ErrorBody),
        (status = 422, description = "`invalid_payload`: no reason given", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    ),
    security(("oauth2" = ["kyc:erase"]), ("bearer" = [])))]
#[allow(dead_code)]
fn erase_doc() {}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Object)), security(()))]
#[allow(dead_code)]
fn healthz_doc() {}

/// Readiness: database reachable, mappings loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Not ready (with `Retry-After`)", body = Object),
    ), security(()))]
#[allow(dead_code)]
fn readyz_doc() {}

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
        token_doc, submit_doc, erase_doc, healthz_doc, readyz_doc, openapi_json,
        super::records::list, super::records::show, super::records::image,
        super::review::review, super::trail::events, super::trail::verify, super::export::export,
    ),
    components(schemas(ErrorBody, OAuthErrorBody)),
    tags(
        (name = "records", description = "Submissions as auditors see them"),
        (name = "review", description = "Resolving pending cases"),
        (name = "audit", description = "The tamper-evident audit trail"),
        (name = "submission", description = "The upstream's side"),
        (name = "auth", description = "OAuth2 client credentials"),
        (name = "privacy", description = "Erasure of a data subject"),
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
