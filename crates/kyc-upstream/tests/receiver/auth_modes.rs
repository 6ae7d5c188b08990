//! The simulator's auth modes against a stand-in receiver (actix-web on 127.0.0.1): the OAuth2
//! client-credentials token, fetched once and reused, and a static `Authorization` header.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use super::{upstream, write};
use kyc_test_support::fixture;

/// "ditto:s3cret" in HTTP Basic.
const BASIC: &str = "Basic ZGl0dG86czNjcmV0";

#[derive(Default)]
struct Seen {
    token_requests: AtomicU64,
    submissions: AtomicU64,
}

async fn token(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    seen: web::Data<Arc<Seen>>,
) -> HttpResponse {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(BASIC);
    let body = form.get("client_id").map(String::as_str) == Some("ditto")
        && form.get("client_secret").map(String::as_str) == Some("s3cret");
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") || !(basic || body)
    {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let n = seen.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
    HttpResponse::Ok().json(
        json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": 3600}),
    )
}

/// Accepts `Bearer tok-1` or the static Basic credential, and wants the `apiversion` header.
async fn kyc(req: HttpRequest, body: web::Bytes, seen: web::Data<Arc<Seen>>) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if !matches!(auth, Some("Bearer tok-1") | Some(BASIC)) {
        return HttpResponse::Unauthorized().json(json!({"error": "unauthorized"}));
    }
    if req
        .headers()
        .get("apiversion")
        .and_then(|v| v.to_str().ok())
        != Some("v2")
    {
        return HttpResponse::BadRequest().json(json!({"error": "missing_apiversion"}));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_json"}));
    };
    seen.submissions.fetch_add(1, Ordering::SeqCst);
    let info = &v["request_info"];
    HttpResponse::Ok().json(json!({
        "result": true,
        "reference_number": format!("REF-{}", info["requester_id"].as_str().unwrap_or("")),
        "user_id": info["user_id"],
    }))
}

fn stand_in() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let data = web::Data::new(seen.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/oauth/token", web::post().to(token))
            .route("/kyc", web::post().to(kyc))
    })
    .workers(2)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_fetches_one_token_and_reuses_it() {
    let (base, seen) = stand_in();
    let (token_url, submit_url) = (format!("{base}/oauth/token"), format!("{base}/kyc"));
    let (ok, stdout, stderr) = upstream(&[
        "--token-url",
        &token_url,
        "--client-id",
        "ditto",
        "--client-secret",
        "s3cret",
        "--submit-url",
        &submit_url,
        "--header",
        "apiversion: v2",
        "load",
        "--count",
        "20",
        "--concurrency",
        "4",
        "--images",
        "none",
        "--json",
    ])
    .await;
    assert!(ok, "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["acknowledged"], 20);
    assert_eq!(report["token_fetches"], 1);
    assert_eq!(seen.token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(seen.submissions.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ditto_placeholder_and_basic_client_auth_get_a_token() {
    let (base, seen) = stand_in();
    let dir = tempfile::tempdir().expect("dir");
    let payload = write(dir.path(), "p.json", fixture("ditto-v3-small.json"));
    let config = write(
        dir.path(),
        "upstream.toml",
        format!(
            "token_url = \"{base}/oauth/token\"\nclient_id = \"ditto\"\nclient_secret = \"s3cret\"\n\
             token_auth = \"basic\"\nsubmit_url = \"{base}/kyc\"\n\
             header = [\"Authorization: Bearer __ACCESS_TOKEN_PLACEHOLDER__\", \"apiversion: v2\"]\n"
        ),
    );
    let (ok, stdout, stderr) = upstream(&["--config", &config, "send", &payload]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("REF-3d9c1724-11e2-0b8f-6b0d-549b6f03675a"),
        "{stdout}"
    );
    assert_eq!(seen.token_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_authorization_header_is_sent_as_configured() {
    let (base, seen) = stand_in();
    let dir = tempfile::tempdir().expect("dir");
    let payload = write(dir.path(), "p.json", fixture("ditto-v3-small.json"));
    let submit = format!("{base}/kyc");
    let auth = format!("Authorization: {BASIC}");
    let (ok, _, stderr) = upstream(&[
        "--submit-url",
        &submit,
        "-H",
        &auth,
        "-H",
        "apiversion: v2",
        "send",
        &payload,
    ])
    .await;
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = upstream(&[
        "--submit-url",
        &submit,
        "-H",
        "apiversion: v2",
        "send",
        &payload,
    ])
    .await;
    assert!(!ok);
    assert!(
        stdout.contains("unauthorized") && stderr.contains("HTTP 401"),
        "{stdout} {stderr}"
    );
    assert_eq!(seen.token_requests.load(Ordering::SeqCst), 0);
    assert_eq!(seen.submissions.load(Ordering::SeqCst), 1);
}
