//! Tests of mode routing and of the upstream flow: token endpoint → bearer → scope check.

use std::sync::OnceLock;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::json;

use super::super::clock::{ManualClock, SystemClock};
use super::super::keys::generate_signing_key_pem;
use super::super::principal::{AuthMethod, scopes};
use super::super::secret_hash::hash_secret;
use super::super::settings::{
    BasicUserSettings, ClientSettings, IntrospectionSettings, JwksSettings, SigningAlg,
};
use super::super::token_endpoint::{TokenEndpoint, TokenRequest};
use super::*;

const EXT_ISS: &str = "https://idp.test";

fn ditto_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_secret("ditto-secret").unwrap())
}

fn base_settings(modes: Vec<AuthMode>) -> AuthSettings {
    AuthSettings {
        modes,
        clients: vec![ClientSettings {
            dev_secret: None,
            client_id: "ditto".into(),
            secret_hash: SecretString::from(ditto_hash().to_owned()),
            scopes: vec![scopes::KYC_SUBMIT.into()],
            cert_subject: None,
        }],
        basic: vec![BasicUserSettings {
            username: "static".into(),
            password_hash: SecretString::from(ditto_hash().to_owned()),
            scopes: vec![scopes::KYC_READ.into()],
        }],
        ..AuthSettings::default()
    }
}

fn issuer(settings: &AuthSettings) -> Arc<TokenIssuer> {
    let pem = generate_signing_key_pem(SigningAlg::EdDsa).unwrap();
    Arc::new(
        TokenIssuer::from_pem(
            SigningAlg::EdDsa,
            "key-1",
            pem.as_bytes(),
            &[],
            settings,
            Arc::new(SystemClock),
        )
        .unwrap(),
    )
}

fn get_token(settings: &AuthSettings, issuer: &Arc<TokenIssuer>) -> String {
    let endpoint = TokenEndpoint::new(settings, Arc::clone(issuer), Arc::new(SystemClock));
    let req = TokenRequest {
        method: "POST".into(),
        content_type: Some("application/x-www-form-urlencoded".into()),
        body: b"grant_type=client_credentials&client_id=ditto&client_secret=ditto-secret".to_vec(),
        ..TokenRequest::default()
    };
    endpoint.handle(&req).unwrap().access_token
}

#[actix_web::test]
async fn upstream_flow_token_then_bearer_then_scope() {
    let s = base_settings(vec![AuthMode::Builtin]);
    let iss = issuer(&s);
    let a = Authenticator::new(&s, Some(Arc::clone(&iss)), Arc::new(SystemClock)).unwrap();
    let token = get_token(&s, &iss);
    let p = a
        .authenticate(Some(&format!("Bearer {token}")))
        .await
        .unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("ditto", AuthMethod::Builtin)
    );
    assert!(p.require(scopes::KYC_SUBMIT).is_ok());
    let e = p.require(scopes::KYC_READ).unwrap_err();
    assert_eq!(e.status(), 403);
    // Scheme names are case-insensitive.
    assert!(
        a.authenticate(Some(&format!("bearer {token}")))
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn missing_malformed_and_foreign_credentials_are_refused_with_the_right_error() {
    let s = base_settings(vec![AuthMode::Builtin]);
    let a = Authenticator::new(&s, Some(issuer(&s)), Arc::new(SystemClock)).unwrap();
    assert_eq!(a.authenticate(None).await, Err(AuthError::MissingToken));
    assert_eq!(
        a.authenticate(Some("Bearer")).await,
        Err(AuthError::InvalidToken)
    );
    assert_eq!(
        a.authenticate(Some("Bearer a b")).await,
        Err(AuthError::InvalidToken)
    );
    assert_eq!(
        a.authenticate(Some("Bearer opaque-token")).await,
        Err(AuthError::InvalidToken)
    );
    assert_eq!(
        a.authenticate(Some("Bearer __ACCESS_TOKEN_PLACEHOLDER__"))
            .await,
        Err(AuthError::InvalidToken)
    );
    let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
    assert_eq!(
        a.authenticate(Some(&huge)).await,
        Err(AuthError::InvalidToken)
    );
    // Basic is not enabled: treated as no credentials (RFC 6750 §3.1).
    assert_eq!(
        a.authenticate(Some("Basic c3RhdGljOmRpdHRvLXNlY3JldA=="))
            .await,
        Err(AuthError::MissingToken)
    );
    assert_eq!(
        a.authenticate(Some("Digest x")).await,
        Err(AuthError::MissingToken)
    );
    // A token of another deployment (other key, same kid) is refused.
    let other = base_settings(vec![AuthMode::Builtin]);
    let foreign = get_token(&other, &issuer(&other));
    assert_eq!(
        a.authenticate(Some(&format!("Bearer {foreign}"))).await,
        Err(AuthError::InvalidToken)
    );
}

#[actix_web::test]
async fn basic_mode_works_beside_builtin_and_challenges_list_both() {
    let s = base_settings(vec![AuthMode::Builtin, AuthMode::Basic]);
    let a = Authenticator::new(&s, Some(issuer(&s)), Arc::new(SystemClock)).unwrap();
    let creds = base64::engine::general_purpose::STANDARD.encode("static:ditto-secret");
    let p = a
        .authenticate(Some(&format!("Basic {creds}")))
        .await
        .unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("static", AuthMethod::Basic)
    );
    assert!(p.has(scopes::KYC_READ));
    let wrong = base64::engine::general_purpose::STANDARD.encode("static:nope");
    let e = a
        .authenticate(Some(&format!("Basic {wrong}")))
        .await
        .unwrap_err();
    assert_eq!(e, AuthError::InvalidCredentials);
    assert_eq!(
        a.www_authenticate(&AuthError::MissingToken).as_deref(),
        Some(r#"Bearer, Basic realm="kyc-receiver""#)
    );
}

async fn serve_jwks(jwks: web::Data<Value>) -> HttpResponse {
    HttpResponse::Ok().json(jwks.get_ref())
}

#[actix_web::test]
async fn builtin_and_jwks_tokens_are_each_routed_to_their_verifier() {
    // An external issuer whose key id collides with ours.
    let pem = generate_signing_key_pem(SigningAlg::Es256).unwrap();
    let enc = EncodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some("key-1".into());
    let data = web::Data::new(json!({ "keys": [jwk] }));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/jwks", web::get().to(serve_jwks))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/jwks", server.addrs()[0]);
    actix_web::rt::spawn(server.run());

    let mut s = base_settings(vec![AuthMode::Builtin, AuthMode::Jwks]);
    s.jwks = Some(JwksSettings {
        url,
        issuer: EXT_ISS.into(),
        audience: None,
        algorithms: vec!["ES256".into()],
        refresh_floor_secs: 30,
        leeway_secs: 30,
        ca_file: None,
    });
    let iss = issuer(&s);
    let a = Authenticator::new(&s, Some(Arc::clone(&iss)), Arc::new(ManualClock::new(1))).unwrap();

    let ours = get_token(&s, &iss);
    assert_eq!(
        a.authenticate(Some(&format!("Bearer {ours}")))
            .await
            .unwrap()
            .method,
        AuthMethod::Builtin
    );

    let now = SystemClock.now_unix();
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("key-1".into());
    let claims = json!({"iss": EXT_ISS, "aud": "kyc-receiver", "sub": "okta-app", "scope": "kyc:read", "exp": now + 60});
    let theirs = jsonwebtoken::encode(&h, &claims, &enc).unwrap();
    let p = a
        .authenticate(Some(&format!("Bearer {theirs}")))
        .await
        .unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("okta-app", AuthMethod::Jwks)
    );
}

#[actix_web::test]
async fn opaque_tokens_go_to_introspection_when_enabled() {
    let mut s = base_settings(vec![AuthMode::Builtin, AuthMode::Introspection]);
    s.introspection = Some(IntrospectionSettings {
        url: "http://127.0.0.1:9/introspect".into(),
        client_id: "rs".into(),
        client_secret: SecretString::from("x"),
        cache_secs: 60,
        audience: None,
        ca_file: None,
    });
    let iss = issuer(&s);
    let a = Authenticator::new(&s, Some(Arc::clone(&iss)), Arc::new(SystemClock)).unwrap();
    // The (unreachable) introspection endpoint was asked: 503, not 401.
    assert_eq!(
        a.authenticate(Some("Bearer opaque-token")).await,
        Err(AuthError::Unavailable)
    );
    // Our own tokens never leave the process.
    let ours = get_token(&s, &iss);
    assert!(
        a.authenticate(Some(&format!("Bearer {ours}")))
            .await
            .is_ok()
    );
}

#[test]
fn enabled_modes_need_their_parts() {
    let s = base_settings(vec![AuthMode::Builtin]);
    let e = Authenticator::new(&s, None, Arc::new(SystemClock))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("auth.modes"), "{e}");
    let s = base_settings(vec![AuthMode::Jwks]);
    let e = Authenticator::new(&s, None, Arc::new(SystemClock))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("auth.jwks"), "{e}");
}

#[test]
fn b64token_syntax_follows_rfc6750() {
    assert!(is_b64token("abc.DEF-_~+/=="));
    assert!(!is_b64token("==="));
    assert!(!is_b64token("a\"b"));
    assert!(!is_b64token("a,b"));
}

#[actix_web::test]
async fn tokens_of_a_removed_client_stop_working_and_lost_scopes_are_dropped() {
    let mut s = base_settings(vec![AuthMode::Builtin]);
    s.clients[0].scopes = vec![scopes::KYC_SUBMIT.into(), scopes::KYC_READ.into()];
    let iss = issuer(&s);
    let token = get_token(&s, &iss);
    let header = format!("Bearer {token}");
    // Restarted with the client's read scope taken away: the token keeps only what the client still has.
    let mut narrowed = s.clone();
    narrowed.clients[0].scopes = vec![scopes::KYC_SUBMIT.into()];
    let a = Authenticator::new(&narrowed, Some(Arc::clone(&iss)), Arc::new(SystemClock)).unwrap();
    let p = a.authenticate(Some(&header)).await.unwrap();
    assert!(p.has(scopes::KYC_SUBMIT) && !p.has(scopes::KYC_READ));
    // Restarted with the client removed: the still-unexpired token is refused.
    let mut removed = s.clone();
    removed.clients.clear();
    removed.modes = vec![AuthMode::Builtin];
    let a = Authenticator::new(&removed, Some(Arc::clone(&iss)), Arc::new(SystemClock)).unwrap();
    assert_eq!(
        a.authenticate(Some(&header)).await,
        Err(AuthError::InvalidToken)
    );
}
