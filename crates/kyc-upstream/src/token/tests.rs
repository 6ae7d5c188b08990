//! The token cache against a small RFC 6749 token endpoint served by actix-web on 127.0.0.1.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;

use super::*;

struct Endpoint {
    hits: AtomicU64,
    expires_in: Option<u64>,
}

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<Arc<Endpoint>>,
) -> HttpResponse {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // "ditto:s3cret" in HTTP Basic.
    let by_basic = basic.as_deref() == Some("Basic ZGl0dG86czNjcmV0");
    let by_body = form.get("client_id").map(String::as_str) == Some("ditto")
        && form.get("client_secret").map(String::as_str) == Some("s3cret");
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || !(by_basic || by_body)
    {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let n = state.hits.fetch_add(1, Ordering::SeqCst) + 1;
    let mut body = json!({"access_token": format!("tok-{n}"), "token_type": "Bearer"});
    if let Some(e) = state.expires_in {
        body["expires_in"] = json!(e);
    }
    HttpResponse::Ok().json(body)
}

async fn serve(expires_in: Option<u64>) -> (String, Arc<Endpoint>) {
    let state = Arc::new(Endpoint {
        hits: AtomicU64::new(0),
        expires_in,
    });
    let data = web::Data::new(state.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/oauth/token", web::post().to(token))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/oauth/token"), state)
}

fn cache(url: &str, secret: &str, auth: TokenAuth) -> TokenCache {
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TokenCache::new(url, "ditto", &SecretString::from(secret), &[], auth, http).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_fetched_once_and_reused_by_concurrent_callers() {
    let (url, endpoint) = serve(Some(3600)).await;
    let c = Arc::new(cache(&url, "s3cret", TokenAuth::RequestBody));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.bearer().await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().expose_secret(), "tok-1");
    }
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), 1);
    assert_eq!(c.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_basic_client_authentication_works_too() {
    let (url, _) = serve(Some(3600)).await;
    let c = cache(&url, "s3cret", TokenAuth::Basic);
    assert_eq!(c.bearer().await.unwrap().expose_secret(), "tok-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_about_to_expire_is_replaced() {
    // expires_in = 1 s: refreshed 0.1 s early, so after 1 s a new one is fetched.
    let (url, endpoint) = serve(Some(1)).await;
    let c = cache(&url, "s3cret", TokenAuth::RequestBody);
    assert_eq!(c.bearer().await.unwrap().expose_secret(), "tok-1");
    assert_eq!(c.bearer().await.unwrap().expose_secret(), "tok-1");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(c.bearer().await.unwrap().expose_secret(), "tok-2");
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_dropped_but_a_newer_one_is_kept() {
    let (url, _) = serve(None).await;
    let c = cache(&url, "s3cret", TokenAuth::RequestBody);
    let first = c.bearer().await.unwrap();
    c.invalidate(&first).await;
    let second = c.bearer().await.unwrap();
    assert_eq!(second.expose_secret(), "tok-2");
    c.invalidate(&first).await; // stale 401: keeps tok-2
    assert_eq!(c.bearer().await.unwrap().expose_secret(), "tok-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_reported_without_the_secret() {
    let (url, _) = serve(Some(60)).await;
    let c = cache(&url, "wrong-secret-value", TokenAuth::RequestBody);
    let e = c.bearer().await.unwrap_err();
    assert!(matches!(e, TokenError::Refused(_)), "{e:?}");
    assert!(e.to_string().contains("invalid_client"), "{e}");
    assert!(!e.to_string().contains("wrong-secret-value"));
}

#[test]
fn refresh_margin_is_a_tenth_at_most_thirty_seconds() {
    assert_eq!(
        refresh_after(Duration::from_secs(3600)),
        Duration::from_secs(3570)
    );
    assert_eq!(
        refresh_after(Duration::from_secs(60)),
        Duration::from_secs(54)
    );
    assert_eq!(refresh_after(Duration::ZERO), Duration::ZERO);
}
