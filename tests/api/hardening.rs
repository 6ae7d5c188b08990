//! The application-security findings, each reproduced as an attacker would try it against the running
//! service: guessing at the token endpoint and in Basic mode, slow bodies, crowds of connections, forged
//! checkpoints over HTTP, erasure leftovers, rotation racing an erasure, a body that explodes when parsed,
//! CSV formulas, readiness details, and requester ids squatted across clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use kyc_receiver::auth::AuthMode;
use kyc_receiver::auth::settings::BasicUserSettings;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{AUDITOR, Backend, DPO, TestApp, UPSTREAM, fixture_json};
use crate::records_support::{auditor, get, submit_many};

async fn token_attempt(app: &TestApp, secret: &str, forwarded_for: Option<&str>) -> u16 {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", UPSTREAM.0),
        ("client_secret", secret),
    ];
    let mut request = app.client.post(app.url("/oauth/token")).form(&form);
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    request.send().await.expect("token").status().as_u16()
}

async fn concurrent_guesses_are_bounded_before_the_slow_check(app: &TestApp) {
    let guesses = (0..40).map(|i| {
        let app = &*app;
        async move { token_attempt(app, &format!("wrong-{i}"), None).await }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 10,
        "at most the per-address limit is checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
}
both_backends!(concurrent_guesses_are_bounded_before_the_slow_check);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_anywhere_never_lock_out_the_right_secret() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| s.server.trusted_proxies = vec!["127.0.0.1".into()],
        "",
    )
    .await;
    // 60 wrong guesses at the upstream's client id, from 10 addresses behind the trusted proxy.
    for i in 0..60 {
        let ip = format!("192.0.2.{}", i % 10);
        assert_eq!(token_attempt(&app, "wrong", Some(&ip)).await, 401);
    }
    assert_eq!(
        token_attempt(&app, UPSTREAM.1, Some("198.51.100.1")).await,
        200,
        "the real upstream, from its own address, is not locked out"
    );
    // One address that keeps guessing is slowed down; headers cannot dodge it without a trusted proxy.
    for _ in 0..10 {
        token_attempt(&app, "wrong", Some("203.0.113.66")).await;
    }
    assert_eq!(
        token_attempt(&app, "wrong", Some("203.0.113.66")).await,
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_without_a_trusted_proxy() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    for i in 0..10 {
        let ip = format!("192.0.2.{i}");
        assert_eq!(token_attempt(&app, "wrong", Some(&ip)).await, 401);
    }
    assert_eq!(
        token_attempt(&app, "wrong", Some("198.51.100.9")).await,
        429,
        "a made-up X-Forwarded-For does not open a new window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_limits_failed_passwords() {
    let hash = kyc_receiver::auth::hash_secret("static-password-0123456789").expect("hash");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        move |s| {
            s.auth.modes.push(AuthMode::Basic);
            s.auth.basic.push(BasicUserSettings {
                username: "ditto-static".into(),
                password_hash: hash.into(),
                scopes: vec!["kyc:submit".into()],
            });
        },
        "",
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..30 {
        let r = app
            .client
            .post(app.url("/kyc"))
            .basic_auth("ditto-static", Some(format!("guess-{i}")))
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
}

/// Sends `head` and then a body of `declared` bytes one byte every 300 ms over a raw TLS connection; returns
/// the status line's code and how long it took to come. The server must cut the trickle short.
fn trickle(port: u16, head: &str, declared: usize) -> (u16, Duration) {
    let mut builder =
        openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).expect("tls");
    builder.set_verify(openssl::ssl::SslVerifyMode::NONE);
    let connector = builder.build();
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut tls = connector
        .configure()
        .expect("configure")
        .verify_hostname(false)
        .connect("localhost", tcp)
        .expect("handshake");
    let start = Instant::now();
    tls.write_all(
        format!("{head}Content-Length: {declared}\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
    )
    .expect("head");
    let mut answer = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        let _ = tls.write_all(b"{");
        let mut buf = [0u8; 4096];
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => continue,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_that_reads_a_body_cuts_a_trickle_short() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| {
            s.server.body_timeout_secs = 1;
            s.server.body_min_bytes_per_sec = 1000;
        },
        "",
    )
    .await;
    let reviewer = app
        .token_for(AUDITOR.0, AUDITOR.1, Some("kyc:review"))
        .await;
    let dpo = app.token_for(DPO.0, DPO.1, None).await;
    let port = app
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let routes = [
        ("POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n".to_string(), 200),
        (format!("POST /kyc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n", app.token), 1_900_000),
        (format!("POST /v1/submissions/KYC-1/review HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {reviewer}\r\n"), 200),
        (format!("DELETE /v1/subjects/someone HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {dpo}\r\n"), 200),
    ];
    for (head, declared) in routes {
        let route = head.lines().next().unwrap_or_default().to_string();
        let (code, took) = tokio::task::spawn_blocking(move || trickle(port, &head, declared))
            .await
            .expect("trickle");
        assert_eq!(code, 408, "{route}");
        assert!(took < Duration::from_secs(6), "{route}: {took:?}");
    }
    // The trickling upload held the in-flight budget only until it was cut: a normal push gets through.
    let r = app
        .submit(fixture_json("ditto-v3-small.json").to_string())
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_per_address_limit_are_refused() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| s.server.max_connections_per_address = 4,
        "",
    )
    .await;
    let port: u16 = app
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let (statuses, after) = tokio::task::spawn_blocking(move || {
        let mut builder =
            openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).expect("tls");
        builder.set_verify(openssl::ssl::SslVerifyMode::NONE);
        let connector = builder.build();
        let open = || {
            let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            tcp.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            connector
                .configure()
                .expect("configure")
                .verify_hostname(false)
                .connect("localhost", tcp)
                .expect("handshake")
        };
        let status = |c: &mut openssl::ssl::SslStream<TcpStream>| {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .expect("write");
            let mut buf = [0u8; 512];
            let n = c.read(&mut buf).unwrap_or(0);
            String::from_utf8_lossy(&buf[..n])
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(0)
        };
        let mut held: Vec<_> = (0..6).map(|_| open()).collect();
        let statuses: Vec<u16> = held.iter_mut().map(status).collect();
        drop(held);
        std::thread::sleep(Duration::from_millis(300));
        (statuses, status(&mut open()))
    })
    .await
    .expect("connections");
    // The test client may hold up to two connections of its own: the first of ours get in, the rest not.
    let ok = statuses.iter().take_while(|s| **s == 200).count();
    assert!(ok >= 2, "{statuses:?}");
    assert!(statuses[ok..].iter().all(|s| *s == 503), "{statuses:?}");
    assert!(statuses.len() - ok >= 2, "{statuses:?}");
    assert_eq!(after, 200, "closed connections free their places");
}

async fn http_verify_checks_retention_checkpoints_with_the_key(app: &TestApp) {
    submit_many(app, "ditto-v3-small.json", 1, "cp").await;
    // A checkpoint "removing" nothing but with a MAC nobody computed under the key.
    app.db()
        .batch_execute(
            "INSERT INTO audit_checkpoints (seq, hash, created_at, removed_events, mac) VALUES \
             (0, '0000000000000000000000000000000000000000000000000000000000000000', \
             '2026-11-01 00:00:00', 0, 'forged')",
        )
        .expect("forge");
    let token = auditor(app, "kyc:read").await;
    let (status, report) = get(app, &token, "/v1/audit/verify").await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(
        report["first_broken_event"]["kind"], "checkpoint_forged",
        "{report}"
    );
}
both_backends!(http_verify_checks_retention_checkpoints_with_the_key);

async fn erasure_covers_review_notes_and_audit_details_hold_no_plain_hash(app: &TestApp) {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!("erase-notes-1");
    let user_id = body["request_info"]["user_id"]
        .as_str()
        .expect("user")
        .to_string();
    let r = app.submit(body.to_string()).await;
    let reference = r.json::<Value>().await.expect("json")["reference_number"]
        .as_str()
        .expect("ref")
        .to_string();
    let reviewer = auditor(app, "kyc:read kyc:read_pii kyc:review").await;
    let note = "Passport XB2215279 of Sofía checked by video call";
    let r = app
        .client
        .post(app.url(&format!("/v1/submissions/{reference}/review")))
        .bearer_auth(&reviewer)
        .json(&json!({"decision": "approved", "note": note}))
        .send()
        .await
        .expect("review");
    assert_eq!(r.status(), 200);
    let reader = auditor(app, "kyc:read kyc:read_pii").await;
    let export = app
        .client
        .get(app.url(&format!(
            "/v1/export?format=jsonl&user_id={}",
            urlencode(&user_id)
        )))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let _ = export.bytes().await;
    let dpo = app.token_for(DPO.0, DPO.1, None).await;
    let r = app
        .client
        .delete(app.url(&format!("/v1/subjects/{}", urlencode(&user_id))))
        .bearer_auth(&dpo)
        .query(&[("reason", "request 7")])
        .send()
        .await
        .expect("erase");
    assert_eq!(r.status(), 200);
    let (_, detail) = get(app, &reader, &format!("/v1/submissions/{reference}")).await;
    let shown = detail["reviews"].to_string();
    assert!(
        !shown.contains("XB2215279") && !shown.contains("Sofía"),
        "{shown}"
    );
    let plain_hash = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(user_id.as_bytes()))
    };
    for (kind, _, details) in app.audit_events() {
        assert!(!details.contains(&plain_hash), "{kind}: {details}");
        assert!(!details.contains(&user_id), "{kind}: {details}");
    }
}
both_backends!(erasure_covers_review_notes_and_audit_details_hold_no_plain_hash);

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn a_rotation_racing_an_erasure_never_restores_the_erased_data(app: &TestApp) {
    use kyc_receiver::store::{erasure, rotation, submissions};
    let r = app
        .submit(fixture_json("ditto-v3-full.json").to_string())
        .await;
    let reference = crate::helpers::reference(
        r.json::<Value>().await.expect("json")["reference_number"]
            .as_str()
            .expect("ref"),
    );
    let new_key = "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=";
    let keys = crate::helpers::test_protection(
        "t2",
        &[("t2", new_key), ("t1", crate::helpers::TEST_DATA_KEY)],
    );
    let mut db = app.db();
    // The rotation reads and re-seals; before it writes, the subject is erased.
    let planned = rotation::plan_records(&mut db, &keys, 10).expect("plan");
    assert_eq!(planned.len(), 1);
    let user_id = submissions::find(&mut db, &reference)
        .expect("q")
        .expect("row")
        .user_id;
    erasure::erase_subject(
        &mut db,
        &keys.audit_key(),
        erasure::ErasureRequest {
            user_id: &user_id,
            pseudonym: &keys.subject_pseudonym(&user_id),
            reason: "request 9",
            actor: "dpo",
            now: chrono::Utc::now().naive_utc(),
            emit_event: true,
        },
    )
    .expect("erase");
    let written =
        rotation::write_records(&mut db, &keys.audit_key(), &planned, "t2").expect("write");
    assert_eq!(written, 0, "the erased row changed since it was read");
    let row = submissions::find(&mut db, &reference)
        .expect("q")
        .expect("row");
    assert!(row.pii_ciphertext.is_none() && row.erased_at.is_some());
    assert!(kyc_receiver::audit::verify(&mut db).expect("verify").ok);
}
both_backends!(a_rotation_racing_an_erasure_never_restores_the_erased_data);

async fn json_that_explodes_when_parsed_is_refused_by_its_parsed_size(app: &TestApp) {
    // 200 000 small numbers: 400 KB on the wire, far more than the 8 MiB budget once parsed.
    let body = format!("[{}]", vec!["1"; 200_000].join(","));
    let r = app.submit(body).await;
    assert_eq!(r.status(), 413);
    let err: Value = r.json().await.expect("json");
    assert_eq!(err["error"], "payload_too_large");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("once parsed")),
        "{err}"
    );
    // An ordinary push still goes through.
    let ok = app
        .submit(fixture_json("ditto-v3-small.json").to_string())
        .await;
    assert_eq!(ok.status(), 200);
}
both_backends!(json_that_explodes_when_parsed_is_refused_by_its_parsed_size);

async fn csv_cells_that_look_like_formulas_are_neutralized(app: &TestApp) {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["user_id"] = json!("=HYPERLINK(\"http://evil.example\",\"x\")");
    assert_eq!(app.submit(body.to_string()).await.status(), 200);
    let token = auditor(app, "kyc:read").await;
    let csv = |raw: &'static str| {
        let app = &*app;
        let token = token.clone();
        async move {
            app.client
                .get(app.url(&format!("/v1/export?format=csv{raw}")))
                .bearer_auth(token)
                .send()
                .await
                .expect("export")
                .text()
                .await
                .expect("text")
        }
    };
    // The cell is quoted (it holds quotes); neutralized, its text starts with `'`.
    let safe = csv("").await;
    assert!(safe.contains(",\"'=HYPERLINK("), "{safe}");
    assert!(!safe.contains(",\"=HYPERLINK("), "{safe}");
    let raw = csv("&raw=true").await;
    assert!(raw.contains(",\"=HYPERLINK("), "{raw}");
}
both_backends!(csv_cells_that_look_like_formulas_are_neutralized);

async fn readiness_details_need_an_operator_token(app: &TestApp) {
    let anonymous: Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(anonymous, json!({"status": "ready"}));
    let reader = auditor(app, "kyc:read").await;
    let not_operator: Value = app
        .client
        .get(app.url("/readyz"))
        .bearer_auth(reader)
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert!(not_operator.get("checks").is_none(), "{not_operator}");
}
both_backends!(readiness_details_need_an_operator_token);

async fn requester_ids_are_scoped_to_their_client(app: &TestApp) {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!("shared-id-1");
    let first = app.submit(body.to_string()).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.expect("json");
    // Another client (a second upstream) uses the same requester id for a different payload.
    let other = app
        .token_for(
            crate::helpers::UPSTREAM_B.0,
            crate::helpers::UPSTREAM_B.1,
            None,
        )
        .await;
    body["request_info"]["user_id"] = json!("someone.else@example.com");
    let r = app
        .client
        .post(app.url("/kyc"))
        .bearer_auth(other)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "no 409 across clients");
    let second: Value = r.json().await.expect("json");
    assert_ne!(first["reference_number"], second["reference_number"]);
    // Within one client the id still identifies one submission.
    let again = app.submit(body.to_string()).await;
    assert_eq!(again.status(), 409);
    assert_eq!(app.submission_count(), 2);
}
both_backends!(requester_ids_are_scoped_to_their_client);
