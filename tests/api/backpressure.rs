//! Memory stays bounded under load: bodies in flight share `server.inflight_body_bytes`. A
//! submission that finds no room waits before its body is read and gets 503 `unavailable` (with Retry-After)
//! after `server.inflight_wait_secs`; once room frees up, submissions are stored again and nothing earlier is
//! lost.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::{Backend, TestApp, fixture_json, postgres_configured};

async fn a_full_budget_answers_503_and_frees_up(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        |s| {
            s.server.inflight_body_bytes = 65_536;
            s.server.inflight_wait_secs = 1;
        },
        "",
    )
    .await;
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!("before-the-stall");
    assert_eq!(app.submit(body.to_string()).await.status(), 200);

    // A client that declares 65 000 bytes and stalls after the first kilobyte holds all but 536 bytes of the
    // budget; the next ≈3 KB submission does not fit.
    let (stall_tx, stall_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    stall_tx.send(vec![b' '; 1024]).await.expect("first chunk");
    let stream = tokio_stream_from(stall_rx);
    let stalled = app
        .post_kyc()
        .header("Content-Length", "65000")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let stalled = tokio::spawn(stalled);
    tokio::time::sleep(Duration::from_millis(300)).await;

    body["request_info"]["requester_id"] = json!("while-stalled");
    let r = app.submit(body.to_string()).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let answer: serde_json::Value = r.json().await.expect("json");
    assert_eq!(answer["error"], "unavailable", "{answer}");

    // The stalled client goes away: its room is given back.
    drop(stall_tx);
    let _ = stalled.await;
    let r = app.submit(body.to_string()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(app.submission_count(), 2);
}

/// The receiving end of `rx` as a body stream.
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok(chunk), rx))
    })
    .boxed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    a_full_budget_answers_503_and_frees_up(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if postgres_configured() {
        a_full_budget_answers_503_and_frees_up(Backend::Postgres).await;
    }
}
