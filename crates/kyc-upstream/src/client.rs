//! One push as the upstream makes it: seal the body with the request profile, add the configured headers
//! and the `Authorization` (a fetched token or a static header), POST over HTTPS with keep-alive, open a
//! 2xx answer with the response profile, and check it by the locators.
//!
//! Sealing and opening use [`CipherProfile`], the receiver's one implementation of every cipher spec.

use std::time::Duration;

use oauth2::reqwest;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret as _;

use super::confirm::{ConfirmError, Confirmation, Locators};
use super::settings::{SettingsError, TOKEN_PLACEHOLDER, UpstreamSettings, parse_header};
use super::token::{TokenCache, TokenError};
use kyc_crypto::{CipherProfile, SealError};

/// The configured upstream: HTTP client, target, auth, profiles and locators.
#[derive(Debug)]
pub struct Upstream {
    http: reqwest::Client,
    submit_url: reqwest::Url,
    headers: HeaderMap,
    token: Option<TokenCache>,
    request: CipherProfile,
    response: CipherProfile,
    locators: Locators,
}

/// The receiver's answer; `body` is already decrypted for a 2xx when response decryption is on.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response body (plaintext).
    pub body: Vec<u8>,
    /// Request body bytes sent (after encryption).
    pub sent_bytes: usize,
}

/// A push that did not produce a valid confirmation.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No token could be obtained.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The request body could not be sealed.
    #[error("request encryption failed: {0}")]
    Seal(#[from] SealError),
    /// No answer (connect, TLS, timeout, reset).
    #[error("request failed: {0}")]
    Transport(String, &'static str),
    /// A 2xx body that the response profile could not open.
    #[error("HTTP {0}: the response body could not be decrypted")]
    ResponseDecrypt(u16),
    /// A status other than 200; `code` is the receiver's `error` field when it sent one.
    #[error("HTTP {status}{}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Status {
        /// The status.
        status: u16,
        /// The `error` code of the JSON body, if plain.
        code: Option<String>,
    },
    /// A 200 that is not a confirmation.
    #[error("not a valid confirmation: {0}")]
    Confirmation(#[from] ConfirmError),
}

impl SendError {
    /// A short code for error statistics (`timeout`, `duplicate_conflict`, `http_502`, …).
    pub fn code(&self) -> String {
        match self {
            Self::Token(_) => "token_error".into(),
            Self::Seal(_) => "seal_failed".into(),
            Self::Transport(_, kind) => (*kind).into(),
            Self::ResponseDecrypt(_) => "response_decrypt_failed".into(),
            Self::Status { code: Some(c), .. } => c.clone(),
            Self::Status { status, .. } => format!("http_{status}"),
            Self::Confirmation(e) => e.code().into(),
        }
    }
}

fn transport(e: &reqwest::Error) -> SendError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    };
    // `{:#}`-style chains would be better, but reqwest's Display already names the URL and cause.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    SendError::Transport(text, kind)
}

impl Upstream {
    /// Builds the upstream from settings; returns warnings (weak cipher choices) to print.
    pub fn from_settings(s: &UpstreamSettings) -> Result<(Self, Vec<String>), SettingsError> {
        let invalid = |key: &'static str, message: String| SettingsError::Invalid { key, message };
        let submit_url = s
            .submit_url
            .as_deref()
            .ok_or_else(|| invalid("submit_url", "required (--submit-url)".into()))?;
        let submit_url =
            reqwest::Url::parse(submit_url).map_err(|e| invalid("submit_url", e.to_string()))?;

        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(s.timeout_secs.max(1)))
            .tcp_nodelay(true);
        if let Some(ca) = &s.ca {
            let pem =
                std::fs::read(ca).map_err(|e| invalid("ca", format!("{}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| invalid("ca", format!("{}: {e}", ca.display())))?;
            http = http.add_root_certificate(cert);
        }
        if s.insecure {
            http = http
                .danger_accept_invalid_certs(true)
                .danger_accept_invalid_hostnames(true);
        }
        let http = http.build().map_err(|e| invalid("ca", e.to_string()))?;

        let mut headers = HeaderMap::new();
        let mut wants_token = s.token_url.is_some();
        for line in &s.header {
            let (name, value) = parse_header(line)?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| invalid("header", e.to_string()))?;
            if name == AUTHORIZATION && value.contains(TOKEN_PLACEHOLDER) {
                wants_token = true;
                continue;
            }
            if name == AUTHORIZATION && s.token_url.is_some() {
                return Err(invalid(
                    "header",
                    format!(
                        "a static Authorization conflicts with token_url; use `Authorization: Bearer {TOKEN_PLACEHOLDER}` or drop one"
                    ),
                ));
            }
            let value =
                HeaderValue::from_str(&value).map_err(|e| invalid("header", e.to_string()))?;
            headers.append(name, value);
        }
        if !headers.contains_key(CONTENT_TYPE) {
            // The upstream sends its configured Content-Type, JSON in the vendor sample, even when encrypted.
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }

        let token = if wants_token {
            let url = s.token_url.as_deref().ok_or_else(|| {
                invalid(
                    "token_url",
                    format!("required by `Authorization: Bearer {TOKEN_PLACEHOLDER}`"),
                )
            })?;
            let id = s
                .client_id
                .as_deref()
                .ok_or_else(|| invalid("client_id", "required with token_url".into()))?;
            let secret = s
                .client_secret
                .as_ref()
                .ok_or_else(|| invalid("client_secret", "required with token_url".into()))?;
            let cache = TokenCache::new(url, id, secret, &s.scope, s.token_auth, http.clone())
                .map_err(|e| invalid("token_url", e.to_string()))?;
            Some(cache)
        } else {
            None
        };

        let (request, mut warnings) =
            CipherProfile::from_settings(&s.encryption.request, "encryption.request")
                .map_err(|e| invalid("encryption.request", e.to_string()))?;
        let (response, more) =
            CipherProfile::from_settings(&s.encryption.response, "encryption.response")
                .map_err(|e| invalid("encryption.response", e.to_string()))?;
        warnings.extend(more);
        let upstream = Self {
            http,
            submit_url,
            headers,
            token,
            request,
            response,
            locators: s.locators.clone(),
        };
        Ok((upstream, warnings))
    }

    /// Seals (when request encryption is on) and POSTs `plaintext`; any HTTP status is a [`Reply`].
    pub async fn post(&self, plaintext: Vec<u8>) -> Result<Reply, SendError> {
        let body = if self.request.is_enabled() {
            self.request.seal(&plaintext)?.into_bytes()
        } else {
            plaintext
        };
        let sent_bytes = body.len();
        let mut request = self
            .http
            .post(self.submit_url.clone())
            .headers(self.headers.clone())
            .body(body);
        let token = match &self.token {
            Some(cache) => Some(cache.bearer().await?),
            None => None,
        };
        if let Some(t) = &token {
            request = request.bearer_auth(t.expose_secret());
        }
        let response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| transport(&e))?;
        if status == 401
            && let (Some(cache), Some(t)) = (&self.token, &token)
        {
            cache.invalidate(t).await;
        }
        let body = if (200..300).contains(&status) && self.response.is_enabled() {
            self.response
                .open(&bytes)
                .map_err(|_| SendError::ResponseDecrypt(status))?
                .plaintext
        } else {
            bytes.to_vec()
        };
        Ok(Reply {
            status,
            body,
            sent_bytes,
        })
    }

    /// Whether `reply` is a valid confirmation (HTTP 200 and the locators find their values).
    pub fn confirm(&self, reply: &Reply) -> Result<Confirmation, SendError> {
        if reply.status != 200 {
            return Err(SendError::Status {
                status: reply.status,
                code: error_code(&reply.body),
            });
        }
        Ok(self.locators.check(&reply.body)?)
    }

    /// The token cache, when a token endpoint is configured.
    pub fn token_cache(&self) -> Option<&TokenCache> {
        self.token.as_ref()
    }
}

/// The `error` field of a JSON error body, if it is a plain code (so statistics stay bounded and clean).
fn error_code(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    let plain = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plain.then(|| code.to_owned())
}

#[cfg(test)]
mod tests;
