//! `POST {auth.token_path}`: the OAuth2 client-credentials token endpoint (RFC 6749 §4.4) the upstream's
//! `accessTokenEndpoint` calls. The logic lives in `auth::TokenEndpoint`; this handler gathers the request
//! (body at most 64 KiB) and runs the argon2 check off the async workers.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::ApiError;
use super::AppState;
use super::body::read_limited;
use crate::auth::token_endpoint::NO_STORE_HEADERS;
use crate::auth::{OAuthError, TokenRequest};
use crate::tls::PeerSubject;

const MAX_TOKEN_BODY: usize = 64 * 1024;

/// OAuth2 client-credentials token endpoint (path: `auth.token_path`).
#[utoipa::path(post, path = "/oauth/token", tag = "auth",
    request_body(content = super::openapi::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token issued", body = super::openapi::TokenAnswer),
        (status = 400, description = "RFC 6749 error", body = super::openapi::OAuthErrorBody),
        (status = 401, description = "`invalid_client`", body = super::openapi::OAuthErrorBody),
        (status = 429, description = "Too many failed attempts", body = super::openapi::OAuthErrorBody),
    ),
    security(()))]
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(endpoint) = state.auth.token_endpoint.clone() else {
        return Err(ApiError::NotFound);
    };
    // Every check slot taken: answer now instead of queueing blocking work that would be refused anyway.
    if state.auth.gate.is_busy() {
        return Ok(oauth_error(&OAuthError::busy()));
    }
    let body = read_limited(&req, payload, MAX_TOKEN_BODY, &state.settings.server)
        .await?
        .to_vec();
    let header_text = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request = TokenRequest {
        method: req.method().to_string(),
        authorization: header_text(header::AUTHORIZATION),
        content_type: header_text(header::CONTENT_TYPE),
        body,
        query: req.query_string().to_string(),
        remote_addr: super::peer::client_address(&req, &state.trusted_proxies),
        client_cert_subject: req.conn_data::<PeerSubject>().map(|s| s.0.clone()),
    };
    match web::block(move || endpoint.handle(&request)).await? {
        Ok(token) => {
            let mut response = HttpResponse::Ok();
            for (name, value) in NO_STORE_HEADERS {
                response.insert_header((name, value));
            }
            Ok(response.json(token))
        }
        Err(e) => Ok(oauth_error(&e)),
    }
}

/// An RFC 6749 §5.2 error answer with its status and headers.
fn oauth_error(e: &OAuthError) -> HttpResponse {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST));
    for (name, value) in NO_STORE_HEADERS {
        response.insert_header((name, value));
    }
    if let Some(challenge) = e.www_authenticate() {
        response.insert_header((header::WWW_AUTHENTICATE, challenge));
    }
    if let Some(secs) = e.retry_after_secs() {
        response.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    if let Some(allow) = e.allow() {
        response.insert_header((header::ALLOW, allow));
    }
    response.json(e.body())
}
