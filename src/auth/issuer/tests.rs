//! Tests of our own token issuing and verification.

use super::super::clock::{ManualClock, SystemClock};
use super::super::keys::{generate_signing_key_pem, public_key_pem};
use super::*;
use base64::Engine as _;

fn settings() -> AuthSettings {
    AuthSettings::default()
}

fn issuer_with(alg: SigningAlg, pem: &str, s: &AuthSettings, clock: Arc<dyn Clock>) -> TokenIssuer {
    TokenIssuer::from_pem(alg, "key-1", pem.as_bytes(), &[], s, clock).unwrap()
}

fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn now() -> u64 {
    SystemClock.now_unix()
}

#[test]
fn issued_eddsa_token_verifies_with_rfc9068_header_and_claims() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let t = issuer
        .issue("ditto", &scopes(&["kyc:submit", "kyc:read"]))
        .unwrap();
    assert_eq!(t.expires_in, 3600);
    assert_eq!(t.scope, "kyc:read kyc:submit");
    let header = jsonwebtoken::decode_header(&t.access_token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some("key-1"));
    assert_eq!(header.alg, Algorithm::EdDSA);
    let claims: serde_json::Value =
        jsonwebtoken::dangerous::insecure_decode_claims(&t.access_token).unwrap();
    for k in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "scope",
        "exp",
        "iat",
        "jti",
    ] {
        assert!(claims.get(k).is_some(), "missing claim {k}");
    }
    assert_eq!(claims["sub"], "ditto");
    let p = issuer.verify(&t.access_token).unwrap();
    assert_eq!(p.client_id, "ditto");
    assert_eq!(p.method, AuthMethod::Builtin);
    assert!(p.has("kyc:submit") && p.has("kyc:read"));
}

#[test]
fn es256_tokens_verify_too() {
    let pem = generate_signing_key_pem(SigningAlg::Es256).unwrap();
    let issuer = issuer_with(SigningAlg::Es256, &pem, &settings(), Arc::new(SystemClock));
    let t = issuer.issue("a", &scopes(&["kyc:read"])).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&t.access_token).unwrap().alg,
        Algorithm::ES256
    );
    assert!(issuer.verify(&t.access_token).is_ok());
}

#[test]
fn key_of_the_wrong_type_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::Es256).unwrap();
    let r = TokenIssuer::from_pem(
        SigningAlg::EdDsa,
        "k",
        pem.as_bytes(),
        &[],
        &settings(),
        Arc::new(SystemClock),
    );
    assert!(matches!(r, Err(KeyError::WrongKeyType(_))));
    let r = TokenIssuer::from_pem(
        SigningAlg::EdDsa,
        "k",
        b"garbage",
        &[],
        &settings(),
        Arc::new(SystemClock),
    );
    assert!(matches!(r, Err(KeyError::Key(_))));
}

#[test]
fn expired_token_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let clock = Arc::new(ManualClock::new(now() - 3600 - 120));
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), clock);
    let t = issuer.issue("ditto", &scopes(&["kyc:submit"])).unwrap();
    assert_eq!(issuer.verify(&t.access_token), Err(AuthError::InvalidToken));
}

#[test]
fn a_cached_token_is_refused_once_its_exp_has_passed() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let clock = Arc::new(ManualClock::new(now() - 3600 - 120));
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), clock);
    let t = issuer.issue("ditto", &scopes(&["kyc:submit"])).unwrap();
    // As if it had been verified while still valid: the cache alone must not keep it alive.
    let digest: [u8; 32] = Sha256::digest(t.access_token.as_bytes()).into();
    let principal = Principal {
        client_id: "ditto".into(),
        scopes: scopes(&["kyc:submit"]),
        method: AuthMethod::Builtin,
    };
    let exp = now() - 120;
    issuer
        .verified
        .lock()
        .unwrap()
        .insert(digest, (principal, exp));
    assert_eq!(issuer.verify(&t.access_token), Err(AuthError::InvalidToken));
}

#[test]
fn a_verified_token_is_answered_from_the_cache_and_a_forged_one_is_not() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let t = issuer.issue("ditto", &scopes(&["kyc:submit"])).unwrap();
    let first = issuer.verify(&t.access_token).unwrap();
    assert_eq!(issuer.verified.lock().unwrap().len(), 1);
    assert_eq!(issuer.verify(&t.access_token).unwrap(), first);
    let mut forged = t.access_token.clone();
    forged.push('A');
    assert_eq!(issuer.verify(&forged), Err(AuthError::InvalidToken));
    assert_eq!(issuer.verified.lock().unwrap().len(), 1);
}

#[test]
fn tampered_signature_and_payload_are_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let t = issuer
        .issue("ditto", &scopes(&["kyc:submit"]))
        .unwrap()
        .access_token;
    let mut sig_flipped = t.clone().into_bytes();
    let last = sig_flipped.len() - 2;
    sig_flipped[last] = if sig_flipped[last] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let sig_flipped = String::from_utf8(sig_flipped).unwrap();
    assert_eq!(issuer.verify(&sig_flipped), Err(AuthError::InvalidToken));

    // Same signature, payload widened to more scopes.
    let parts: Vec<&str> = t.split('.').collect();
    let mut claims: serde_json::Value =
        jsonwebtoken::dangerous::insecure_decode_claims(&t).unwrap();
    claims["scope"] = "kyc:submit kyc:erase".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(issuer.verify(&forged), Err(AuthError::InvalidToken));
    assert_eq!(issuer.verify("not-a-jwt"), Err(AuthError::InvalidToken));
}

#[test]
fn token_of_another_audience_or_issuer_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let ours = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let other_aud = AuthSettings {
        audience: "auditor-api".into(),
        ..settings()
    };
    let other_iss = AuthSettings {
        issuer: "someone-else".into(),
        ..settings()
    };
    for s in [other_aud, other_iss] {
        let theirs = issuer_with(SigningAlg::EdDsa, &pem, &s, Arc::new(SystemClock));
        let t = theirs.issue("ditto", &scopes(&["kyc:submit"])).unwrap();
        assert!(theirs.verify(&t.access_token).is_ok());
        assert_eq!(ours.verify(&t.access_token), Err(AuthError::InvalidToken));
    }
}

fn claims_json(exp: u64) -> serde_json::Value {
    serde_json::json!({"iss": "kyc-receiver", "aud": "kyc-receiver", "sub": "evil", "client_id": "evil",
        "scope": "kyc:erase", "exp": exp, "iat": exp - 60, "jti": "x"})
}

#[test]
fn hand_crafted_alg_none_token_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let claims = claims_json(now() + 600).to_string();
    for alg in ["none", "None", "NONE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"key-1"}}"#);
        let token = format!("{}.{}.", b64(header.as_bytes()), b64(claims.as_bytes()));
        assert_eq!(issuer.verify(&token), Err(AuthError::InvalidToken));
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let public = public_key_pem(pem.as_bytes()).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("key-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &claims_json(now() + 600),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    assert_eq!(issuer.verify(&token), Err(AuthError::InvalidToken));
}

#[test]
fn token_without_at_jwt_typ_or_with_unknown_kid_is_refused() {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let issuer = issuer_with(SigningAlg::EdDsa, &pem, &settings(), Arc::new(SystemClock));
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("key-1".into());
    header.typ = Some("JWT".into());
    let t = jsonwebtoken::encode(&header, &claims_json(now() + 600), &key).unwrap();
    assert_eq!(issuer.verify(&t), Err(AuthError::InvalidToken));
    header.typ = Some("at+jwt".into());
    header.kid = Some("key-9".into());
    let t = jsonwebtoken::encode(&header, &claims_json(now() + 600), &key).unwrap();
    assert_eq!(issuer.verify(&t), Err(AuthError::InvalidToken));
    header.kid = Some("key-1".into());
    let t = jsonwebtoken::encode(&header, &claims_json(now() + 600), &key).unwrap();
    assert!(issuer.verify(&t).is_ok());
}

#[test]
fn token_signed_by_previous_key_verifies_while_listed() {
    let old_pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let new_pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    let old = TokenIssuer::from_pem(
        SigningAlg::EdDsa,
        "k-old",
        old_pem.as_bytes(),
        &[],
        &settings(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let token = old
        .issue("ditto", &scopes(&["kyc:submit"]))
        .unwrap()
        .access_token;

    let old_public = public_key_pem(old_pem.as_bytes()).unwrap().into_bytes();
    let rotated = TokenIssuer::from_pem(
        SigningAlg::EdDsa,
        "k-new",
        new_pem.as_bytes(),
        &[("k-old".into(), old_public)],
        &settings(),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert!(rotated.knows_kid("k-old") && rotated.knows_kid("k-new"));
    assert_eq!(rotated.verify(&token).unwrap().client_id, "ditto");
    let fresh = rotated
        .issue("ditto", &scopes(&["kyc:submit"]))
        .unwrap()
        .access_token;
    assert_eq!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
        Some("k-new")
    );

    // Once the old key is dropped from `previous`, its tokens stop working.
    let retired = TokenIssuer::from_pem(
        SigningAlg::EdDsa,
        "k-new",
        new_pem.as_bytes(),
        &[],
        &settings(),
        Arc::new(SystemClock),
    )
    .unwrap();
    assert_eq!(retired.verify(&token), Err(AuthError::InvalidToken));
    assert!(retired.verify(&fresh).is_ok());
}

#[test]
fn previous_key_may_be_given_as_private_pem() {
    let old_pem = generate_signing_key_pem(SigningAlg::Es256).unwrap();
    let new_pem = generate_signing_key_pem(SigningAlg::Es256).unwrap();
    let r = TokenIssuer::from_pem(
        SigningAlg::Es256,
        "n",
        new_pem.as_bytes(),
        &[("o".into(), old_pem.into_bytes())],
        &settings(),
        Arc::new(SystemClock),
    );
    assert!(r.is_ok());
}

#[test]
fn from_settings_reads_key_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("k.pem");
    std::fs::write(
        &key_file,
        generate_signing_key_pem(SigningAlg::EdDsa).unwrap(),
    )
    .unwrap();
    let mut s = settings();
    s.signing.key_file = key_file;
    assert!(TokenIssuer::from_settings(&s, Arc::new(SystemClock)).is_ok());
    s.signing.key_file = dir.path().join("missing.pem");
    let e = TokenIssuer::from_settings(&s, Arc::new(SystemClock))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("auth.signing.key_file: "), "{e}");
}
