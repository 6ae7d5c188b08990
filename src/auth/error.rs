//! Errors of the auth module: what a protected route answers, and what a bad `auth.*` section reports.
//!
//! Owns: [`AuthError`] (request-time, with HTTP status, stable code and `WWW-Authenticate` value per
//! RFC 6750 §3 / RFC 7617 §2) and [`AuthConfigError`] (start-time, naming the offending key).
//! Reads no configuration keys.
//!
//! Messages never contain the token, the secret or the Authorization header: the variants carry none.

use std::path::PathBuf;

/// The realm advertised in `WWW-Authenticate` challenges.
pub const REALM: &str = "kyc-receiver";

/// Why a request to a protected route was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or credentials of a scheme no enabled mode accepts (RFC 6750 §3.1: then no error code
    /// in the challenge).
    #[error("authentication required")]
    MissingToken,
    /// A bearer token that is malformed, expired, forged, of another audience/issuer, or inactive.
    #[error("invalid or expired access token")]
    InvalidToken,
    /// Static HTTP Basic credentials that did not match (basic mode).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A valid credential without the scope the route needs.
    #[error("insufficient scope: {required} required")]
    InsufficientScope {
        /// The scope the route requires.
        required: String,
    },
    /// The JWKS or introspection endpoint could not be reached, so the token could not be judged; or every
    /// password-check slot was busy.
    #[error("authorization server unavailable")]
    Unavailable,
    /// Too many failed password checks from this address (or for this user from it) lately.
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Seconds until another attempt is checked.
        retry_after: u64,
    },
}

impl AuthError {
    /// HTTP status: 401, 403 or 503.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken | Self::InvalidToken | Self::InvalidCredentials => 401,
            Self::InsufficientScope { .. } => 403,
            Self::TooManyAttempts { .. } => 429,
            Self::Unavailable => 503,
        }
    }

    /// The stable error code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken | Self::InvalidToken | Self::InvalidCredentials => "invalid_token",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::TooManyAttempts { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
        }
    }

    /// The `WWW-Authenticate` header value, when the status calls for one (RFC 6750 §3, RFC 7617 §2).
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::MissingToken => Some("Bearer".to_owned()),
            Self::InvalidToken => Some(r#"Bearer error="invalid_token""#.to_owned()),
            Self::InvalidCredentials => Some(format!(r#"Basic realm="{REALM}", charset="UTF-8""#)),
            Self::InsufficientScope { required } => Some(format!(
                r#"Bearer error="insufficient_scope", scope="{required}""#
            )),
            Self::Unavailable | Self::TooManyAttempts { .. } => None,
        }
    }

    /// Seconds for `Retry-After` (503 and 429).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Unavailable => Some(5),
            Self::TooManyAttempts { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A problem with the `auth` configuration section, found by `validate()` or while loading key files.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// One or more settings are invalid; each entry starts with the key, e.g.
    /// `auth.clients[1].secret_hash: not an argon2id PHC string`.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// A file named by a setting could not be read or used.
    #[error("{key}: {}: {message}", .path.display())]
    File {
        /// The setting that named the file, e.g. `auth.signing.key_file`.
        key: String,
        /// The file.
        path: PathBuf,
        /// What went wrong (never file contents).
        message: String,
    },
    /// An HTTP client for an external endpoint could not be built.
    #[error("{key}: {message}")]
    Client {
        /// The setting section, e.g. `auth.jwks`.
        key: String,
        /// What went wrong.
        message: String,
    },
}

impl AuthConfigError {
    /// A single invalid setting.
    pub fn invalid(key: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Invalid(vec![format!("{}: {message}", key.into())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_codes_and_challenges_follow_rfc6750() {
        assert_eq!(AuthError::MissingToken.status(), 401);
        assert_eq!(
            AuthError::MissingToken.www_authenticate().as_deref(),
            Some("Bearer")
        );
        assert_eq!(AuthError::InvalidToken.code(), "invalid_token");
        assert_eq!(
            AuthError::InvalidToken.www_authenticate().as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        let e = AuthError::InsufficientScope {
            required: "kyc:submit".into(),
        };
        assert_eq!((e.status(), e.code()), (403, "insufficient_scope"));
        assert_eq!(
            e.www_authenticate().as_deref(),
            Some(r#"Bearer error="insufficient_scope", scope="kyc:submit""#)
        );
        assert_eq!(AuthError::Unavailable.status(), 503);
        assert_eq!(AuthError::Unavailable.retry_after_secs(), Some(5));
        assert!(
            AuthError::InvalidCredentials
                .www_authenticate()
                .is_some_and(|h| h.starts_with("Basic realm="))
        );
    }

    #[test]
    fn config_errors_name_their_keys() {
        let e = AuthConfigError::Invalid(vec!["auth.a: x".into(), "auth.b: y".into()]);
        assert_eq!(e.to_string(), "auth.a: x; auth.b: y");
        let e = AuthConfigError::File {
            key: "auth.signing.key_file".into(),
            path: "/k.pem".into(),
            message: "not found".into(),
        };
        assert_eq!(e.to_string(), "auth.signing.key_file: /k.pem: not found");
    }
}
