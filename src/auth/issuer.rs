//! Our own access tokens: JWTs in the RFC 9068 profile, signed with Ed25519 or ES256.
//!
//! Owns: [`TokenIssuer`] (issue + verify, key rotation); key files are handled by `keys`.
//! Reads: `auth.issuer`, `auth.audience`, `auth.token_ttl_secs`, `auth.signing.{alg,key_file,key_id,previous}`.
//!
//! Any number of instances holding the same key verify each other's tokens without shared state. Rotation:
//! make a new key, move the old `key_id` + public key to `auth.signing.previous`, and drop it once the last
//! token signed with it has expired (`token_ttl_secs` later).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::clock::{Clock, SystemClock};
use super::error::{AuthConfigError, AuthError};
use super::keys::{self, KeyError};
use super::principal::{AuthMethod, Principal, format_scope, parse_scope};
use super::settings::{AuthSettings, SigningAlg};

/// `typ` header of RFC 9068 access tokens (§2.1).
pub const AT_JWT: &str = "at+jwt";
/// Clock-skew allowance when verifying our own tokens (instances may drift a little).
const LEEWAY_SECS: u64 = 30;

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub access_token: String,
    /// Lifetime in seconds (`exp - iat`).
    pub expires_in: u64,
    /// Granted scopes, space-delimited.
    pub scope: String,
}

/// RFC 9068 §2.2 claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    client_id: String,
    scope: String,
    exp: u64,
    iat: u64,
    jti: String,
}

/// Most verified tokens remembered; past it, expired ones are dropped, then all.
const VERIFIED_CACHE_MAX: usize = 4096;

/// Issues and verifies our JWT access tokens.
pub struct TokenIssuer {
    alg: Algorithm,
    issuer: String,
    audience: String,
    ttl_secs: u64,
    key_id: String,
    encoding: EncodingKey,
    /// The current key first, then the previous ones.
    verifying: Vec<(String, DecodingKey)>,
    clock: Arc<dyn Clock>,
    /// Tokens whose signature and claims passed, by SHA-256 of the token, with their `exp`. The upstream
    /// sends one token for thousands of submissions; a signature check per request cost about a tenth of a
    /// small submission's CPU. Expiry is still checked on every use.
    verified: Mutex<HashMap<[u8; 32], (Principal, u64)>>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("alg", &self.alg)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Loads the keys named in `auth.signing`; errors name the key and file.
    pub fn from_settings(
        settings: &AuthSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthConfigError> {
        let s = &settings.signing;
        let private_pem = read_file("auth.signing.key_file", &s.key_file)?;
        let mut previous = Vec::new();
        for (i, p) in s.previous.iter().enumerate() {
            let key = format!("auth.signing.previous[{i}].public_key_file");
            previous.push((p.key_id.clone(), read_file(&key, &p.public_key_file)?));
        }
        Self::from_pem(s.alg, &s.key_id, &private_pem, &previous, settings, clock).map_err(|e| {
            AuthConfigError::File {
                key: "auth.signing".into(),
                path: s.key_file.clone(),
                message: e.to_string(),
            }
        })
    }

    /// Builds an issuer from PEM bytes (private key; previous keys as `(kid, public or private PEM)`).
    pub fn from_pem(
        alg: SigningAlg,
        key_id: &str,
        private_pem: &[u8],
        previous: &[(String, Vec<u8>)],
        settings: &AuthSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, KeyError> {
        let (encoding, current) = keys::signing_key(alg, private_pem)?;
        let mut verifying = vec![(key_id.to_owned(), current)];
        for (kid, pem) in previous {
            verifying.push((kid.clone(), keys::verifying_key(alg, pem)?));
        }
        Ok(Self {
            alg: alg.jose(),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: settings.token_ttl_secs,
            key_id: key_id.to_owned(),
            encoding,
            verifying,
            clock,
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// Token lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The `iss` of our tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether `kid` names one of our keys (current or previous); used to route a bearer token.
    pub fn knows_kid(&self, kid: &str) -> bool {
        self.verifying.iter().any(|(k, _)| k == kid)
    }

    /// Issues a token for `client_id` with `scopes` (RFC 9068 §2: `typ: at+jwt`, `kid`, iss/aud/sub/client_id/
    /// scope/exp/iat/jti).
    pub fn issue(
        &self,
        client_id: &str,
        scopes: &BTreeSet<String>,
    ) -> Result<IssuedToken, KeyError> {
        let now = self.clock.now_unix();
        let scope = format_scope(scopes);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client_id.to_owned(),
            client_id: client_id.to_owned(),
            scope: scope.clone(),
            exp: now.saturating_add(self.ttl_secs),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(self.alg);
        header.typ = Some(AT_JWT.to_owned());
        header.kid = Some(self.key_id.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.ttl_secs,
            scope,
        })
    }

    /// Verifies one of our tokens: exactly our algorithm (so `none` and HS* never pass), `typ` `at+jwt`
    /// (RFC 9068 §4), a known `kid`, our `iss` and `aud`, and `exp` with a small leeway.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // The system clock, not `self.clock`: `jsonwebtoken` checks `exp` against it, and the cache must agree.
        let now = SystemClock.now_unix();
        if let Ok(cache) = self.verified.lock()
            && let Some((principal, exp)) = cache.get(&digest)
            && now <= exp.saturating_add(LEEWAY_SECS)
        {
            return Ok(principal.clone());
        }
        let (principal, exp) = self.verify_signed(token)?;
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= VERIFIED_CACHE_MAX {
                cache.retain(|_, (_, e)| now <= e.saturating_add(LEEWAY_SECS));
                if cache.len() >= VERIFIED_CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(digest, (principal.clone(), exp));
        }
        Ok(principal)
    }

    /// The full check behind [`TokenIssuer::verify`]: the principal and the token's `exp`.
    fn verify_signed(&self, token: &str) -> Result<(Principal, u64), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != self.alg {
            log::debug!(
                "builtin token refused: algorithm {:?} is not ours",
                header.alg
            );
            return Err(AuthError::InvalidToken);
        }
        if !header.typ.as_deref().is_some_and(is_at_jwt) {
            log::debug!("builtin token refused: typ is not at+jwt");
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.as_deref().ok_or(AuthError::InvalidToken)?;
        let (_, key) = self
            .verifying
            .iter()
            .find(|(k, _)| k == kid)
            .ok_or(AuthError::InvalidToken)?;
        let mut validation = Validation::new(self.alg);
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| {
                log::debug!("builtin token refused: {:?}", e.kind());
                AuthError::InvalidToken
            })?
            .claims;
        let principal = Principal {
            client_id: claims.client_id,
            scopes: parse_scope(&claims.scope),
            method: AuthMethod::Builtin,
        };
        Ok((principal, claims.exp))
    }
}

/// `at+jwt` or its full media type, case-insensitively (RFC 9068 §2.1, RFC 7515 §4.1.9).
pub fn is_at_jwt(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(AT_JWT) || typ.eq_ignore_ascii_case("application/at+jwt")
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    std::fs::read(path).map_err(|e| AuthConfigError::File {
        key: key.to_owned(),
        path: path.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
