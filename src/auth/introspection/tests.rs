//! Tests of the `introspection` mode against an in-test RFC 7662 endpoint (actix-web on 127.0.0.1, port 0).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use secrecy::SecretString;
use serde_json::json;

use super::super::clock::ManualClock;
use super::*;

const T0: u64 = 1_700_000_000;

#[derive(Default)]
struct TestAs {
    hits: AtomicUsize,
    /// `exp` reported for `tok-active`.
    exp: AtomicU64,
    /// Tokens the endpoint has seen (to check what was sent).
    seen: Mutex<Vec<String>>,
}

async fn introspect(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<TestAs>,
) -> HttpResponse {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("rs:rs-secret")
    );
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(expected.as_str()) {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let token = form.get("token").cloned().unwrap_or_default();
    state.seen.lock().unwrap().push(token.clone());
    let exp = state.exp.load(Ordering::SeqCst);
    let body = match token.as_str() {
        "tok-active" => {
            json!({"active": true, "client_id": "ditto", "scope": "kyc:submit kyc:read",
                               "exp": exp, "token_type": "Bearer", "aud": ["kyc-receiver"]})
        }
        "tok-sub-only" => json!({"active": true, "sub": "svc", "exp": exp}),
        "tok-other-aud" => json!({"active": true, "client_id": "x", "aud": "billing", "exp": exp}),
        "tok-jwt" => {
            return HttpResponse::BadRequest().json(json!({"error": "unsupported_token_type"}));
        }
        _ => json!({"active": false}),
    };
    HttpResponse::Ok().json(body)
}

fn start(state: Arc<TestAs>) -> String {
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/introspect", web::post().to(introspect))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{addr}/introspect")
}

fn settings(url: &str, secret: &str, cache_secs: u64) -> IntrospectionSettings {
    IntrospectionSettings {
        url: url.into(),
        client_id: "rs".into(),
        client_secret: SecretString::from(secret.to_owned()),
        cache_secs,
        audience: Some("kyc-receiver".into()),
        ca_file: None,
    }
}

fn setup(cache_secs: u64) -> (Arc<TestAs>, Arc<ManualClock>, Introspector) {
    let state = Arc::new(TestAs::default());
    state.exp.store(T0 + 3600, Ordering::SeqCst);
    let url = start(state.clone());
    let clock = Arc::new(ManualClock::new(T0));
    let i = Introspector::new(&settings(&url, "rs-secret", cache_secs), clock.clone()).unwrap();
    (state, clock, i)
}

#[actix_web::test]
async fn active_token_gives_principal_with_scopes() {
    let (state, _clock, i) = setup(60);
    let p = i.verify("tok-active").await.unwrap();
    assert_eq!(
        (p.client_id.as_str(), p.method),
        ("ditto", AuthMethod::Introspection)
    );
    assert!(p.has("kyc:submit") && p.has("kyc:read"));
    assert_eq!(state.seen.lock().unwrap().as_slice(), ["tok-active"]);
    let p = i.verify("tok-sub-only").await.unwrap();
    assert_eq!(p.client_id, "svc");
    assert!(p.scopes.is_empty());
}

#[actix_web::test]
async fn inactive_token_is_invalid_and_the_answer_is_cached() {
    let (state, _clock, i) = setup(60);
    assert_eq!(i.verify("tok-revoked").await, Err(AuthError::InvalidToken));
    assert_eq!(i.verify("tok-revoked").await, Err(AuthError::InvalidToken));
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn active_answer_is_cached_for_cache_secs() {
    let (state, clock, i) = setup(60);
    i.verify("tok-active").await.unwrap();
    clock.advance(59);
    i.verify("tok-active").await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    clock.advance(1);
    i.verify("tok-active").await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn cache_never_outlives_the_token_exp() {
    let (state, clock, i) = setup(60);
    state.exp.store(T0 + 10, Ordering::SeqCst);
    i.verify("tok-active").await.unwrap();
    clock.advance(9);
    i.verify("tok-active").await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    // Past exp: asked again, and an answer whose exp is past is not trusted even if `active` is true.
    clock.advance(2);
    assert_eq!(i.verify("tok-active").await, Err(AuthError::InvalidToken));
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn zero_cache_secs_asks_every_time() {
    let (state, _clock, i) = setup(0);
    i.verify("tok-active").await.unwrap();
    i.verify("tok-active").await.unwrap();
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn other_audience_and_uninspectable_tokens_are_invalid() {
    let (_state, _clock, i) = setup(60);
    assert_eq!(
        i.verify("tok-other-aud").await,
        Err(AuthError::InvalidToken)
    );
    assert_eq!(i.verify("tok-jwt").await, Err(AuthError::InvalidToken));
}

#[actix_web::test]
async fn refused_client_credentials_and_unreachable_endpoint_are_unavailable() {
    let state = Arc::new(TestAs::default());
    let url = start(state);
    let i =
        Introspector::new(&settings(&url, "wrong", 60), Arc::new(ManualClock::new(T0))).unwrap();
    assert_eq!(i.verify("tok-active").await, Err(AuthError::Unavailable));
    let i = Introspector::new(
        &settings("http://127.0.0.1:9/introspect", "rs-secret", 60),
        Arc::new(ManualClock::new(T0)),
    )
    .unwrap();
    assert_eq!(i.verify("tok-active").await, Err(AuthError::Unavailable));
}

#[actix_web::test]
async fn cache_is_keyed_by_token_hash_not_token() {
    let (_state, _clock, i) = setup(60);
    i.verify("tok-active").await.unwrap();
    let cache = i.lock();
    let expected: [u8; 32] = Sha256::digest(b"tok-active").into();
    assert!(cache.answers.contains_key(&expected));
    assert!(!format!("{cache:?}").contains("tok-active"));
}

#[actix_web::test]
async fn a_full_cache_drops_its_oldest_answer_without_a_scan() {
    let (_state, clock, i) = setup(60);
    for n in 0..CACHE_MAX + 3 {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&(n as u64).to_le_bytes());
        i.insert(
            key,
            Cached {
                principal: None,
                until: clock.now_unix() + 60,
            },
        );
    }
    let cache = i.lock();
    assert_eq!(cache.answers.len(), CACHE_MAX);
    assert_eq!(cache.order.len(), CACHE_MAX);
    assert!(
        !cache.answers.contains_key(&[0u8; 32]),
        "the oldest went first"
    );
}
