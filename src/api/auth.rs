//! Authentication on protected routes: the `Authorization` header goes to the configured modes (builtin JWTs,
//! an external JWKS issuer, RFC 7662 introspection, Basic), and the principal must hold the route's scope.

use actix_web::HttpRequest;
use actix_web::http::header;

use super::{ApiError, AppState, LogFields};
use crate::auth::{AuthError, Principal, principal_cert_subject_allowed};
use crate::tls::PeerSubject;

/// Authenticates the request and checks `scope`; the client id goes on the request's log line. Failures
/// carry the right `WWW-Authenticate` challenge.
pub async fn authorize(
    req: &HttpRequest,
    state: &AppState,
    scope: &str,
) -> Result<Principal, ApiError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authenticator = &state.auth.authenticator;
    let address = super::peer::client_address(req, &state.trusted_proxies);
    let principal = authenticator
        .authenticate_from(authorization, address)
        .await
        .map_err(|e| to_api_error(authenticator.www_authenticate(&e), e))?;
    principal
        .require(scope)
        .map_err(|e| to_api_error(authenticator.www_authenticate(&e), e))?;
    // A client entry may pin the subject of its mutual-TLS certificate (RFC 8705 style binding).
    let subject = req.conn_data::<PeerSubject>().map(|s| s.0.as_str());
    if !principal_cert_subject_allowed(&state.settings.auth, &principal, subject) {
        log::info!(
            "request refused: client certificate does not match the client's pinned subject"
        );
        return Err(ApiError::InvalidToken {
            challenge: "Bearer error=\"invalid_token\"".into(),
        });
    }
    LogFields::update(req, |f| f.client_id = Some(principal.client_id.clone()));
    Ok(principal)
}

fn to_api_error(challenge: Option<String>, err: AuthError) -> ApiError {
    match err {
        AuthError::InsufficientScope { required } => {
            ApiError::InsufficientScope { scope: required }
        }
        AuthError::Unavailable => ApiError::Unavailable,
        AuthError::TooManyAttempts { retry_after } => ApiError::RateLimited { retry_after },
        other => {
            log::info!("request refused: {}", other.code());
            ApiError::InvalidToken {
                challenge: challenge.unwrap_or_else(|| "Bearer".into()),
            }
        }
    }
}
