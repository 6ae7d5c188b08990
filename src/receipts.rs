//! Signed receipts for the upstream (opt-in, `[receipts] enable = true`): every 200 to a submission carries a
//! `KYC-Receipt` header, a compact JWS (EdDSA, Ed25519) over `{reference_number, requester_id, payload_sha256,
//! received_at, result, iat}`, so the upstream can later prove what was accepted and when. The public key is
//! published as a JWKS at `GET /.well-known/kyc-receipts/jwks.json`. The key lives in `receipts.key_file`,
//! never in the database.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};

pub use crate::config::ReceiptSettings;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What a receipt states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Our reference for the stored record.
    pub reference_number: String,
    /// The upstream's requester id.
    pub requester_id: String,
    /// Hex SHA-256 of the (decrypted) payload.
    pub payload_sha256: String,
    /// When this request arrived (RFC 3339).
    pub received_at: String,
    /// The confirmation's `result`: false only for a rejected submission.
    pub result: bool,
    /// When the receipt was issued (seconds since the epoch).
    pub iat: i64,
}

/// Signs receipts.
pub struct ReceiptSigner {
    key: PKey<Private>,
    kid: String,
    x: String,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// Loads (or, with `generate`, creates) the Ed25519 key.
    pub fn load(path: &Path, generate: bool) -> Result<ReceiptSigner, String> {
        let key = crate::tls::ed25519_key(path, generate, "receipts.key_file")?;
        let raw = key.raw_public_key().map_err(|e| e.to_string())?;
        Ok(ReceiptSigner {
            kid: hex::encode(Sha256::digest(&raw))[..16].to_string(),
            x: URL_SAFE_NO_PAD.encode(&raw),
            key,
        })
    }

    /// The compact JWS of `receipt`.
    pub fn sign(&self, receipt: &Receipt) -> Result<String, String> {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let payload = serde_json::to_vec(receipt).map_err(|e| e.to_string())?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut signer =
            openssl::sign::Signer::new_without_digest(&self.key).map_err(|e| e.to_string())?;
        let signature = signer
            .sign_oneshot_to_vec(input.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The JWKS that verifies receipts.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid,
            "alg": "EdDSA", "use": "sig"}]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_verifies_with_the_published_key_and_not_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let signer = ReceiptSigner::load(&dir.path().join("r.pem"), true).unwrap();
        let receipt = Receipt {
            reference_number: "KYC-1".into(),
            requester_id: "r-1".into(),
            payload_sha256: "ab".into(),
            received_at: "2026-11-30T00:00:00Z".into(),
            result: true,
            iat: 1,
        };
        let jws = signer.sign(&receipt).unwrap();
        let jwk = &signer.jwks()["keys"][0];
        let key =
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Receipt>(&jws, &key, &validation).unwrap();
        assert_eq!(data.claims, receipt);
        let parts: Vec<&str> = jws.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Receipt {
                result: false,
                ..receipt
            })
            .unwrap(),
        );
        let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert!(jsonwebtoken::decode::<Receipt>(&forged, &key, &validation).is_err());
    }
}
