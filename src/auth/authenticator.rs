//! Authenticating a request to a protected route from its `Authorization` header, whatever modes are on.
//!
//! Owns: [`Authenticator`]. Reads: `auth.modes` and, through the verifiers, `auth.jwks.*`,
//! `auth.introspection.*`, `auth.basic[]` (the builtin issuer is built by the caller and shared with the
//! token endpoint).
//!
//! Routing of a bearer token, cheapest check first: a JWT with one of our `kid`s and our `iss` → builtin
//! (local signature check); a JWT whose `iss` is the configured external issuer → jwks (local, cached keys);
//! anything else → introspection when enabled (a network call). The unverified header and `iss` only pick
//! the verifier; each verifier checks everything itself.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::basic::{BasicVerifier, split_authorization};
use super::clock::Clock;
use super::error::{AuthConfigError, AuthError, REALM};
use super::gate::PasswordGate;
use super::introspection::Introspector;
use super::issuer::TokenIssuer;
use super::jwks::JwksVerifier;
use super::principal::Principal;
use super::settings::{AuthMode, AuthSettings};

/// Longest bearer token looked at; real ones are well under 4 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
/// What an upstream sends when its `accessTokenEndpoint` is not set up (docs/ditto-protocol.md §2).
const DITTO_PLACEHOLDER: &str = "__ACCESS_TOKEN_PLACEHOLDER__";

/// Combines the enabled modes.
#[derive(Debug)]
pub struct Authenticator {
    builtin: Option<Arc<TokenIssuer>>,
    /// The scopes each configured client holds now: a builtin token is honoured only while its client is
    /// configured, and only for the scopes it still has (tokens outlive a removal by up to their lifetime).
    clients: HashMap<String, BTreeSet<String>>,
    jwks: Option<JwksVerifier>,
    introspection: Option<Introspector>,
    basic: Option<BasicVerifier>,
}

impl Authenticator {
    /// Builds the verifiers of the enabled modes. `issuer` is required when `builtin` is enabled (build it
    /// with `TokenIssuer::from_settings` and share it with the token endpoint).
    pub fn new(
        settings: &AuthSettings,
        issuer: Option<Arc<TokenIssuer>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthConfigError> {
        let gate = Arc::new(PasswordGate::new(Arc::clone(&clock)));
        Self::with_gate(settings, issuer, clock, gate)
    }

    /// Like [`Authenticator::new`], with Basic mode's password checks going through `gate`.
    pub fn with_gate(
        settings: &AuthSettings,
        issuer: Option<Arc<TokenIssuer>>,
        clock: Arc<dyn Clock>,
        gate: Arc<PasswordGate>,
    ) -> Result<Self, AuthConfigError> {
        let builtin = if settings.has_mode(AuthMode::Builtin) {
            Some(issuer.ok_or_else(|| {
                AuthConfigError::invalid("auth.modes", "builtin mode needs the signing key")
            })?)
        } else {
            None
        };
        let jwks = match (settings.has_mode(AuthMode::Jwks), &settings.jwks) {
            (false, _) => None,
            (true, None) => {
                return Err(AuthConfigError::invalid(
                    "auth.jwks",
                    "required when the jwks mode is enabled",
                ));
            }
            (true, Some(j)) => Some(JwksVerifier::new(
                j,
                &settings.audience,
                Arc::clone(&clock),
            )?),
        };
        let introspection = match (
            settings.has_mode(AuthMode::Introspection),
            &settings.introspection,
        ) {
            (false, _) => None,
            (true, None) => {
                return Err(AuthConfigError::invalid(
                    "auth.introspection",
                    "required when the introspection mode is enabled",
                ));
            }
            (true, Some(i)) => Some(Introspector::new(i, Arc::clone(&clock))?),
        };
        let basic = settings
            .has_mode(AuthMode::Basic)
            .then(|| BasicVerifier::with_gate(settings.basic.clone(), clock, gate));
        let clients = settings
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), c.scopes.iter().cloned().collect()))
            .collect();
        Ok(Self {
            builtin,
            clients,
            jwks,
            introspection,
            basic,
        })
    }

    /// Authenticates from the `Authorization` header value (`None` when absent), with no caller address.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        self.authenticate_from(authorization, None).await
    }

    /// Authenticates a request from `address` (the client's address, for Basic mode's failure limits).
    pub async fn authenticate_from(
        &self,
        authorization: Option<&str>,
        address: Option<std::net::IpAddr>,
    ) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::MissingToken)?;
        let (scheme, credentials) = split_authorization(header).unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("Bearer") {
            return self.bearer(credentials).await;
        }
        if scheme.eq_ignore_ascii_case("Basic")
            && let Some(basic) = &self.basic
        {
            let key = address.map(super::gate::address_key);
            return basic.verify(credentials, key.as_deref()).await;
        }
        // RFC 6750 §3.1: an unsupported authentication method is treated like no credentials at all.
        Err(AuthError::MissingToken)
    }

    /// The `WWW-Authenticate` value for `err`, listing a Basic challenge too when the basic mode is on
    /// (RFC 9110 §11.6.1 allows several challenges).
    pub fn www_authenticate(&self, err: &AuthError) -> Option<String> {
        let bearer_modes =
            self.builtin.is_some() || self.jwks.is_some() || self.introspection.is_some();
        match err {
            AuthError::MissingToken if self.basic.is_some() && bearer_modes => {
                Some(format!(r#"Bearer, Basic realm="{REALM}""#))
            }
            AuthError::MissingToken if self.basic.is_some() => {
                AuthError::InvalidCredentials.www_authenticate()
            }
            other => other.www_authenticate(),
        }
    }

    async fn bearer(&self, token: &str) -> Result<Principal, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN || !is_b64token(token) {
            return Err(AuthError::InvalidToken);
        }
        if token == DITTO_PLACEHOLDER {
            log::warn!(
                "bearer token is the upstream's placeholder: its accessTokenEndpoint is not configured"
            );
            return Err(AuthError::InvalidToken);
        }
        let header = jsonwebtoken::decode_header(token).ok();
        let iss = header.as_ref().and_then(|_| unverified_iss(token));
        if let (Some(issuer), Some(kid)) = (
            &self.builtin,
            header.as_ref().and_then(|h| h.kid.as_deref()),
        ) && issuer.knows_kid(kid)
            && iss.as_deref() == Some(issuer.issuer())
        {
            return self.still_configured(issuer.verify(token)?);
        }
        if let Some(jwks) = &self.jwks
            && iss.as_deref() == Some(jwks.issuer())
        {
            return jwks.verify(token).await;
        }
        if let Some(introspection) = &self.introspection {
            return introspection.verify(token).await;
        }
        log::debug!("bearer token refused: no enabled mode recognises it");
        Err(AuthError::InvalidToken)
    }
}

impl Authenticator {
    /// A verified builtin token, narrowed to what its client holds today; refused when the client is gone.
    fn still_configured(&self, mut principal: Principal) -> Result<Principal, AuthError> {
        let Some(current) = self.clients.get(&principal.client_id) else {
            log::info!(
                "token refused: client {} is no longer configured",
                principal.client_id
            );
            return Err(AuthError::InvalidToken);
        };
        principal.scopes.retain(|s| current.contains(s));
        Ok(principal)
    }
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The `iss` claim read WITHOUT verification — used only to choose the verifier.
fn unverified_iss(token: &str) -> Option<String> {
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests;
