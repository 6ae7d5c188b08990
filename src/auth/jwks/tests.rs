//! Tests of the `jwks` mode against an in-test issuer (actix-web on 127.0.0.1, port 0) that serves a JWKS
//! built from keys the test owns.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::super::clock::{ManualClock, SystemClock};
use super::super::keys::generate_signing_key_pem;
use super::super::settings::SigningAlg;
use super::*;

const ISS: &str = "https://idp.test/realms/kyc";

#[derive(Default)]
struct TestIssuer {
    keys: Mutex<Vec<Value>>,
    hits: AtomicUsize,
    down: AtomicBool,
}

async fn serve_jwks(state: web::Data<TestIssuer>) -> HttpResponse {
    state.hits.fetch_add(1, Ordering::SeqCst);
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let keys = state.keys.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

fn start(state: Arc<TestIssuer>) -> String {
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/jwks", web::get().to(serve_jwks))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}/jwks")
}

/// A signing key owned by the test, with its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    enc: EncodingKey,
    jwk: Value,
}

impl TestKey {
    fn new(kid: &str, alg: SigningAlg) -> Self {
        let pem = generate_signing_key_pem(alg).unwrap();
        let enc = match alg {
            SigningAlg::EdDsa => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            SigningAlg::Es256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        };
        let mut jwk = Jwk::from_encoding_key(&enc, alg.jose()).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Self {
            kid: kid.into(),
            alg: alg.jose(),
            enc,
            jwk: serde_json::to_value(jwk).unwrap(),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, Some("at+jwt"))
    }

    fn sign_with(&self, claims: &Value, typ: Option<&str>) -> String {
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        h.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &self.enc).unwrap()
    }
}

fn now() -> u64 {
    SystemClock.now_unix()
}

fn claims() -> Value {
    json!({"iss": ISS, "aud": "kyc-receiver", "sub": "svc-ditto", "client_id": "ditto",
           "scope": "kyc:submit kyc:read", "exp": now() + 300, "iat": now(), "jti": "1"})
}

fn settings(url: &str) -> JwksSettings {
    JwksSettings {
        url: url.into(),
        issuer: ISS.into(),
        audience: None,
        algorithms: vec!["EdDSA".into(), "ES256".into(), "RS256".into()],
        refresh_floor_secs: 30,
        leeway_secs: 5,
        ca_file: None,
    }
}

fn setup(keys: &[&TestKey]) -> (Arc<TestIssuer>, Arc<ManualClock>, JwksVerifier) {
    let state = Arc::new(TestIssuer::default());
    *state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    let url = start(state.clone());
    let clock = Arc::new(ManualClock::new(1_000_000));
    let v = JwksVerifier::new(&settings(&url), "kyc-receiver", clock.clone()).unwrap();
    (state, clock, v)
}

#[actix_web::test]
async fn valid_token_verifies_and_jwks_is_fetched_once() {
    let key = TestKey::new("k1", SigningAlg::EdDsa);
    let (state, _clock, v) = setup(&[&key]);
    let p = v.verify(&key.sign(&claims())).await.unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("ditto", AuthMethod::Jwks)
    );
    assert!(p.has("kyc:submit") && p.has("kyc:read"));
    v.verify(&key.sign(&claims())).await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn scp_array_and_azp_are_mapped_and_typ_jwt_is_accepted() {
    let key = TestKey::new("k1", SigningAlg::Es256);
    let (_state, _clock, v) = setup(&[&key]);
    let mut c = claims();
    let m = c.as_object_mut().unwrap();
    m.remove("client_id");
    m.remove("scope");
    m.insert("azp".into(), json!("okta-app"));
    m.insert("scp".into(), json!(["kyc:review", "kyc:images"]));
    let p = v.verify(&key.sign_with(&c, Some("JWT"))).await.unwrap();
    assert_eq!(p.client_id, "okta-app");
    assert!(p.has("kyc:review") && p.has("kyc:images") && !p.has("kyc:submit"));
    assert!(v.verify(&key.sign_with(&c, None)).await.is_ok());
    assert_eq!(
        v.verify(&key.sign_with(&c, Some("id+jwt"))).await,
        Err(AuthError::InvalidToken)
    );
}

#[actix_web::test]
async fn wrong_audience_issuer_expired_and_not_yet_valid_are_refused() {
    let key = TestKey::new("k1", SigningAlg::EdDsa);
    let (_state, _clock, v) = setup(&[&key]);
    let cases = [
        ("aud", json!("another-api")),
        ("iss", json!("https://evil.test")),
        ("exp", json!(now() - 60)),
        ("nbf", json!(now() + 600)),
    ];
    for (claim, value) in cases {
        let mut c = claims();
        c[claim] = value;
        assert_eq!(
            v.verify(&key.sign(&c)).await,
            Err(AuthError::InvalidToken),
            "{claim}"
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(v.verify(&key.sign(&c)).await, Err(AuthError::InvalidToken));
}

#[actix_web::test]
async fn alg_none_hs256_and_disallowed_algorithms_are_refused() {
    let key = TestKey::new("k1", SigningAlg::EdDsa);
    let (_state, _clock, v) = setup(&[&key]);
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"k1"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert_eq!(v.verify(&none).await, Err(AuthError::InvalidToken));

    // HS256 keyed with the published public key (key confusion).
    let x = key.jwk["x"].as_str().unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let hs = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(x.as_bytes())).unwrap();
    assert_eq!(v.verify(&hs).await, Err(AuthError::InvalidToken));

    // ES256 is a fine algorithm, but not when the allow-list says EdDSA only.
    let es = TestKey::new("k2", SigningAlg::Es256);
    let state = Arc::new(TestIssuer::default());
    *state.keys.lock().unwrap() = vec![es.jwk.clone()];
    let url = start(state);
    let mut s = settings(&url);
    s.algorithms = vec!["EdDSA".into()];
    let only_ed = JwksVerifier::new(&s, "kyc-receiver", Arc::new(ManualClock::new(0))).unwrap();
    assert_eq!(
        only_ed.verify(&es.sign(&claims())).await,
        Err(AuthError::InvalidToken)
    );
}

#[actix_web::test]
async fn key_of_another_curve_under_the_same_kid_is_not_used() {
    let ed = TestKey::new("k1", SigningAlg::EdDsa);
    // The JWKS publishes only the Ed25519 key as k1; an ES256 token claiming k1 must fail.
    let es = TestKey::new("k1", SigningAlg::Es256);
    let (_state, _clock, v) = setup(&[&ed]);
    assert_eq!(
        v.verify(&es.sign(&claims())).await,
        Err(AuthError::InvalidToken)
    );
}

#[actix_web::test]
async fn rotation_at_the_issuer_is_picked_up_on_unknown_kid_respecting_the_floor() {
    let k1 = TestKey::new("k1", SigningAlg::EdDsa);
    let k2 = TestKey::new("k2", SigningAlg::EdDsa);
    let (state, clock, v) = setup(&[&k1]);
    v.verify(&k1.sign(&claims())).await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);

    // The issuer rotates; within the floor (30 s) an unknown kid does not cause a fetch.
    state.keys.lock().unwrap().push(k2.jwk.clone());
    clock.advance(10);
    assert_eq!(
        v.verify(&k2.sign(&claims())).await,
        Err(AuthError::InvalidToken)
    );
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);

    // After the floor, the unknown kid triggers one refresh and the new key works.
    clock.advance(25);
    assert!(v.verify(&k2.sign(&claims())).await.is_ok());
    assert!(v.verify(&k1.sign(&claims())).await.is_ok());
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);

    // A flood of random kids right after costs at most one fetch per floor.
    let k3 = TestKey::new("k3", SigningAlg::EdDsa);
    for _ in 0..5 {
        assert_eq!(
            v.verify(&k3.sign(&claims())).await,
            Err(AuthError::InvalidToken)
        );
    }
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn issuer_down_gives_unavailable_but_cached_keys_keep_working() {
    let k1 = TestKey::new("k1", SigningAlg::EdDsa);
    let k2 = TestKey::new("k2", SigningAlg::EdDsa);
    let (state, clock, v) = setup(&[&k1]);
    v.verify(&k1.sign(&claims())).await.unwrap();
    state.down.store(true, Ordering::SeqCst);
    clock.advance(MAX_AGE_SECS + 1);
    // Stale set, refresh fails: the cached key still verifies.
    assert!(v.verify(&k1.sign(&claims())).await.is_ok());
    // A key we never saw cannot be judged while the issuer is down.
    assert_eq!(
        v.verify(&k2.sign(&claims())).await,
        Err(AuthError::Unavailable)
    );
}

#[actix_web::test]
async fn unreachable_jwks_url_gives_unavailable() {
    let k1 = TestKey::new("k1", SigningAlg::EdDsa);
    let v = JwksVerifier::new(
        &settings("http://127.0.0.1:9/jwks"),
        "kyc-receiver",
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    assert_eq!(
        v.verify(&k1.sign(&claims())).await,
        Err(AuthError::Unavailable)
    );
}

#[actix_web::test]
async fn a_key_the_issuer_dropped_is_refused_by_the_request_that_refreshes() {
    let old = TestKey::new("k-old", SigningAlg::EdDsa);
    let new = TestKey::new("k-new", SigningAlg::EdDsa);
    let (state, clock, v) = setup(&[&old]);
    let token = old.sign(&claims());
    assert!(v.verify(&token).await.is_ok());
    // The issuer rotates and drops the old key; our cached set ages out.
    *state.keys.lock().unwrap() = vec![new.jwk.clone()];
    clock.advance(MAX_AGE_SECS + 1);
    assert_eq!(v.verify(&token).await, Err(AuthError::InvalidToken));
    assert!(v.verify(&new.sign(&claims())).await.is_ok());
}
