//! `POST {auth.token_path}`: the OAuth2 client-credentials token endpoint (RFC 6749 §4.4) the upstream's
//! `accessTokenEndpoint` calls. The logic lives in `auth::TokenEndpoint`; this handler gathers the request
//! (body at most 64 KiB) and runs the argon2 check off the async workers.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::AppState;
use crate::auth::TokenRequest;
use crate::auth::token_endpoint::NO_STORE_HEADERS;
use crate::error::ApiError;
use crate::startup::PeerSubject;

const MAX_TOKEN_BODY: usize = 64 * 1024;

/// Issues a token or answers an RFC 6749 §5.2 error.
pub async fn token(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(endpoint) = state.auth.token_endpoint.clone() else {
        return Err(ApiError::NotFound);
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::IncompleteBody)?;
        if body.len() + chunk.len() > MAX_TOKEN_BODY {
            return Err(ApiError::PayloadTooLarge {
                limit: MAX_TOKEN_BODY,
            });
        }
        body.extend_from_slice(&chunk);
    }
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
        remote_addr: req.peer_addr().map(|a| a.ip()),
        client_cert_subject: req.conn_data::<PeerSubject>().map(|s| s.0.clone()),
    };
    let outcome = web::block(move || endpoint.handle(&request))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut response = match &outcome {
        Ok(_) => HttpResponse::Ok(),
        Err(e) => {
            HttpResponse::build(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST))
        }
    };
    for (name, value) in NO_STORE_HEADERS {
        response.insert_header((name, value));
    }
    match outcome {
        Ok(token) => Ok(response.json(token)),
        Err(e) => {
            if let Some(challenge) = e.www_authenticate() {
                response.insert_header((header::WWW_AUTHENTICATE, challenge));
            }
            if let Some(secs) = e.retry_after_secs() {
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            if let Some(allow) = e.allow() {
                response.insert_header((header::ALLOW, allow));
            }
            Ok(response.json(e.body()))
        }
    }
}
