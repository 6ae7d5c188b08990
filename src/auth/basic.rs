//! HTTP Basic: parsing the `Authorization` header, and the static-credential `basic` mode.
//!
//! Owns: [`split_authorization`], [`parse_basic`] (RFC 7617), [`parse_client_basic`] (RFC 6749 §2.3.1, where
//! id and secret are form-urlencoded before the Basic encoding) and [`BasicVerifier`].
//! Reads: `auth.basic[]` (`username`, `password_hash`, `scopes`).
//!
//! argon2 costs tens of milliseconds, so a static credential that is sent with every push would burn CPU on
//! every request: successful checks are remembered for [`CACHE_SECS`], keyed by a SHA-256 of user and password
//! (never the password itself), and the hashing itself runs on tokio's blocking pool.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::clock::Clock;
use super::error::AuthError;
use super::gate::{GateRefusal, PasswordGate};
use super::principal::{AuthMethod, Principal};
use super::secret_hash::{dummy_verify, verify_secret};
use super::settings::BasicUserSettings;

/// How long a verified Basic credential is remembered.
pub const CACHE_SECS: u64 = 300;
/// Most remembered credentials (an entry only exists after a successful check).
const CACHE_MAX: usize = 1024;

/// Splits `Authorization: <scheme> <credentials>`; the scheme is compared case-insensitively by callers
/// (RFC 9110 §11.1).
pub fn split_authorization(header: &str) -> Option<(&str, &str)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once([' ', '\t'])?;
    Some((scheme, rest.trim()))
}

/// Decodes RFC 7617 Basic credentials (the part after `Basic `) into user and password, split at the first
/// `:`. `None` when not base64 or not UTF-8 or without `:`.
pub fn parse_basic(credentials: &str) -> Option<(String, SecretString)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(password.to_owned())))
}

/// Decodes OAuth client credentials sent with Basic: RFC 6749 §2.3.1 says id and secret are
/// `application/x-www-form-urlencoded` first, so `%XX` and `+` are decoded after splitting at `:`.
pub fn parse_client_basic(credentials: &str) -> Option<(String, SecretString)> {
    let (user, password) = parse_basic(credentials)?;
    let user = form_decode(&user)?;
    let password = form_decode(password.expose_secret())?;
    Some((user, SecretString::from(password)))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space, `%XX` a byte); `None` on a
/// broken escape or non-UTF-8 result.
pub fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The `basic` mode: static users with argon2id password hashes.
#[derive(Debug)]
pub struct BasicVerifier {
    users: Arc<Vec<BasicUserSettings>>,
    clock: Arc<dyn Clock>,
    gate: Arc<PasswordGate>,
    verified: Mutex<HashMap<[u8; 32], (Principal, u64)>>,
}

impl BasicVerifier {
    /// A verifier for the configured users, with a password gate of its own.
    pub fn new(users: Vec<BasicUserSettings>, clock: Arc<dyn Clock>) -> Self {
        let gate = Arc::new(PasswordGate::new(Arc::clone(&clock)));
        Self::with_gate(users, clock, gate)
    }

    /// A verifier whose password checks go through `gate` (shared with the token endpoint).
    pub fn with_gate(
        users: Vec<BasicUserSettings>,
        clock: Arc<dyn Clock>,
        gate: Arc<PasswordGate>,
    ) -> Self {
        Self {
            users: Arc::new(users),
            clock,
            gate,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Checks Basic `credentials` (the part after `Basic `) sent from `address` (a limiter key, see
    /// `gate::address_key`). Wrong or malformed → [`AuthError::InvalidCredentials`]; too many recent failures
    /// → [`AuthError::TooManyAttempts`]; every check slot busy → [`AuthError::Unavailable`].
    pub async fn verify(
        &self,
        credentials: &str,
        address: Option<&str>,
    ) -> Result<Principal, AuthError> {
        let (user, password) = parse_basic(credentials).ok_or(AuthError::InvalidCredentials)?;
        let cache_key = cache_key(&user, password.expose_secret());
        let now = self.clock.now_unix();
        if let Some((p, until)) = self.lock().get(&cache_key)
            && now < *until
        {
            return Ok(p.clone());
        }
        let admission = self.gate.admit(address).map_err(|r| match r {
            GateRefusal::SlowDown(retry_after) => AuthError::TooManyAttempts { retry_after },
            GateRefusal::Busy => AuthError::Unavailable,
        })?;
        let users = Arc::clone(&self.users);
        let found = tokio::task::spawn_blocking(move || check(&users, &user, &password))
            .await
            .map_err(|_| AuthError::Unavailable)?;
        // Dropped without `succeeded`, the admission keeps the attempt counted as a failure.
        let principal = found.ok_or(AuthError::InvalidCredentials)?;
        admission.succeeded();
        let mut cache = self.lock();
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, until)| now < *until);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(
            cache_key,
            (principal.clone(), now.saturating_add(CACHE_SECS)),
        );
        Ok(principal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Principal, u64)>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn check(users: &[BasicUserSettings], user: &str, password: &SecretString) -> Option<Principal> {
    let Some(entry) = users.iter().find(|u| u.username == user) else {
        // Same work as a real check, so timing does not tell which usernames exist.
        dummy_verify(password.expose_secret());
        return None;
    };
    verify_secret(
        password.expose_secret(),
        entry.password_hash.expose_secret(),
    )
    .then(|| Principal {
        client_id: entry.username.clone(),
        scopes: entry.scopes.iter().cloned().collect::<BTreeSet<_>>(),
        method: AuthMethod::Basic,
    })
}

fn cache_key(user: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kyc-receiver basic v1\0");
    h.update(user.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::super::clock::ManualClock;
    use super::super::secret_hash::hash_secret;
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn authorization_header_splits_scheme_and_credentials() {
        assert_eq!(split_authorization("Bearer abc"), Some(("Bearer", "abc")));
        assert_eq!(
            split_authorization("  basic   xyz "),
            Some(("basic", "xyz"))
        );
        assert_eq!(split_authorization("Bearer"), None);
    }

    #[test]
    fn basic_credentials_split_at_first_colon() {
        let (u, p) = parse_basic(&b64("user:pa:ss")).unwrap();
        assert_eq!((u.as_str(), p.expose_secret()), ("user", "pa:ss"));
        assert!(parse_basic(&b64("nocolon")).is_none());
        assert!(parse_basic("!!!").is_none());
    }

    #[test]
    fn oauth_client_basic_is_form_decoded() {
        let (u, p) = parse_client_basic(&b64("my%20client:a%2Bb+c%3A")).unwrap();
        assert_eq!((u.as_str(), p.expose_secret()), ("my client", "a+b c:"));
        assert!(parse_client_basic(&b64("id:bad%zz")).is_none());
        assert!(parse_client_basic(&b64("id:trunc%4")).is_none());
    }

    fn verifier(clock: Arc<ManualClock>) -> BasicVerifier {
        let users = vec![BasicUserSettings {
            username: "ditto".into(),
            password_hash: SecretString::from(hash_secret("pw").unwrap()),
            scopes: vec!["kyc:submit".into()],
        }];
        BasicVerifier::new(users, clock)
    }

    #[tokio::test]
    async fn basic_mode_accepts_right_password_and_refuses_others() {
        let v = verifier(Arc::new(ManualClock::new(1000)));
        let p = v.verify(&b64("ditto:pw"), None).await.unwrap();
        assert_eq!(
            (p.client_id.as_str(), p.method),
            ("ditto", AuthMethod::Basic)
        );
        assert!(p.has("kyc:submit"));
        assert_eq!(
            v.verify(&b64("ditto:PW"), None).await,
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            v.verify(&b64("nobody:pw"), None).await,
            Err(AuthError::InvalidCredentials)
        );
        assert_eq!(
            v.verify("%%%", None).await,
            Err(AuthError::InvalidCredentials)
        );
    }

    #[tokio::test]
    async fn verified_credentials_are_remembered_for_a_while() {
        let clock = Arc::new(ManualClock::new(1000));
        let v = verifier(clock.clone());
        v.verify(&b64("ditto:pw"), None).await.unwrap();
        assert_eq!(v.lock().len(), 1);
        clock.advance(CACHE_SECS - 1);
        assert!(v.verify(&b64("ditto:pw"), None).await.is_ok());
        clock.advance(2);
        // Expired entry: checked again (and still right).
        assert!(v.verify(&b64("ditto:pw"), None).await.is_ok());
    }

    #[tokio::test]
    async fn wrong_passwords_from_one_address_are_limited_and_the_right_one_from_another_is_not() {
        let v = verifier(Arc::new(ManualClock::new(1000)));
        let attacker = Some("192.0.2.66");
        for _ in 0..super::super::limiter::PER_ADDRESS.max_failures {
            assert_eq!(
                v.verify(&b64("ditto:guess"), attacker).await,
                Err(AuthError::InvalidCredentials)
            );
        }
        // The next guess is refused before any argon2 work, even with the right password.
        assert!(matches!(
            v.verify(&b64("ditto:pw"), attacker).await,
            Err(AuthError::TooManyAttempts { .. })
        ));
        assert!(
            v.verify(&b64("ditto:pw"), Some("198.51.100.1"))
                .await
                .is_ok()
        );
    }
}
