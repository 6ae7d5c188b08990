//! The simulator's OAuth2 client-credentials token (RFC 6749 §4.4), fetched with the `oauth2` crate and
//! cached until shortly before `expires_in` (a tenth of the lifetime, at most 30 s, early), as the
//! upstream's `accessTokenEndpoint` + `Bearer __ACCESS_TOKEN_PLACEHOLDER__` does (docs/ditto-protocol.md §5).
//!
//! One fetch at a time: concurrent workers wait for the fetch in flight instead of each asking for a
//! token. A 401 from the receiver drops the cached token so the next request fetches a fresh one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicTokenType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse as _, TokenUrl,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

/// Lifetime assumed when the token response has no `expires_in` (RFC 6749 §5.1 makes it optional).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Where the client credentials go in the token request (config `token_auth`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TokenAuth {
    /// `client_id` and `client_secret` as form parameters, as Ditto's `postParameters` send them.
    #[default]
    RequestBody,
    /// HTTP Basic (RFC 6749 §2.3.1).
    Basic,
}

/// Getting a token failed. Messages never contain the secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// `token_url` is not a URL.
    #[error("token_url: {0}")]
    Url(String),
    /// The token endpoint answered with an OAuth2 error (`invalid_client`, …).
    #[error("token endpoint refused the request: {0}")]
    Refused(String),
    /// The token endpoint could not be reached.
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
    /// The answer is not RFC 6749 JSON, or not a bearer token.
    #[error("token response unusable: {0}")]
    Invalid(String),
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

/// A client-credentials token source with a cache.
pub struct TokenCache {
    client: Client,
    http: oauth2::reqwest::Client,
    scopes: Vec<Scope>,
    slot: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.client.token_uri().as_str())
            .field("client_id", &self.client.client_id().as_str())
            .field("fetches", &self.fetches())
            .finish()
    }
}

/// How long a token of `lifetime` is used before a new one is fetched.
pub fn refresh_after(lifetime: Duration) -> Duration {
    lifetime.saturating_sub((lifetime / 10).min(Duration::from_secs(30)))
}

impl TokenCache {
    /// A cache for `client_id` at `token_url`; `http` must not follow redirects (the oauth2 crate's advice).
    pub fn new(
        token_url: &str,
        client_id: &str,
        client_secret: &SecretString,
        scopes: &[String],
        auth: TokenAuth,
        http: oauth2::reqwest::Client,
    ) -> Result<Self, TokenError> {
        let url =
            TokenUrl::new(token_url.to_owned()).map_err(|e| TokenError::Url(e.to_string()))?;
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned()))
            .set_auth_type(match auth {
                TokenAuth::RequestBody => AuthType::RequestBody,
                TokenAuth::Basic => AuthType::BasicAuth,
            })
            .set_token_uri(url);
        Ok(Self {
            client,
            http,
            scopes: scopes.iter().map(|s| Scope::new(s.clone())).collect(),
            slot: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// A valid access token: the cached one, or a fresh one.
    pub async fn bearer(&self) -> Result<SecretString, TokenError> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let asked = Instant::now();
        let answer = self
            .client
            .exchange_client_credentials()
            .add_scopes(self.scopes.iter().cloned())
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => TokenError::Refused(r.to_string()),
                RequestTokenError::Request(r) => TokenError::Transport(r.to_string()),
                // The body is not shown: it might hold a token.
                RequestTokenError::Parse(p, _) => TokenError::Invalid(p.to_string()),
                RequestTokenError::Other(o) => TokenError::Invalid(o),
            })?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        if *answer.token_type() != BasicTokenType::Bearer {
            return Err(TokenError::Invalid(format!(
                "token_type is {:?}, not Bearer",
                answer.token_type()
            )));
        }
        let lifetime = answer.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let token = SecretString::from(answer.access_token().secret().clone());
        *slot = Some(Cached {
            token: token.clone(),
            refresh_at: asked + refresh_after(lifetime),
        });
        Ok(token)
    }

    /// Drops the cached token if it is `rejected` (the receiver answered 401 to it).
    pub async fn invalidate(&self, rejected: &SecretString) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|c| c.token.expose_secret() == rejected.expose_secret())
        {
            *slot = None;
        }
    }

    /// How many tokens were fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
