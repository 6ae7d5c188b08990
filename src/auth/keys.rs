//! Signing keys of our tokens: generation, PEM loading, type checks (openssl does the parsing, so PKCS#8 and
//! SEC1 `EC PRIVATE KEY` files both work).
//!
//! Owns: [`KeyError`], [`generate_signing_key_pem`], [`public_key_pem`], [`signing_key`], [`verifying_key`].
//! Reads no configuration keys itself (the files named by `auth.signing.*` are read by the issuer).

use jsonwebtoken::{DecodingKey, EncodingKey};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private, Public};

use super::settings::SigningAlg;

/// A key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is not of the configured algorithm's type.
    #[error("key is not an {0} key")]
    WrongKeyType(&'static str),
    /// OpenSSL could not parse or produce the key.
    #[error("key error: {0}")]
    Key(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

fn key_err(e: impl std::fmt::Display) -> KeyError {
    KeyError::Key(e.to_string())
}

/// A new private signing key for `alg`, PKCS#8 PEM; the lead writes it to `auth.signing.key_file` on first
/// start (mode 0600), like the dev TLS certificate.
pub fn generate_signing_key_pem(alg: SigningAlg) -> Result<String, KeyError> {
    let key: PKey<Private> = match alg {
        SigningAlg::EdDsa => PKey::generate_ed25519().map_err(key_err)?,
        SigningAlg::Es256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(key_err)?;
            PKey::from_ec_key(EcKey::generate(&group).map_err(key_err)?).map_err(key_err)?
        }
    };
    String::from_utf8(key.private_key_to_pem_pkcs8().map_err(key_err)?).map_err(key_err)
}

/// The public half of a private key PEM, as SPKI PEM (what goes into
/// `auth.signing.previous[].public_key_file` when rotating).
pub fn public_key_pem(private_pem: &[u8]) -> Result<String, KeyError> {
    let key = PKey::private_key_from_pem(private_pem).map_err(key_err)?;
    String::from_utf8(key.public_key_to_pem().map_err(key_err)?).map_err(key_err)
}

/// The signing key and its own verifying key, from a private key PEM that must match `alg`.
pub fn signing_key(
    alg: SigningAlg,
    private_pem: &[u8],
) -> Result<(EncodingKey, DecodingKey), KeyError> {
    let private = PKey::private_key_from_pem(private_pem).map_err(key_err)?;
    check_key_type(alg, &private)?;
    let pkcs8 = private.private_key_to_pkcs8().map_err(key_err)?;
    let encoding = match alg {
        SigningAlg::EdDsa => EncodingKey::from_ed_der(&pkcs8),
        SigningAlg::Es256 => EncodingKey::from_ec_der(&pkcs8),
    };
    let public_pem = private.public_key_to_pem().map_err(key_err)?;
    Ok((encoding, decoding_key(alg, &public_pem)?))
}

/// A verifying key from a public key PEM (or a retired private key PEM; only its public half is kept).
pub fn verifying_key(alg: SigningAlg, pem: &[u8]) -> Result<DecodingKey, KeyError> {
    let public: PKey<Public> = match PKey::public_key_from_pem(pem) {
        Ok(k) => k,
        Err(_) => {
            let private = PKey::private_key_from_pem(pem).map_err(key_err)?;
            PKey::public_key_from_pem(&private.public_key_to_pem().map_err(key_err)?)
                .map_err(key_err)?
        }
    };
    check_key_type(alg, &public)?;
    decoding_key(alg, &public.public_key_to_pem().map_err(key_err)?)
}

fn check_key_type<T: HasPublic>(alg: SigningAlg, key: &PKeyRef<T>) -> Result<(), KeyError> {
    let curve = key.ec_key().ok().and_then(|k| k.group().curve_name());
    match alg {
        SigningAlg::EdDsa if key.id() == Id::ED25519 => Ok(()),
        SigningAlg::EdDsa => Err(KeyError::WrongKeyType("Ed25519")),
        SigningAlg::Es256 if key.id() == Id::EC && curve == Some(Nid::X9_62_PRIME256V1) => Ok(()),
        SigningAlg::Es256 => Err(KeyError::WrongKeyType("EC P-256")),
    }
}

fn decoding_key(alg: SigningAlg, public_pem: &[u8]) -> Result<DecodingKey, KeyError> {
    match alg {
        SigningAlg::EdDsa => DecodingKey::from_ed_pem(public_pem),
        SigningAlg::Es256 => DecodingKey::from_ec_pem(public_pem),
    }
    .map_err(key_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_for_their_algorithm_only() {
        let ed = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
        let es = generate_signing_key_pem(SigningAlg::Es256).unwrap();
        assert!(ed.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(signing_key(SigningAlg::EdDsa, ed.as_bytes()).is_ok());
        assert!(signing_key(SigningAlg::Es256, es.as_bytes()).is_ok());
        assert!(matches!(
            signing_key(SigningAlg::Es256, ed.as_bytes()),
            Err(KeyError::WrongKeyType(_))
        ));
        assert!(matches!(
            verifying_key(SigningAlg::EdDsa, es.as_bytes()),
            Err(KeyError::WrongKeyType(_))
        ));
    }

    #[test]
    fn sec1_ec_private_keys_are_accepted() {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let sec1 = EcKey::generate(&group)
            .unwrap()
            .private_key_to_pem()
            .unwrap();
        assert!(String::from_utf8_lossy(&sec1).contains("EC PRIVATE KEY"));
        assert!(signing_key(SigningAlg::Es256, &sec1).is_ok());
    }

    #[test]
    fn public_pem_verifies_and_p384_is_refused() {
        let ed = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
        let public = public_key_pem(ed.as_bytes()).unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert!(verifying_key(SigningAlg::EdDsa, public.as_bytes()).is_ok());
        let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let p384 = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let pem = p384.private_key_to_pem_pkcs8().unwrap();
        assert!(matches!(
            signing_key(SigningAlg::Es256, &pem),
            Err(KeyError::WrongKeyType(_))
        ));
    }
}
