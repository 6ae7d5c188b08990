//! `jwks` mode: JWT access tokens of an external issuer (Keycloak, Okta, Entra, Ory…), verified with the
//! keys it publishes at its JWKS URL (RFC 7517 §5; token profile RFC 9068).
//!
//! Owns: [`JwksVerifier`] and its key cache.
//! Reads: `auth.jwks.{url, issuer, audience, algorithms, refresh_floor_secs, leeway_secs, ca_file}`, and
//! `auth.audience` as the default audience.
//!
//! Key cache: fetched on first use; fetched again when a token names an unknown `kid` (the issuer rotated)
//! or when the set is older than [`MAX_AGE_SECS`] (so removed keys stop working), but never more often than
//! `refresh_floor_secs`, so a flood of tokens with random `kid`s cannot turn us into a JWKS hammer. When the
//! issuer is down, cached keys keep working; a token that needs a key we do not have yet gets 503.

use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::clock::Clock;
use super::error::{AuthConfigError, AuthError};
use super::principal::{AuthMethod, Principal, principal_from_claims};
use super::settings::{JwksSettings, parse_allowed_algorithm};

/// A fetched key set older than this is refreshed on the next request (subject to the floor).
pub const MAX_AGE_SECS: u64 = 600;
/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
struct Cache {
    keys: Vec<Jwk>,
    /// When the keys were last fetched successfully.
    fetched_at: Option<u64>,
    /// When a fetch was last attempted, and whether it failed.
    attempted_at: Option<u64>,
    last_failed: bool,
}

/// Verifies external JWTs against a cached JWKS.
#[derive(Debug)]
pub struct JwksVerifier {
    url: String,
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    refresh_floor_secs: u64,
    leeway_secs: u64,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: RwLock<Cache>,
    /// Serialises fetches, so concurrent requests with a new `kid` cause one fetch, not many.
    refresh: tokio::sync::Mutex<()>,
}

impl JwksVerifier {
    /// A verifier for `settings`; `default_audience` is `auth.audience`.
    pub fn new(
        settings: &JwksSettings,
        default_audience: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthConfigError> {
        let mut algorithms = Vec::new();
        for (i, a) in settings.algorithms.iter().enumerate() {
            algorithms.push(
                parse_allowed_algorithm(a).map_err(|m| {
                    AuthConfigError::invalid(format!("auth.jwks.algorithms[{i}]"), m)
                })?,
            );
        }
        Ok(Self {
            url: settings.url.clone(),
            issuer: settings.issuer.clone(),
            audience: settings
                .audience
                .clone()
                .unwrap_or_else(|| default_audience.to_owned()),
            algorithms,
            refresh_floor_secs: settings.refresh_floor_secs.max(1),
            leeway_secs: settings.leeway_secs,
            http: super::http::build_client("auth.jwks", settings.ca_file.as_deref())?,
            clock,
            cache: RwLock::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// The issuer this verifier accepts (used to route a bearer token before verifying it).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verifies `token`: allowed `alg` (never `none`, never HS*), `typ` `at+jwt`/`JWT` when present,
    /// signature by a published key, `iss`, `aud`, `exp`/`nbf` with leeway.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.verify_claims(token).await?;
        principal_from_claims(&claims, AuthMethod::Jwks).ok_or(AuthError::InvalidToken)
    }

    /// The same checks as [`JwksVerifier::verify`], returning the claims: for ID tokens, whose claims are
    /// about a person rather than a client's scopes.
    pub async fn verify_claims(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if !self.algorithms.contains(&header.alg) {
            log::debug!("jwks token refused: algorithm {:?} not allowed", header.alg);
            return Err(AuthError::InvalidToken);
        }
        // RFC 9068 §4 wants `at+jwt`; many issuers still send `JWT`, and RFC 7519 §5.1 makes `typ` optional.
        if let Some(typ) = header.typ.as_deref()
            && !(super::issuer::is_at_jwt(typ) || typ.eq_ignore_ascii_case("JWT"))
        {
            log::debug!("jwks token refused: typ {typ:?}");
            return Err(AuthError::InvalidToken);
        }
        let kid = header.kid.as_deref();
        let key = self.key_for(kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                log::debug!("jwks token refused: {:?}", e.kind());
                AuthError::InvalidToken
            })
    }

    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        let now = self.clock.now_unix();
        let (found, stale) = {
            let cache = self.read();
            let stale = cache
                .fetched_at
                .is_none_or(|t| now >= t.saturating_add(MAX_AGE_SECS));
            (select_key(&cache.keys, kid, alg), stale)
        };
        match found {
            Some(key) if !stale => Ok(key),
            Some(key) => match self.refresh(now).await {
                // Old but usable: after a refresh only the new set counts, so a key the issuer dropped is
                // refused by the very request that noticed the set was old.
                Ok(()) => select_key(&self.read().keys, kid, alg).ok_or_else(|| {
                    log::debug!("jwks token refused: kid {kid:?} is no longer published");
                    AuthError::InvalidToken
                }),
                // The issuer is down: keep using the keys it last published.
                Err(_) => Ok(key),
            },
            None => {
                self.refresh(now).await?;
                select_key(&self.read().keys, kid, alg).ok_or_else(|| {
                    log::debug!("jwks token refused: no usable key for kid {kid:?}");
                    AuthError::InvalidToken
                })
            }
        }
    }

    /// Fetches the JWKS unless the floor forbids it. `Err(Unavailable)` when a fetch failed (now, or within
    /// the floor) so the caller can answer 503 instead of blaming the token.
    async fn refresh(&self, now: u64) -> Result<(), AuthError> {
        let _guard = self.refresh.lock().await;
        {
            let cache = self.read();
            if let Some(t) = cache.attempted_at
                && now < t.saturating_add(self.refresh_floor_secs)
            {
                // Someone fetched (or tried) very recently, maybe while we waited for the lock.
                return if cache.last_failed {
                    Err(AuthError::Unavailable)
                } else {
                    Ok(())
                };
            }
        }
        let result = self.fetch().await;
        let mut cache = self.write();
        cache.attempted_at = Some(now);
        match result {
            Ok(keys) => {
                log::info!(
                    "fetched JWKS from {} ({} usable keys)",
                    self.url,
                    keys.len()
                );
                cache.keys = keys;
                cache.fetched_at = Some(now);
                cache.last_failed = false;
                Ok(())
            }
            Err(e) => {
                log::warn!("fetching JWKS from {} failed: {e}", self.url);
                cache.last_failed = true;
                Err(AuthError::Unavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let resp = self
            .http
            .get(&self.url)
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("JWKS document too large".into());
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("JWKS document too large".into());
        }
        let doc: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no \"keys\" array")?;
        // Keys of types we cannot parse (or do not use) are skipped rather than failing the whole set.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| !matches!(k.algorithm, AlgorithmParameters::OctetKey(_)))
            .collect())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Picks the key for `kid` (or the only suitable key when the token has no `kid`) that can verify `alg`.
fn select_key(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let mut usable = keys.iter().filter(|k| usable_for(k, alg));
    let jwk = match kid {
        Some(kid) => usable.find(|k| k.common.key_id.as_deref() == Some(kid))?,
        None => {
            let first = usable.next()?;
            if usable.next().is_some() {
                return None;
            }
            first
        }
    };
    DecodingKey::from_jwk(jwk)
        .ok()
        .filter(|k| k.family() == alg.family())
}

/// Whether `jwk` may verify a signature made with `alg`: a signing key (RFC 7517 §4.2/4.3), matching `alg`
/// when it names one, of the right type and curve, and never a symmetric key.
fn usable_for(jwk: &Jwk, alg: Algorithm) -> bool {
    let c = &jwk.common;
    if c.public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return false;
    }
    if c.key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return false;
    }
    if let Some(ka) = c.key_algorithm
        && ka.to_string().parse::<Algorithm>().ok() != Some(alg)
    {
        return false;
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => alg.family() == AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(p) => matches!(
            (alg, &p.curve),
            (Algorithm::ES256, EllipticCurve::P256) | (Algorithm::ES384, EllipticCurve::P384)
        ),
        AlgorithmParameters::OctetKeyPair(p) => {
            alg == Algorithm::EdDSA && p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
