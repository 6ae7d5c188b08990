//! Client secrets and static passwords: generation, argon2id hashing, constant-time verification.
//!
//! Owns: the PHC strings stored in `auth.clients[].secret_hash` and `auth.basic[].password_hash`.
//! Reads no configuration keys itself (settings validation calls [`check_phc`]).
//!
//! Parameters: argon2id, m = 19 MiB, t = 2, p = 1 — the OWASP Password Storage Cheat Sheet minimum, which
//! costs tens of milliseconds: strong enough for hand-chosen secrets, cheap enough for tests and for a
//! token endpoint called before every push. Verification uses the parameters inside the stored PHC string,
//! and argon2's `verify_password` compares the digests in constant time.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use rand::RngCore as _;

/// OWASP minimum memory cost for argon2id, in KiB.
pub const MIN_M_COST_KIB: u32 = 19 * 1024;
/// OWASP minimum iterations at [`MIN_M_COST_KIB`].
pub const MIN_T_COST: u32 = 2;

/// Hashing failed (only with impossible parameters; kept as an error instead of a panic).
#[derive(Debug, thiserror::Error)]
#[error("argon2 hashing failed: {0}")]
pub struct SecretHashError(String);

fn hasher() -> Result<Argon2<'static>, SecretHashError> {
    let params = Params::new(MIN_M_COST_KIB, MIN_T_COST, 1, None)
        .map_err(|e| SecretHashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `secret` into an argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) with a random salt.
pub fn hash_secret(secret: &str) -> Result<String, SecretHashError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretHashError(e.to_string()))
}

/// Whether `secret` matches the argon2id PHC string `phc`. Anything that is not argon2id is refused.
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the same work as a real verification and discards the result; called when a client id or
/// username is unknown, so response time does not reveal which ids exist.
pub fn dummy_verify(secret: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash_secret("kyc-receiver dummy secret").ok());
    if let Some(phc) = phc {
        let _ = verify_secret(secret, phc);
    }
}

/// A new client secret: 256 random bits from the OS, base64url without padding (43 characters), so it
/// needs no escaping in form bodies, JSON or HTTP Basic.
pub fn generate_client_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// How a configured PHC string falls short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhcCheck {
    /// argon2id with at least the OWASP parameters.
    Ok,
    /// argon2id, but with weaker parameters than OWASP's minimum (a warning, not an error).
    Weak(String),
    /// Not an argon2id PHC string at all (an error).
    NotArgon2id,
}

/// Checks a configured hash: argon2id PHC with parameters at least [`MIN_M_COST_KIB`]/[`MIN_T_COST`].
pub fn check_phc(phc: &str) -> PhcCheck {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return PhcCheck::NotArgon2id;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.hash.is_none() {
        return PhcCheck::NotArgon2id;
    }
    match Params::try_from(&parsed) {
        Ok(p) if p.m_cost() >= MIN_M_COST_KIB && p.t_cost() >= MIN_T_COST => PhcCheck::Ok,
        Ok(p) => PhcCheck::Weak(format!(
            "argon2id parameters m={} t={} are below the OWASP minimum m={MIN_M_COST_KIB} t={MIN_T_COST}",
            p.m_cost(),
            p.t_cost()
        )),
        Err(_) => PhcCheck::NotArgon2id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_round_trips() {
        let phc = hash_secret("s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_secret("s3cret", &phc));
        assert_eq!(check_phc(&phc), PhcCheck::Ok);
    }

    #[test]
    fn wrong_secret_and_garbage_hashes_are_refused() {
        let phc = hash_secret("s3cret").unwrap();
        assert!(!verify_secret("s3cret ", &phc));
        assert!(!verify_secret("", &phc));
        assert!(!verify_secret("s3cret", "plain"));
        assert!(!verify_secret("s3cret", ""));
        assert_eq!(check_phc("plain"), PhcCheck::NotArgon2id);
    }

    #[test]
    fn argon2i_hashes_are_refused() {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(MIN_M_COST_KIB, 2, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"x", &salt)
            .unwrap()
            .to_string();
        assert!(!verify_secret("x", &phc));
        assert_eq!(check_phc(&phc), PhcCheck::NotArgon2id);
    }

    #[test]
    fn weak_parameters_are_reported() {
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(1024, 1, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"x", &salt)
            .unwrap()
            .to_string();
        assert!(verify_secret("x", &phc));
        assert!(matches!(check_phc(&phc), PhcCheck::Weak(_)));
    }

    #[test]
    fn generated_secrets_are_256_bit_url_safe_and_distinct() {
        let a = generate_client_secret();
        let b = generate_client_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn dummy_verify_runs_without_panicking() {
        dummy_verify("anything");
    }
}
