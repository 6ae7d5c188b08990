//! The pure logic of our token endpoint (`POST /oauth/token`): OAuth 2.0 client credentials grant
//! (RFC 6749 §4.4) as the upstream's `accessTokenEndpoint` calls it (docs/ditto-protocol.md §5).
//!
//! Owns: [`TokenEndpoint`], its input [`TokenRequest`], output [`TokenResponse`] and [`OAuthError`]
//! (RFC 6749 §5.2). Reads: `auth.clients[]`, `auth.allow_get_token` (and, through the issuer, `auth.signing`,
//! `auth.issuer`, `auth.audience`, `auth.token_ttl_secs`).
//!
//! The actix handler only gathers the request into a [`TokenRequest`], calls [`TokenEndpoint::handle`] inside
//! `web::block` (argon2 costs tens of milliseconds of CPU) and writes the result with [`NO_STORE_HEADERS`].
//! Accepted: form or JSON body; client credentials in HTTP Basic (form-urlencoded inside, RFC 6749 §2.3.1)
//! or as `client_id`/`client_secret` parameters (§2.3.1 too), never both; `GET` with query parameters only
//! when `auth.allow_get_token`. Every secret check passes the shared [`PasswordGate`] (see `gate`).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::basic::{parse_client_basic, split_authorization};
use super::clock::Clock;
use super::gate::{GateRefusal, PasswordGate, address_key};
use super::issuer::TokenIssuer;
use super::mtls::client_cert_subject_allowed;
use super::principal::parse_scope;
use super::secret_hash::{dummy_verify, verify_secret};
use super::settings::{AuthSettings, ClientSettings};

pub use super::oauth_error::{OAuthError, OAuthErrorCode};
use super::token_params as params;

/// Headers for every token endpoint answer, success or error (RFC 6749 §5.1).
pub const NO_STORE_HEADERS: [(&str, &str); 2] =
    [("Cache-Control", "no-store"), ("Pragma", "no-cache")];

/// One request to the token endpoint, as gathered by the HTTP layer (owned, so it can move into `web::block`).
#[derive(Clone, Default)]
pub struct TokenRequest {
    /// HTTP method (`POST`, or `GET` when allowed).
    pub method: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The request body.
    pub body: Vec<u8>,
    /// The raw query string (without `?`).
    pub query: String,
    /// The peer address, for the per-address failure limit.
    pub remote_addr: Option<IpAddr>,
    /// With mutual TLS: the verified client certificate's subject (`mtls::x509_subject_string`).
    pub client_cert_subject: Option<String>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Body, query and Authorization may hold the client secret: never printed.
        f.debug_struct("TokenRequest")
            .field("method", &self.method)
            .field("content_type", &self.content_type)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

/// A successful answer (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until expiry.
    pub expires_in: u64,
    /// Granted scopes, space-delimited (RFC 6749 §3.3).
    pub scope: String,
}

/// The token endpoint.
#[derive(Debug)]
pub struct TokenEndpoint {
    issuer: Arc<TokenIssuer>,
    clients: Vec<ClientSettings>,
    allow_get: bool,
    gate: Arc<PasswordGate>,
}

impl TokenEndpoint {
    /// An endpoint issuing tokens with `issuer` to `settings.clients`, with a password gate of its own.
    pub fn new(settings: &AuthSettings, issuer: Arc<TokenIssuer>, clock: Arc<dyn Clock>) -> Self {
        Self::with_gate(settings, issuer, Arc::new(PasswordGate::new(clock)))
    }

    /// An endpoint whose secret checks go through `gate` (shared with Basic mode).
    pub fn with_gate(
        settings: &AuthSettings,
        issuer: Arc<TokenIssuer>,
        gate: Arc<PasswordGate>,
    ) -> Self {
        Self {
            issuer,
            clients: settings.clients.clone(),
            allow_get: settings.allow_get_token,
            gate,
        }
    }

    /// Handles one request. CPU-heavy (argon2): call it from a blocking context.
    pub fn handle(&self, req: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let params = params::collect(req, self.allow_get)?;
        let (client_id, secret) = credentials(req.authorization.as_deref(), &params)?;
        match params.get("grant_type").map(String::as_str) {
            None => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "grant_type is required",
                ));
            }
            Some("client_credentials") => {}
            Some(_) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::UnsupportedGrantType,
                    "only client_credentials is supported",
                ));
            }
        }

        let addr = req.remote_addr.map(address_key);
        let admission = self
            .gate
            .admit(addr.as_deref())
            .map_err(|refusal| match refusal {
                GateRefusal::SlowDown(retry) => OAuthError::slow_down(retry),
                GateRefusal::Busy => OAuthError::busy(),
            })?;
        let client = self.clients.iter().find(|c| c.client_id == client_id);
        let verified = match client {
            Some(c) => verify_secret(secret.expose_secret(), c.secret_hash.expose_secret()),
            None => {
                dummy_verify(secret.expose_secret());
                false
            }
        };
        let Some(client) = client.filter(|_| verified) else {
            drop(admission);
            // Only ids we know are logged: a caller who swapped id and secret must not get the secret logged.
            let who = if client.is_some() {
                client_id.as_str()
            } else {
                "(unknown)"
            };
            log::info!(
                "token request refused: bad client credentials for client {who} from {addr:?}"
            );
            return Err(OAuthError::invalid_client("client authentication failed"));
        };
        if !client_cert_subject_allowed(client, req.client_cert_subject.as_deref()) {
            drop(admission);
            log::info!(
                "token request refused: client {client_id} presented no or another certificate subject"
            );
            return Err(OAuthError::invalid_client(
                "client certificate does not match this client",
            ));
        }

        admission.succeeded();
        let allowed: BTreeSet<String> = client.scopes.iter().cloned().collect();
        let requested = params
            .get("scope")
            .map(|s| parse_scope(s))
            .unwrap_or_default();
        // RFC 6749 §3.3: no scope requested → the client's default, here all of its scopes.
        let granted = if requested.is_empty() {
            allowed
        } else if requested.is_subset(&allowed) {
            requested
        } else {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                "requested scope exceeds the scopes granted to this client",
            ));
        };
        if granted.is_empty() {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "client has no scopes",
            ));
        }
        let issued = self
            .issuer
            .issue(&client.client_id, &granted)
            .map_err(|e| {
                log::error!("token signing failed: {e}");
                OAuthError::new(OAuthErrorCode::ServerError, "token could not be issued")
            })?;
        log::info!(
            "issued token to client {} with scope {:?}",
            client.client_id,
            issued.scope
        );
        Ok(TokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: issued.scope,
        })
    }
}

/// Picks the client credentials from exactly one place (RFC 6749 §2.3: "MUST NOT use more than one
/// authentication method in each request"). A body `client_id` equal to the Basic one is tolerated, since
/// some clients send it anyway.
fn credentials(
    authorization: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<(String, SecretString), OAuthError> {
    let basic = match authorization.map(|h| split_authorization(h).ok_or(h)) {
        None => None,
        Some(Ok((scheme, creds))) if scheme.eq_ignore_ascii_case("Basic") => Some(
            parse_client_basic(creds)
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials"))?,
        ),
        Some(_) => {
            return Err(OAuthError::invalid_client(
                "unsupported authentication scheme",
            ));
        }
    };
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    match (basic, body_id, body_secret) {
        (Some((id, secret)), None, None) => Ok((id, secret)),
        (Some((id, secret)), Some(b), None) if *b == id => Ok((id, secret)),
        (Some(_), _, _) => Err(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "client credentials in both the Authorization header and the request parameters",
        )),
        (None, Some(id), Some(secret)) => Ok((id.clone(), SecretString::from(secret.clone()))),
        (None, _, _) => Err(OAuthError::invalid_client("client authentication required")),
    }
}

#[cfg(test)]
mod tests;
