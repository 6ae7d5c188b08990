use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, fixture_json};

async fn expect_error(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status(), status, "expected {code}");
    let body: Value = r.json().await.expect("error body is json");
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

async fn bad_inputs_get_clear_errors_and_store_nothing(app: &TestApp) {
    // Declared length over the limit (2 000 000 in tests): refused before reading.
    let big = vec![b' '; 2_100_000];
    expect_error(app.submit(big.clone()).await, 413, "payload_too_large").await;
    // Chunked body (no Content-Length) over the limit: refused once it passes the limit.
    let stream = futures_util::stream::iter(
        big.chunks(100_000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = app
        .post_kyc()
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("chunked");
    expect_error(r, 413, "payload_too_large").await;

    expect_error(app.submit("not json at all").await, 400, "invalid_json").await;
    expect_error(app.submit("").await, 400, "invalid_json").await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let body = expect_error(app.submit(deep).await, 400, "invalid_json").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("nested")),
        "{body}"
    );

    let mut no_id = fixture_json("ditto-v3-small.json");
    no_id["request_info"]
        .as_object_mut()
        .expect("object")
        .remove("requester_id");
    let body = expect_error(app.submit(no_id.to_string()).await, 422, "invalid_payload").await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("request_info.requester_id")),
        "{body}"
    );

    let mut no_user = fixture_json("ditto-v3-small.json");
    no_user["request_info"]["user_id"] = json!("");
    let body = expect_error(
        app.submit(no_user.to_string()).await,
        422,
        "invalid_payload",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("request_info.user_id")),
        "{body}"
    );

    let mut wrong_type = fixture_json("ditto-v3-small.json");
    wrong_type["kyc_info"]["face_matcher_result"]["score"] = json!("2.5");
    let body = expect_error(
        app.submit(wrong_type.to_string()).await,
        422,
        "invalid_payload",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("kyc_info.face_matcher_result.score")),
        "{body}"
    );

    let r = app
        .post_kyc()
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .expect("form");
    expect_error(r, 415, "unsupported_media_type").await;

    assert_eq!(app.submission_count(), 0);
    let events = app.audit_events();
    assert_eq!(events.len(), 9, "{events:?}");
    for (kind, requester_id, details) in &events {
        assert_eq!(kind, "submission_refused");
        let details: Value = serde_json::from_str(details).expect("details json");
        // Code and status; and, when the body had been read, the id of its sealed quarantine entry.
        let keys: Vec<&String> = details.as_object().expect("object").keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["code", "status", "quarantine_id"].contains(&k.as_str()))
                && details.get("code").is_some()
                && details.get("status").is_some(),
            "{details}"
        );
        // The payloads with a readable id carry it; nothing else about the person is kept.
        if let Some(id) = requester_id {
            assert_eq!(id, "3d9c1724-11e2-0b8f-6b0d-549b6f03675a");
        }
    }
}
both_backends!(bad_inputs_get_clear_errors_and_store_nothing);

async fn a_refused_retry_does_not_touch_the_stored_record(app: &TestApp) {
    let good = fixture_json("ditto-v3-small.json");
    let r = app.submit(good.to_string()).await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.expect("json");
    let mut broken = good.clone();
    broken["kyc_info"]["document"]["identity_data"] = json!("oops");
    expect_error(app.submit(broken.to_string()).await, 422, "invalid_payload").await;
    let again: Value = app
        .submit(good.to_string())
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first, again);
    assert_eq!(app.submission_count(), 1);
}
both_backends!(a_refused_retry_does_not_touch_the_stored_record);

/// A caller's `X-Request-Id` (or a `traceparent`'s trace id) comes back on the response and in the error body;
/// without one, or with one that is not plain, the service makes one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_comes_back_in_the_header_and_the_error_body() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite, "").await;
    let send = |id: Option<(&'static str, &'static str)>| {
        let mut req = app
            .post_kyc()
            .header("Content-Type", "application/json")
            .body("{");
        if let Some((name, value)) = id {
            req = req.header(name, value);
        }
        async move {
            let r = req.send().await.expect("post");
            let header = r
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .expect("every response carries a request id");
            let body: Value = r.json().await.expect("json");
            (header, body)
        }
    };
    let (header, body) = send(Some(("x-request-id", "upstream-42.a"))).await;
    assert_eq!(header, "upstream-42.a");
    assert_eq!(body["request_id"], "upstream-42.a");
    assert_eq!(body["error"], "invalid_json");
    let (header, body) = send(Some((
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )))
    .await;
    assert_eq!(header, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(body["request_id"], header.as_str());
    let (header, body) = send(Some(("x-request-id", "no spaces please"))).await;
    assert_eq!(header.len(), 32);
    assert_eq!(body["request_id"], header.as_str());
    let (made, _) = send(None).await;
    assert!(made.len() == 32 && made != header);
    let ok = app
        .submit(crate::helpers::fixture("ditto-v3-small.json"))
        .await;
    assert!(ok.headers().get("x-request-id").is_some(), "on success too");
    assert!(
        crate::helpers::captured_logs()
            .iter()
            .any(|l| l.contains("request_id=upstream-42.a")),
        "the log line names it"
    );
}
