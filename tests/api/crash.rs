//! Crash durability: the real `kyc-receiver serve` binary is killed with SIGKILL, once right after a
//! submission's transaction committed and once while its write could not commit, then restarted on the same
//! database. The upstream's retry must find the submission stored exactly once under one reference, and a
//! submission whose write never committed must never have been answered 200.
//!
//! The test app of `TestApp::spawn` only prepares the database, certificate, signing key and token; it is
//! stopped before the child process serves the same config on its own port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, fixture_json};
use kyc_receiver::store::{self, DbConnection, submissions_table as submissions};

/// A `kyc-receiver serve` child process on the test app's config and database.
struct Receiver {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Receiver {
    /// Starts the binary and waits until `/readyz` answers 200.
    async fn start(app: &TestApp, label: &str) -> Receiver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = app.file(&format!("receiver-{label}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
            .arg("--config")
            .arg(app.file("kyc-receiver.toml"))
            .arg("serve")
            .env_remove("KYC_CONFIG")
            .env("KYC__SERVER__BIND", format!("127.0.0.1:{port}"))
            // Long enough that a writer blocked on the test's lock waits instead of answering 503.
            .env("KYC__DATABASE__BUSY_TIMEOUT_MS", "60000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("spawn kyc-receiver");
        let mut receiver = Receiver {
            child,
            base: format!("https://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = receiver.child.try_wait() {
                panic!("kyc-receiver exited with {status}: {}", receiver.log_text());
            }
            let ready = app
                .client
                .get(format!("{}/readyz", receiver.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return receiver;
            }
            assert!(
                Instant::now() < deadline,
                "not ready: {}",
                receiver.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook, no draining, no flush beyond what was committed.
    fn crash(mut self, app: &TestApp) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
        let log = self.log_text();
        assert!(!log.contains(&app.token), "token in the receiver's log");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn submit(
        &self,
        app: &TestApp,
        body: Vec<u8>,
    ) -> tokio::task::JoinHandle<reqwest::Result<(u16, String)>> {
        let request = app
            .client
            .post(format!("{}/kyc", self.base))
            .bearer_auth(&app.token)
            .header("Content-Type", "application/json")
            .body(body);
        tokio::spawn(async move {
            let r = request.send().await?;
            Ok((r.status().as_u16(), r.text().await?))
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn payload(requester_id: &str) -> Vec<u8> {
    let mut body = fixture_json("ditto-v3-small.json");
    body["request_info"]["requester_id"] = json!(requester_id);
    serde_json::to_vec(&body).expect("json")
}

/// References stored for a requester id (committed rows only: the test's own connection).
fn stored(app: &TestApp, requester_id: &str) -> Vec<String> {
    submissions::table
        .filter(submissions::requester_id.eq(requester_id))
        .select(submissions::reference)
        .load(&mut app.db())
        .expect("query submissions")
}

async fn retry_answer(receiver: &Receiver, app: &TestApp, body: Vec<u8>) -> Value {
    let (status, text) = receiver
        .submit(app, body)
        .await
        .expect("task")
        .expect("retry reaches the restarted receiver");
    assert_eq!(status, 200, "retry after the crash: {text}");
    serde_json::from_str(&text).expect("confirmation json")
}

/// Holds the lock every submission's write transaction needs, so nothing can commit until it is released.
fn hold_write_lock(app: &TestApp) -> DbConnection {
    let mut conn = app.db();
    let sql = match &conn {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE;",
        DbConnection::Postgresql(_) => "BEGIN; SELECT seq FROM audit_head FOR UPDATE;",
    };
    conn.batch_execute(sql).expect("take the write lock");
    conn
}

/// Until the receiver's writer waits for the lock (PostgreSQL shows it; SQLite does not, so give the
/// request time to arrive). Either way the kill comes before any commit was possible.
async fn wait_for_blocked_writer(app: &TestApp) {
    let mut probe = app.db();
    if !matches!(probe, DbConnection::Postgresql(_)) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: Waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut probe)
        .expect("pg_stat_activity");
        if waiting.n > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the writer never reached the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_crash_after_the_commit_leaves_one_record_and_the_retry_gets_its_reference(
    app: &TestApp,
) {
    app.stop_server().await;
    let body = payload("crash-after-commit");
    let receiver = Receiver::start(app, "first").await;
    let in_flight = receiver.submit(app, body.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let reference = loop {
        if let Some(reference) = stored(app, "crash-after-commit").pop() {
            break reference;
        }
        assert!(
            Instant::now() < deadline,
            "never committed: {}",
            receiver.log_text()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    receiver.crash(app);
    // Answered or cut off: both are possible and the retry must not care.
    let _ = in_flight.await.expect("task");

    let receiver = Receiver::start(app, "second").await;
    let answer = retry_answer(&receiver, app, body).await;
    assert_eq!(answer["reference_number"], json!(reference));
    assert_eq!(stored(app, "crash-after-commit"), vec![reference]);
    assert_eq!(app.submission_count(), 1);
    let report = kyc_receiver::audit::verify(&mut app.db()).expect("verify");
    assert!(report.ok, "{report:?}");
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["submission_stored", "submission_replayed"]);
}
both_backends!(a_crash_after_the_commit_leaves_one_record_and_the_retry_gets_its_reference);

async fn a_crash_before_the_commit_was_never_acknowledged_and_the_retry_stores_once(app: &TestApp) {
    app.stop_server().await;
    let body = payload("crash-before-commit");
    let receiver = Receiver::start(app, "first").await;
    let mut lock = hold_write_lock(app);
    let in_flight = receiver.submit(app, body.clone());
    wait_for_blocked_writer(app).await;
    receiver.crash(app);
    let cut_off = in_flight.await.expect("task");
    assert!(
        !matches!(cut_off, Ok((200, _))),
        "answered 200 although nothing could commit: {cut_off:?}"
    );
    lock.batch_execute("ROLLBACK;").expect("release the lock");
    drop(lock);
    assert!(stored(app, "crash-before-commit").is_empty());

    let receiver = Receiver::start(app, "second").await;
    let answer = retry_answer(&receiver, app, body.clone()).await;
    let reference = answer["reference_number"]
        .as_str()
        .expect("reference")
        .to_string();
    assert_eq!(stored(app, "crash-before-commit"), vec![reference.clone()]);
    // And once more: the stored answer again, still one row.
    let again = retry_answer(&receiver, app, body).await;
    assert_eq!(again["reference_number"], json!(reference));
    assert_eq!(app.submission_count(), 1);
    let report = kyc_receiver::audit::verify(&mut app.db()).expect("verify");
    assert!(report.ok, "{report:?}");
    drop(receiver);
    let _ = store::submissions::count(&mut app.db()).expect("database still opens");
}
both_backends!(a_crash_before_the_commit_was_never_acknowledged_and_the_retry_stores_once);
