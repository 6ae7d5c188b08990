//! Decision events out: webhooks checked by an independent receiver (`tests/webhooks/receiver.py`, verifying every
//! signature with the Standard Webhooks reference library from PyPI) over HTTPS, and the change feed. Run when
//! `KYC_TEST_WEBHOOKS_PYTHON` names a Python with `standardwebhooks` installed (`.ci/run` sets it); then any
//! failure fails the test. Both backends; two instances on one PostgreSQL.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{AUDITOR, Backend, DPO, TestApp, fixture_json, postgres_configured};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G";
const FEED: (&str, &str) = ("feed", "feed-secret-for-tests-0123456789abcdef");
const SURNAME: &str = "Kowalski";

fn python() -> Option<String> {
    match std::env::var("KYC_TEST_WEBHOOKS_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!(
                "KYC_TEST_WEBHOOKS_PYTHON not set: the webhook receiver tests are not part of this run"
            );
            None
        }
    }
}

/// The receiver process and what it wrote.
struct Receiver {
    python: String,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Receiver {
    /// Starts on a free port (or `port`), HTTPS with a certificate of its own.
    fn start(python: &str, port: u16) -> Receiver {
        let dir = tempfile::tempdir().expect("dir");
        kyc_receiver::tls::ensure_self_signed(
            &dir.path().join("cert.pem"),
            &dir.path().join("key.pem"),
        )
        .expect("certificate");
        let mut r = Receiver {
            python: python.to_string(),
            dir,
            port,
            child: None,
        };
        r.run();
        r
    }

    fn run(&mut self) {
        let mut child = Command::new(&self.python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/webhooks/receiver.py"
            ))
            .arg(self.port.to_string())
            .arg(SECRET)
            .arg(self.out())
            .arg(self.cert())
            .arg(self.dir.path().join("key.pem"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("receiver output");
        self.port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("receiver did not start: {line}"));
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("received.jsonl")
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn fail(&self, what: &str) {
        std::fs::write(format!("{}.fail", self.out().display()), what).expect("fail file");
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.out())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// Waits until `count` distinct events arrived; panics on a bad signature.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.entries();
            if let Some(bad) = all.iter().find(|e| e.get("bad").is_some()) {
                panic!("a delivery did not verify: {bad}");
            }
            let mut ids: Vec<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() >= count {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} events arrived",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn endpoint_toml(&self, extra: &str) -> String {
        format!(
            "[webhooks]\nretry_base_ms = 100\nretry_max_secs = 1\npoll_ms = 100\n{extra}\n\n\
             [[webhooks.endpoints]]\nname = \"crm\"\nurl = \"https://127.0.0.1:{port}/hooks/kyc?token=x\"\n\
             secret = \"{SECRET}\"\nca_file = \"{ca}\"\nfields = [\"document_type\"]\ntimeout_secs = 5\n",
            port = self.port,
            ca = self.cert().display()
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn add_feed_client(s: &mut kyc_receiver::config::Settings) {
    let hash = kyc_receiver::auth::hash_secret(FEED.1).expect("hash");
    s.auth
        .clients
        .push(kyc_receiver::auth::settings::ClientSettings {
            client_id: FEED.0.into(),
            secret_hash: hash.into(),
            scopes: vec!["kyc:events".into(), "kyc:admin".into()],
            cert_subject: None,
            dev_secret: None,
        });
}

async fn submit(app: &TestApp, fixture: &str, requester_id: &str, user_id: &str) -> String {
    let mut body = fixture_json(fixture);
    body["request_info"]["requester_id"] = json!(requester_id);
    body["request_info"]["user_id"] = json!(user_id);
    let r = app.submit(body.to_string()).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.expect("json");
    answer["reference_number"]
        .as_str()
        .expect("ref")
        .to_string()
}

async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/v1/events?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

fn seqs(entries: &[Value]) -> Vec<i64> {
    entries.iter().filter_map(|e| e["seq"].as_i64()).collect()
}

/// The first arrival of each event, in arrival order.
fn first_arrivals(entries: &[Value]) -> Vec<i64> {
    let mut seen = std::collections::BTreeSet::new();
    seqs(entries)
        .into_iter()
        .filter(|s| seen.insert(*s))
        .collect()
}

/// Decisions, reviews and an erasure each give one signed event per endpoint, in order, with no personal field;
/// the change feed gives the same events in the same order and long-polls for the next.
async fn every_change_arrives_once_in_order(backend: Backend, python: &str) {
    let receiver = Receiver::start(python, 0);
    let app = TestApp::spawn_with(backend, add_feed_client, &receiver.endpoint_toml("")).await;
    let mut references = Vec::new();
    for n in 0..6 {
        let fixture = if n % 3 == 2 {
            "ditto-v3-rejectable.json"
        } else {
            "ditto-v3-small.json"
        };
        references.push(
            submit(
                &app,
                fixture,
                &format!("w-{n}"),
                &format!("u{n}@example.com"),
            )
            .await,
        );
    }
    let reviewer = app.token_for(AUDITOR.0, AUDITOR.1, None).await;
    for reference in &references[..2] {
        let r = app
            .client
            .post(app.url(&format!("/v1/submissions/{reference}/review")))
            .bearer_auth(&reviewer)
            .json(&json!({"decision": "approved", "note": "checked by video call"}))
            .send()
            .await
            .expect("review");
        assert_eq!(r.status(), 200);
    }
    let dpo = app.token_for(DPO.0, DPO.1, None).await;
    let r = app
        .client
        .delete(app.url("/v1/subjects/u1@example.com?reason=request"))
        .bearer_auth(&dpo)
        .send()
        .await
        .expect("erase");
    assert_eq!(r.status(), 200);

    // 6 decisions, 2 reviews, 1 erasure.
    let got = receiver.wait_for(9).await;
    assert_eq!(first_arrivals(&got), (1..=9).collect::<Vec<_>>());
    let kinds: Vec<&str> = got
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "submission.decided").count(),
        6
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "submission.reviewed")
            .count(),
        2
    );
    assert_eq!(kinds.last(), Some(&"subject.erased"));
    let first = &got[0]["data"];
    assert_eq!(first["reference"], references[0].as_str());
    assert_eq!(first["requester_id"], "w-0");
    assert_eq!(first["status"], "pending_review");
    assert_eq!(first["reasons"], json!(["nfc_not_verified"]));
    assert_eq!(first["mapping"], "ditto-v3");
    assert_eq!(
        first["fields"],
        json!({"document_type": "Passport"}),
        "only the chosen field"
    );
    let reviewed = got
        .iter()
        .find(|e| e["type"] == "submission.reviewed")
        .expect("review");
    assert_eq!(reviewed["data"]["status"], "approved");
    assert_eq!(reviewed["data"]["decision"], "pending_review");
    let text = std::fs::read_to_string(receiver.out()).expect("out");
    assert!(!text.contains(SURNAME), "a personal field left the service");

    // The feed: the same events in the same order; the erased subject's events name the pseudonym now.
    let token = app.token_for(FEED.0, FEED.1, None).await;
    let page = feed(&app, &token, "after=0&limit=500").await;
    let fed: Vec<i64> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(fed, (1..=9).collect::<Vec<_>>());
    let ids: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    for (seq, id) in fed.iter().zip(&ids) {
        let delivered = got.iter().find(|e| e["seq"] == *seq).expect("delivered");
        assert_eq!(
            delivered["id"], *id,
            "the feed and the webhook name an event alike"
        );
    }
    let erased = page["events"][1]["data"]["user_id"]
        .as_str()
        .expect("user id");
    assert!(erased.starts_with("erased-"), "{erased}");
    assert_eq!(page["next_after"], 9);
    let page = feed(&app, &token, "after=3&limit=2").await;
    assert_eq!(page["events"][0]["seq"], 4);
    assert_eq!(page["next_after"], 5);

    // A long poll returns as soon as the next event commits.
    let started = Instant::now();
    let (page, _) = tokio::join!(feed(&app, &token, "after=9&wait=10"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        submit(&app, "ditto-v3-small.json", "w-late", "late@example.com").await
    });
    assert_eq!(page["events"][0]["seq"], 10, "{page}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let page = feed(&app, &token, "after=10&wait=1").await;
    assert_eq!(page["events"], json!([]));
    let r = app
        .client
        .get(app.url("/v1/events?after=-1"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("feed");
    assert_eq!(r.status(), 400);
}

/// An endpoint that is down receives the backlog in order once it returns; killed mid-load and restarted, it
/// misses nothing; an event it keeps refusing is dead-lettered, the rest go on, and `webhooks redeliver` sends it.
async fn outages_lose_nothing(backend: Backend, python: &str) {
    let mut receiver = Receiver::start(python, 0);
    receiver.stop();
    let app = TestApp::spawn_with(
        backend,
        add_feed_client,
        &receiver.endpoint_toml("horizon_secs = 2"),
    )
    .await;
    for n in 0..5 {
        submit(
            &app,
            "ditto-v3-small.json",
            &format!("down-{n}"),
            "d@example.com",
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let token = app.token_for(FEED.0, FEED.1, None).await;
    let r: Value = app
        .client
        .get(app.url("/v1/webhooks"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let crm = &r["endpoints"][0];
    assert_eq!(crm["name"], "crm");
    assert!(crm["attempts"].as_i64().unwrap_or(0) >= 1, "{r}");
    assert_eq!(crm["last_error"], "connection failed");
    assert_eq!(
        crm["url"],
        format!("https://127.0.0.1:{}/hooks/kyc", receiver.port),
        "no query"
    );

    receiver.run();
    let got = receiver.wait_for(5).await;
    assert_eq!(first_arrivals(&got), (1..=5).collect::<Vec<_>>());

    // Killed mid-load, restarted: every event arrives (copies are allowed; the id tells them apart).
    let submitting = async {
        for n in 0..12 {
            submit(
                &app,
                "ditto-v3-small.json",
                &format!("mid-{n}"),
                "m@example.com",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    };
    let killing = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        receiver.stop();
        tokio::time::sleep(Duration::from_millis(400)).await;
        receiver.run();
    };
    tokio::join!(submitting, killing);
    let got = receiver.wait_for(17).await;
    assert_eq!(first_arrivals(&got), (1..=17).collect::<Vec<_>>());

    // Event 18 keeps failing: after the horizon it is a dead letter, and event 19 still arrives.
    receiver.fail("18");
    submit(&app, "ditto-v3-small.json", "dead-1", "x@example.com").await;
    submit(&app, "ditto-v3-small.json", "after-dead", "x@example.com").await;
    let got = receiver.wait_for(18).await;
    assert!(seqs(&got).contains(&19) && !seqs(&got).contains(&18));
    let out = Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .env("USER", "operator")
        .arg("--config")
        .arg(app.file("kyc-receiver.toml"))
        .args(["webhooks", "list", "--json"])
        .output()
        .expect("list");
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(listed[0]["dead_letters"][0]["seq"], 18, "{listed}");
    assert_eq!(listed[0]["dead_letters"][0]["last_error"], "HTTP 500");

    receiver.fail("");
    let out = Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .env("USER", "operator")
        .arg("--config")
        .arg(app.file("kyc-receiver.toml"))
        .args(["webhooks", "redeliver", "--endpoint", "crm"])
        .output()
        .expect("redeliver");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = receiver.wait_for(19).await;
    assert!(seqs(&got).contains(&18));
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert!(kinds.contains(&"webhook_redelivery_requested".to_string()));

    // Paused: nothing is sent; resumed: it is.
    let post = |path: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.client
                .post(app.url(&path))
                .bearer_auth(&token)
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("/v1/webhooks/crm/pause".into()).await, 200);
    submit(&app, "ditto-v3-small.json", "paused", "p@example.com").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!seqs(&receiver.entries()).contains(&20));
    assert_eq!(post("/v1/webhooks/crm/resume".into()).await, 200);
    receiver.wait_for(20).await;
    assert_eq!(post("/v1/webhooks/nope/pause".into()).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_once_in_order_sqlite() {
    if let Some(python) = python() {
        every_change_arrives_once_in_order(Backend::Sqlite, &python).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_arrives_once_in_order_postgres() {
    if let Some(python) = python()
        && postgres_configured()
    {
        every_change_arrives_once_in_order(Backend::Postgres, &python).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_lose_nothing_sqlite() {
    if let Some(python) = python() {
        outages_lose_nothing(Backend::Sqlite, &python).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_lose_nothing_postgres() {
    if let Some(python) = python()
        && postgres_configured()
    {
        outages_lose_nothing(Backend::Postgres, &python).await;
    }
}

/// Two instances on one PostgreSQL, both delivering: each event arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_event_once() {
    let Some(python) = python() else { return };
    if !postgres_configured() {
        return;
    }
    let receiver = Receiver::start(&python, 0);
    let toml = receiver.endpoint_toml("");
    let first = TestApp::spawn(Backend::Postgres, &toml).await;
    let url = first.db_url.clone();
    let second = TestApp::spawn_with(Backend::Postgres, move |s| s.database.url = url, &toml).await;
    for n in 0..20 {
        let app = if n % 2 == 0 { &first } else { &second };
        submit(
            app,
            "ditto-v3-small.json",
            &format!("two-{n}"),
            "t@example.com",
        )
        .await;
    }
    let got = receiver.wait_for(20).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_later = receiver.entries();
    assert_eq!(got_later.len(), got.len(), "late copies arrived");
    let mut all = seqs(&got_later);
    assert_eq!(all, (1..=20).collect::<Vec<_>>(), "each once, in order");
    all.dedup();
    assert_eq!(all.len(), 20);
}
