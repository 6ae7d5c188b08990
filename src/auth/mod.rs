//! Authentication and authorization: our OAuth 2.0 token endpoint for the upstream, our JWT
//! access tokens, external issuers (JWKS, RFC 7662 introspection), static HTTP Basic, and scopes.
//!
//! Owns the `auth` configuration section (see [`settings`]). The HTTP layer (handlers, extractors, mTLS
//! acceptor) lives elsewhere and calls in here:
//! - start: `settings.validate()` → [`TokenIssuer::from_settings`] (builtin mode) → [`AuthStack::build`]
//!   (or [`Authenticator::new`] and [`TokenEndpoint::new`] directly);
//! - `POST /oauth/token`: gather a [`TokenRequest`], call [`TokenEndpoint::handle`] in `web::block`, answer
//!   the [`TokenResponse`] or the [`OAuthError`] with [`token_endpoint::NO_STORE_HEADERS`];
//! - protected routes: [`Authenticator::authenticate`] on the `Authorization` header, then
//!   [`Principal::require`] with a [`scopes`] constant; map [`AuthError`] with `status()`, `code()`,
//!   [`Authenticator::www_authenticate`] and `retry_after_secs()`.
//!
//! Self-contained: only `self::`/`super::` paths inside, so it can be compiled on its own.
//! Tokens, secrets and Authorization headers are never logged, and no error message contains them.

pub mod authenticator;
pub mod basic;
pub mod clock;
pub mod error;
pub mod gate;
pub mod http;
pub mod introspection;
pub mod issuer;
pub mod jwks;
pub mod keys;
pub mod limiter;
pub mod mtls;
pub mod oauth_error;
pub mod principal;
pub mod secret_hash;
pub mod settings;
mod settings_validate;
pub mod token_endpoint;
mod token_params;

use std::sync::Arc;

pub use self::authenticator::Authenticator;
pub use self::clock::{Clock, ManualClock, SystemClock};
pub use self::error::{AuthConfigError, AuthError};
pub use self::issuer::TokenIssuer;
pub use self::keys::{generate_signing_key_pem, public_key_pem};
pub use self::limiter::FailureLimiter;
pub use self::mtls::{
    client_cert_subject_allowed, principal_cert_subject_allowed, x509_subject_string,
};
pub use self::oauth_error::{OAuthError, OAuthErrorCode};
pub use self::principal::{AuthMethod, Principal, scopes};
pub use self::secret_hash::{generate_client_secret, hash_secret, verify_secret};
pub use self::settings::{AuthMode, AuthSettings, SigningAlg};
pub use self::token_endpoint::{TokenEndpoint, TokenRequest, TokenResponse};

/// Everything the HTTP layer needs, built once at start and shared through `AppState::auth`.
#[derive(Debug)]
pub struct AuthStack {
    /// Verifies credentials on protected routes.
    pub authenticator: Authenticator,
    /// The token endpoint; `None` unless the builtin mode is enabled.
    pub token_endpoint: Option<Arc<TokenEndpoint>>,
    /// Our token issuer; `None` unless the builtin mode is enabled.
    pub issuer: Option<Arc<TokenIssuer>>,
    /// The bound on password checks in flight, shared by the token endpoint and Basic mode.
    pub gate: Arc<gate::PasswordGate>,
}

impl AuthStack {
    /// Loads keys and builds every enabled mode. Call after `settings.validate()`; with the builtin mode the
    /// signing key file must exist (create a dev key first with [`generate_signing_key_pem`]).
    pub fn build(settings: &AuthSettings, clock: Arc<dyn Clock>) -> Result<Self, AuthConfigError> {
        let issuer = if settings.has_mode(AuthMode::Builtin) {
            Some(Arc::new(TokenIssuer::from_settings(
                settings,
                Arc::clone(&clock),
            )?))
        } else {
            None
        };
        // One gate for every password check, so their number in flight is bounded together.
        let gate = Arc::new(gate::PasswordGate::new(Arc::clone(&clock)));
        let token_endpoint = issuer.as_ref().map(|i| {
            Arc::new(TokenEndpoint::with_gate(
                settings,
                Arc::clone(i),
                Arc::clone(&gate),
            ))
        });
        let authenticator =
            Authenticator::with_gate(settings, issuer.clone(), clock, Arc::clone(&gate))?;
        Ok(Self {
            authenticator,
            token_endpoint,
            issuer,
            gate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn stack_builds_from_settings_with_a_generated_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("signing.pem");
        std::fs::write(
            &key_file,
            generate_signing_key_pem(SigningAlg::EdDsa).unwrap(),
        )
        .unwrap();
        let mut settings = AuthSettings::default();
        settings.signing.key_file = key_file;
        let stack = AuthStack::build(&settings, Arc::new(SystemClock)).unwrap();
        assert!(stack.token_endpoint.is_some() && stack.issuer.is_some());
        assert_eq!(
            stack.authenticator.authenticate(None).await,
            Err(AuthError::MissingToken)
        );
    }

    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn stack_is_shareable_across_workers_and_authenticate_is_send() {
        let settings = AuthSettings {
            modes: vec![AuthMode::Basic],
            ..AuthSettings::default()
        };
        let stack = AuthStack::build(&settings, Arc::new(SystemClock)).unwrap();
        assert_send_sync(&stack);
        let fut = stack.authenticator.authenticate(Some("Bearer x"));
        assert_send(&fut);
    }

    #[test]
    fn stack_without_builtin_needs_no_key_file() {
        let settings = AuthSettings {
            modes: vec![AuthMode::Basic],
            ..AuthSettings::default()
        };
        let stack = AuthStack::build(&settings, Arc::new(SystemClock)).unwrap();
        assert!(stack.token_endpoint.is_none() && stack.issuer.is_none());
    }
}
