//! Error answers of the token endpoint (RFC 6749 §5.2).
//!
//! Owns: [`OAuthError`] and [`OAuthErrorCode`]. Reads no configuration keys.
//!
//! Beyond §5.2's codes: `slow_down` (429 + `Retry-After`) when the failure limiter blocks — a registered
//! OAuth error code (RFC 8628 §3.5) that says "back off" to any OAuth client — and `server_error` (500) when
//! signing fails. Descriptions are fixed texts: they never echo a parameter, so never a secret.

use serde_json::json;

use super::error::REALM;

/// RFC 6749 §5.2 error codes, plus `slow_down` and `server_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// Malformed request: missing/duplicate parameter, both credential sources, wrong method, bad body.
    InvalidRequest,
    /// Client authentication failed (401 with `WWW-Authenticate: Basic`).
    InvalidClient,
    /// Invalid grant (not produced by client credentials; kept for completeness of §5.2).
    InvalidGrant,
    /// The client may not use this grant (e.g. a client without scopes).
    UnauthorizedClient,
    /// `grant_type` other than `client_credentials`.
    UnsupportedGrantType,
    /// Requested scope is not a subset of the client's scopes.
    InvalidScope,
    /// Too many failed attempts from this address or for this client (429).
    SlowDown,
    /// Every password-check slot is busy (503, RFC 6749 §4.1.2.1's `temporarily_unavailable`).
    TemporarilyUnavailable,
    /// The token could not be signed (500).
    ServerError,
}

impl OAuthErrorCode {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::SlowDown => "slow_down",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }
}

/// An error answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    code: OAuthErrorCode,
    description: &'static str,
    status: u16,
    retry_after: Option<u64>,
}

impl OAuthError {
    /// An error with the code's usual status (400, or 401 / 429 / 500).
    pub fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        let status = match code {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::SlowDown => 429,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        };
        Self {
            code,
            description,
            status,
            retry_after: None,
        }
    }

    /// `invalid_client`, 401.
    pub fn invalid_client(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    /// `slow_down`, 429, with `Retry-After: retry_after_secs`.
    pub fn slow_down(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                OAuthErrorCode::SlowDown,
                "too many failed attempts; retry later",
            )
        }
    }

    /// `temporarily_unavailable`, 503 with `Retry-After: 1`: every password-check slot is taken.
    pub fn busy() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "too many token requests at once; retry shortly",
            )
        }
    }

    /// `invalid_request` with 405: the method is not accepted here (RFC 6749 §3.2 requires POST; GET only
    /// with `auth.allow_get_token`). Send `Allow:` [`OAuthError::allow`].
    pub fn method_not_allowed(allow_get: bool) -> Self {
        Self {
            status: 405,
            ..Self::new(
                OAuthErrorCode::InvalidRequest,
                if allow_get {
                    "use GET or POST"
                } else {
                    "use POST"
                },
            )
        }
    }

    /// The error code.
    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }

    /// The human-readable description (fixed text).
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `WWW-Authenticate` for `invalid_client` (RFC 6749 §5.2 requires it with 401).
    pub fn www_authenticate(&self) -> Option<String> {
        (self.code == OAuthErrorCode::InvalidClient).then(|| format!(r#"Basic realm="{REALM}""#))
    }

    /// `Retry-After` seconds for `slow_down`.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// `Allow` header value for a 405.
    pub fn allow(&self) -> Option<&'static str> {
        (self.status == 405).then(|| {
            if self.description == "use POST" {
                "POST"
            } else {
                "GET, POST"
            }
        })
    }

    /// The JSON body `{"error": …, "error_description": …}`.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": self.code.as_str(), "error_description": self.description })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_with_basic_challenge() {
        let e = OAuthError::invalid_client("x");
        assert_eq!(e.status(), 401);
        assert_eq!(
            e.www_authenticate().as_deref(),
            Some(r#"Basic realm="kyc-receiver""#)
        );
        assert_eq!(
            e.body(),
            json!({"error": "invalid_client", "error_description": "x"})
        );
    }

    #[test]
    fn other_codes_have_their_statuses_and_headers() {
        assert_eq!(
            OAuthError::new(OAuthErrorCode::InvalidScope, "x").status(),
            400
        );
        assert_eq!(
            OAuthError::new(OAuthErrorCode::ServerError, "x").status(),
            500
        );
        let s = OAuthError::slow_down(42);
        assert_eq!((s.status(), s.retry_after_secs()), (429, Some(42)));
        assert_eq!(s.body()["error"], "slow_down");
        assert!(s.www_authenticate().is_none());
        let m = OAuthError::method_not_allowed(false);
        assert_eq!((m.status(), m.allow()), (405, Some("POST")));
        assert_eq!(m.code(), OAuthErrorCode::InvalidRequest);
    }
}
