//! Who is calling, and with which scopes.
//!
//! Owns: [`Principal`] (the result of authentication, whatever the mode), [`AuthMethod`], the scope names
//! used by the service ([`scopes`]), scope-string helpers (RFC 6749 §3.3: space-delimited, case-sensitive)
//! and the mapping of JWT claims to a principal.
//! Reads no configuration keys.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::AuthError;

/// The scopes the service knows.
pub mod scopes {
    /// Push a KYC submission (`POST /kyc`).
    pub const KYC_SUBMIT: &str = "kyc:submit";
    /// Read submissions (personal data masked).
    pub const KYC_READ: &str = "kyc:read";
    /// Read submissions with personal data unmasked.
    pub const KYC_READ_PII: &str = "kyc:read_pii";
    /// Fetch stored images.
    pub const KYC_IMAGES: &str = "kyc:images";
    /// Resolve `pending_review` submissions.
    pub const KYC_REVIEW: &str = "kyc:review";
    /// Erase a subject's data.
    pub const KYC_ERASE: &str = "kyc:erase";
    /// Operate the service: readiness details (and, later, metrics).
    pub const KYC_METRICS: &str = "kyc:metrics";
    /// Administer the service.
    pub const KYC_ADMIN: &str = "kyc:admin";
    /// Read the change feed of decision events.
    pub const KYC_EVENTS: &str = "kyc:events";
    /// Every scope above, for validation of configured clients.
    pub const ALL: [&str; 9] = [
        KYC_SUBMIT,
        KYC_READ,
        KYC_READ_PII,
        KYC_IMAGES,
        KYC_REVIEW,
        KYC_ERASE,
        KYC_METRICS,
        KYC_ADMIN,
        KYC_EVENTS,
    ];

    /// Whether `scope` is one of [`ALL`].
    pub fn is_known(scope: &str) -> bool {
        ALL.contains(&scope)
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A JWT issued by this service's own token endpoint.
    Builtin,
    /// A JWT from an external issuer, checked against its JWKS.
    Jwks,
    /// An opaque or JWT token checked by RFC 7662 introspection.
    Introspection,
    /// Static HTTP Basic credentials.
    Basic,
    /// A person signed in to the console.
    Console,
}

impl AuthMethod {
    /// Stable lower-case name (for audit events and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Jwks => "jwks",
            Self::Introspection => "introspection",
            Self::Basic => "basic",
            Self::Console => "console",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The OAuth client id (or Basic username) of the caller.
    pub client_id: String,
    /// The scopes granted to this credential.
    pub scopes: BTreeSet<String>,
    /// How the caller authenticated.
    pub method: AuthMethod,
}

impl Principal {
    /// Whether the principal holds `scope`.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// `Ok(())` when the principal holds `scope`, else [`AuthError::InsufficientScope`] (403, RFC 6750 §3.1).
    pub fn require(&self, scope: &str) -> Result<(), AuthError> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope {
                required: scope.to_owned(),
            })
        }
    }
}

/// Splits an RFC 6749 §3.3 scope string (space-delimited; extra whitespace tolerated) into a set.
pub fn parse_scope(scope: &str) -> BTreeSet<String> {
    scope.split_ascii_whitespace().map(str::to_owned).collect()
}

/// Joins scopes into the RFC 6749 §3.3 space-delimited form (sorted, so output is stable).
pub fn format_scope(scopes: &BTreeSet<String>) -> String {
    scopes
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `scope` is a syntactically valid scope-token (RFC 6749 §3.3: `%x21 / %x23-5B / %x5D-7E`).
pub fn is_valid_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Maps access-token claims to a principal: client from `client_id` (RFC 9068 §2.2), else `azp`, else `sub`;
/// scopes from `scope` (space-delimited, RFC 9068 §2.2.3) or `scp` (array or string, Okta/Entra style).
pub fn principal_from_claims(claims: &Map<String, Value>, method: AuthMethod) -> Option<Principal> {
    let client_id = ["client_id", "azp", "sub"]
        .iter()
        .find_map(|k| {
            claims
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })?
        .to_owned();
    let mut scopes = claims
        .get("scope")
        .and_then(Value::as_str)
        .map(parse_scope)
        .unwrap_or_default();
    match claims.get("scp") {
        Some(Value::Array(items)) => {
            scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned))
        }
        Some(Value::String(s)) => scopes.extend(parse_scope(s)),
        _ => {}
    }
    Some(Principal {
        client_id,
        scopes,
        method,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[&str]) -> Principal {
        Principal {
            client_id: "ditto".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            method: AuthMethod::Builtin,
        }
    }

    #[test]
    fn require_passes_for_held_scope_and_names_missing_one() {
        let p = principal(&[scopes::KYC_SUBMIT]);
        assert!(p.require(scopes::KYC_SUBMIT).is_ok());
        match p.require(scopes::KYC_READ) {
            Err(AuthError::InsufficientScope { required }) => assert_eq!(required, "kyc:read"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn scope_strings_round_trip_sorted() {
        let s = parse_scope("  kyc:read kyc:submit\tkyc:read ");
        assert_eq!(s.len(), 2);
        assert_eq!(format_scope(&s), "kyc:read kyc:submit");
        assert!(parse_scope("").is_empty());
    }

    #[test]
    fn scope_token_syntax_follows_rfc6749() {
        assert!(is_valid_scope_token("kyc:read_pii"));
        assert!(!is_valid_scope_token("a b"));
        assert!(!is_valid_scope_token("quote\"d"));
        assert!(!is_valid_scope_token("back\\slash"));
        assert!(!is_valid_scope_token(""));
    }

    #[test]
    fn all_scopes_are_known_and_valid() {
        for s in scopes::ALL {
            assert!(scopes::is_known(s));
            assert!(is_valid_scope_token(s));
        }
        assert!(!scopes::is_known("kyc:sumbit"));
    }

    #[test]
    fn claims_without_any_client_identifier_are_refused() {
        let m: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"scope": "kyc:read"})).unwrap();
        assert!(principal_from_claims(&m, AuthMethod::Jwks).is_none());
        let m: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"sub": "s", "scp": "a b"})).unwrap();
        let p = principal_from_claims(&m, AuthMethod::Jwks).unwrap();
        assert_eq!(p.client_id, "s");
        assert_eq!(p.scopes.len(), 2);
    }
}
