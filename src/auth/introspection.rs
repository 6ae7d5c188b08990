//! `introspection` mode: ask the authorization server whether a token is active (RFC 7662), through the
//! `oauth2` crate's `introspect()`.
//!
//! Owns: [`Introspector`] and its answer cache.
//! Reads: `auth.introspection.{url, client_id, client_secret, cache_secs, audience, ca_file}`.
//!
//! Caching (RFC 7662 §4 allows it, trading revocation latency for load): an answer is reused for
//! `cache_secs`, but never past the token's `exp`; inactive answers are cached too, so garbage tokens do
//! not reach the server again and again. The cache is keyed by the SHA-256 of the token, so no token is
//! kept in memory after the request, and it holds at most [`CACHE_MAX`] entries; when full, the oldest
//! entry goes (constant time, no scan).
//!
//! At most [`MAX_CALLS`] introspection calls are in flight: each unknown token costs an outbound request,
//! and a flood of random tokens must not become a flood of connections to the authorization server. A call
//! that cannot start within [`CALL_WAIT`] is answered 503.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AccessToken, ClientId, ClientSecret, EndpointNotSet, EndpointSet, IntrospectionUrl,
    RequestTokenError, TokenIntrospectionResponse,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::clock::Clock;
use super::error::{AuthConfigError, AuthError};
use super::principal::{AuthMethod, Principal};
use super::settings::IntrospectionSettings;

/// Most cached answers.
pub const CACHE_MAX: usize = 10_000;

/// Most introspection calls in flight.
pub const MAX_CALLS: usize = 8;

/// Longest wait for a call slot before answering 503.
pub const CALL_WAIT: Duration = Duration::from_secs(5);

/// Cached answers with their insertion order, so eviction needs no scan.
#[derive(Debug, Default)]
struct Cache {
    answers: HashMap<[u8; 32], Cached>,
    order: VecDeque<[u8; 32]>,
}

type IntrospectionClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointSet, EndpointNotSet, EndpointNotSet>;

#[derive(Debug, Clone)]
struct Cached {
    /// `None` for an inactive (or unusable) token.
    principal: Option<Principal>,
    until: u64,
}

/// Checks tokens by RFC 7662 introspection, with a bounded cache.
#[derive(Debug)]
pub struct Introspector {
    client: IntrospectionClient,
    http: reqwest::Client,
    cache_secs: u64,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
    calls: Semaphore,
}

impl Introspector {
    /// An introspector for `settings`.
    pub fn new(
        settings: &IntrospectionSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthConfigError> {
        let url = IntrospectionUrl::new(settings.url.clone())
            .map_err(|e| AuthConfigError::invalid("auth.introspection.url", e))?;
        // RFC 7662 §2.1: the protected resource authenticates itself; HTTP Basic (the crate's default,
        // RFC 6749 §2.3.1) is what every server supports.
        let client = BasicClient::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                settings.client_secret.expose_secret().to_owned(),
            ))
            .set_introspection_url(url);
        Ok(Self {
            client,
            http: super::http::build_client("auth.introspection", settings.ca_file.as_deref())?,
            cache_secs: settings.cache_secs,
            audience: settings.audience.clone(),
            clock,
            cache: Mutex::new(Cache::default()),
            calls: Semaphore::new(MAX_CALLS),
        })
    }

    /// Whether the token is active, and for whom with which scopes.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = self.clock.now_unix();
        if let Some(hit) = self.cached(&key, now) {
            return hit.principal.ok_or(AuthError::InvalidToken);
        }
        let _call = match tokio::time::timeout(CALL_WAIT, self.calls.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                log::warn!("introspection refused: {MAX_CALLS} calls already in flight");
                return Err(AuthError::Unavailable);
            }
        };
        // Another request may have introspected the same token while this one waited.
        if let Some(hit) = self.cached(&key, self.clock.now_unix()) {
            return hit.principal.ok_or(AuthError::InvalidToken);
        }

        let access_token = AccessToken::new(token.to_owned());
        let answer = self
            .client
            .introspect(&access_token)
            .set_token_type_hint("access_token")
            .request_async(&self.http)
            .await
            .map_err(|e| self.classify(e))?;

        let now = self.clock.now_unix();
        let exp = answer
            .exp()
            .map(|t| u64::try_from(t.timestamp()).unwrap_or(0));
        let principal = self.principal_from(&answer, now, exp);
        if self.cache_secs > 0 {
            let until = now
                .saturating_add(self.cache_secs)
                .min(exp.unwrap_or(u64::MAX));
            self.insert(
                key,
                Cached {
                    principal: principal.clone(),
                    until,
                },
            );
        }
        principal.ok_or(AuthError::InvalidToken)
    }

    fn principal_from(
        &self,
        answer: &oauth2::basic::BasicTokenIntrospectionResponse,
        now: u64,
        exp: Option<u64>,
    ) -> Option<Principal> {
        if !answer.active() {
            return None;
        }
        // Do not trust `active: true` alone when the server also says the token is past its time.
        if exp.is_some_and(|e| e <= now) {
            return None;
        }
        if answer
            .nbf()
            .is_some_and(|n| n.timestamp() > i64::try_from(now).unwrap_or(i64::MAX))
        {
            return None;
        }
        // A token issued for another audience is not for us (servers that leave `aud` out of their answers,
        // as RFC 7662 allows, are taken at their word).
        if let (Some(want), Some(auds)) = (&self.audience, answer.aud())
            && !auds.contains(want)
        {
            log::debug!("introspected token refused: audience does not include ours");
            return None;
        }
        let client_id = answer
            .client_id()
            .map(|c| c.as_str())
            .or(answer.sub())
            .or(answer.username())
            .filter(|s| !s.is_empty())?
            .to_owned();
        let scopes = answer
            .scopes()
            .map(|list| list.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default();
        Some(Principal {
            client_id,
            scopes,
            method: AuthMethod::Introspection,
        })
    }

    fn classify<RE: std::error::Error>(
        &self,
        e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
    ) -> AuthError {
        match e {
            RequestTokenError::ServerResponse(r) => match r.error() {
                // Our own credentials are refused: a configuration problem, not the caller's fault.
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => {
                    log::error!(
                        "introspection endpoint refused our client credentials ({})",
                        r.error()
                    );
                    AuthError::Unavailable
                }
                // e.g. `unsupported_token_type` for JWTs some servers will not introspect.
                other => {
                    log::debug!("introspection endpoint answered {other}");
                    AuthError::InvalidToken
                }
            },
            // Network, HTTP or parse failures: the token could not be judged. The response body is not
            // logged (it is the server's, but keep logs small and free of anything token-derived).
            RequestTokenError::Request(e) => {
                log::warn!("introspection request failed: {e}");
                AuthError::Unavailable
            }
            RequestTokenError::Parse(e, _) => {
                log::warn!("introspection response unparseable at {}", e.path());
                AuthError::Unavailable
            }
            RequestTokenError::Other(m) => {
                log::warn!("introspection failed: {m}");
                AuthError::Unavailable
            }
        }
    }

    fn cached(&self, key: &[u8; 32], now: u64) -> Option<Cached> {
        self.lock()
            .answers
            .get(key)
            .filter(|c| now < c.until)
            .cloned()
    }

    fn insert(&self, key: [u8; 32], value: Cached) {
        let mut cache = self.lock();
        if cache.answers.insert(key, value).is_none() {
            cache.order.push_back(key);
        }
        while cache.answers.len() > CACHE_MAX {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            cache.answers.remove(&oldest);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
