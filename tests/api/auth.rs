//! OAuth2 on the KYC endpoint: the upstream's token flows, and every kind of bad token refused with the right
//! status and challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AUDITOR, Backend, TestApp, UPSTREAM, captured_logs, fixture};

async fn submit_with(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/kyc"))
        .body(fixture("ditto-v3-small.json"));
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    req.send().await.expect("send")
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn token_from(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "kyc:submit");
    body["access_token"].as_str().expect("token").to_string()
}

async fn the_upstream_flow_works_with_form_basic_and_json(app: &TestApp) {
    let token_url = app.url("/oauth/token");
    let by_basic = app
        .client
        .post(&token_url)
        .basic_auth(UPSTREAM.0, Some(UPSTREAM.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("basic");
    let by_json = app
        .client
        .post(&token_url)
        .json(&json!({"grant_type": "client_credentials", "client_id": UPSTREAM.0, "client_secret": UPSTREAM.1}))
        .send()
        .await
        .expect("json");
    for token in [
        token_from(by_basic).await,
        token_from(by_json).await,
        app.token.clone(),
    ] {
        let r = submit_with(app, Some(&format!("Bearer {token}"))).await;
        assert_eq!(r.status(), 200);
    }
    assert_eq!(app.submission_count(), 1);
}
both_backends!(the_upstream_flow_works_with_form_basic_and_json);

async fn token_endpoint_errors_follow_rfc_6749(app: &TestApp) {
    let token_url = app.url("/oauth/token");
    let wrong = app
        .client
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", UPSTREAM.0),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .expect("wrong secret");
    assert_eq!(wrong.status(), 401);
    assert!(
        challenge(&wrong).starts_with("Basic"),
        "{}",
        challenge(&wrong)
    );
    assert_eq!(
        wrong.json::<Value>().await.expect("json")["error"],
        "invalid_client"
    );

    let grant = app
        .client
        .post(&token_url)
        .basic_auth(UPSTREAM.0, Some(UPSTREAM.1))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .expect("grant");
    assert_eq!(grant.status(), 400);
    assert_eq!(
        grant.json::<Value>().await.expect("json")["error"],
        "unsupported_grant_type"
    );

    let scope = app
        .client
        .post(&token_url)
        .basic_auth(UPSTREAM.0, Some(UPSTREAM.1))
        .form(&[("grant_type", "client_credentials"), ("scope", "kyc:read")])
        .send()
        .await
        .expect("scope");
    assert_eq!(scope.status(), 400);
    assert_eq!(
        scope.json::<Value>().await.expect("json")["error"],
        "invalid_scope"
    );

    let get = app
        .client
        .get(format!(
            "{token_url}?grant_type=client_credentials&client_id={}&client_secret={}",
            UPSTREAM.0, UPSTREAM.1
        ))
        .send()
        .await
        .expect("get");
    assert!(
        get.status().is_client_error(),
        "GET refused unless auth.allow_get_token"
    );
}
both_backends!(token_endpoint_errors_follow_rfc_6749);

fn sign(app: &TestApp, header: Header, claims: Value) -> String {
    let pem = std::fs::read(app.file("signing.pem")).expect("signing key");
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_ed_pem(&pem).expect("ed key"),
    )
    .expect("sign")
}

fn claims(overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "iss": "kyc-receiver", "aud": "kyc-receiver", "sub": "upstream", "client_id": "upstream",
        "scope": "kyc:submit", "iat": now, "exp": now + 600, "jti": "t-1",
    });
    for (k, v) in overrides.as_object().expect("object") {
        c[k] = v.clone();
    }
    c
}

fn header() -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some("key-1".into());
    h.typ = Some("at+jwt".into());
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_the_right_challenge() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    // Our own key signs a valid token: the crafted-token path itself works.
    let good = sign(&app, header(), claims(json!({})));
    assert_eq!(
        submit_with(&app, Some(&format!("Bearer {good}")))
            .await
            .status(),
        200
    );

    let now = chrono::Utc::now().timestamp();
    let mut tampered = app.token.clone();
    let last = tampered.pop().expect("char");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"key-1"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let cases = [
        (
            "expired",
            sign(
                &app,
                header(),
                claims(json!({"exp": now - 3600, "iat": now - 7200})),
            ),
        ),
        (
            "wrong audience",
            sign(&app, header(), claims(json!({"aud": "another-service"}))),
        ),
        (
            "wrong issuer",
            sign(
                &app,
                header(),
                claims(json!({"iss": "https://evil.example"})),
            ),
        ),
        ("tampered signature", tampered),
        ("alg none", unsigned),
        ("garbage", "not-a-jwt".into()),
    ];
    for (what, token) in cases {
        let r = submit_with(&app, Some(&format!("Bearer {token}"))).await;
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(challenge(&r), r#"Bearer error="invalid_token""#, "{what}");
        assert_eq!(
            r.json::<Value>().await.expect("json")["error"],
            "invalid_token",
            "{what}"
        );
    }
    let r = submit_with(&app, None).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("Bearer"), "{}", challenge(&r));

    let auditor = app.token_for(AUDITOR.0, AUDITOR.1, Some("kyc:read")).await;
    let r = submit_with(&app, Some(&format!("Bearer {auditor}"))).await;
    assert_eq!(r.status(), 403);
    assert!(
        challenge(&r).contains(r#"scope="kyc:submit""#),
        "{}",
        challenge(&r)
    );
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "insufficient_scope"
    );

    assert_eq!(app.submission_count(), 1, "refused requests store nothing");
    for line in captured_logs() {
        assert!(
            !line.contains(&app.token) && !line.contains(UPSTREAM.1),
            "secret in log: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| {
            s.rate_limit.per_second = 0.2;
            s.rate_limit.burst = 2.0;
        },
        "",
    )
    .await;
    let body = crate::helpers::fixture_json("ditto-v3-small.json");
    for i in 0..2 {
        let mut b = body.clone();
        b["request_info"]["requester_id"] = json!(format!("rate-{i}"));
        assert_eq!(app.submit(b.to_string()).await.status(), 200);
    }
    let r = app.submit(body.to_string()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "rate_limited"
    );
    assert_eq!(app.submission_count(), 2);
}
