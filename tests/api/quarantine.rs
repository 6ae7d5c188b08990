//! The quarantine: refused bodies of authenticated callers kept sealed, replayed once the mapping or key is
//! fixed (HTTP and the command line), bounded, erased with their subject, traced by requester id; mapping
//! activations recorded; `mappings diff` over what is kept. Both backends.

use std::process::{Command, Output};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, DPO, TestApp, captured_logs, fixture_json, postgres_configured, reference,
};
use kyc_receiver::store::{self, submissions};

/// A client holding both `kyc:admin` and `kyc:read_pii` (the test support's operator has only the first).
const ADMIN_PII: (&str, &str) = ("admin-pii", "admin-pii-secret-for-tests-0123456789");
/// A value of the fixtures that is personal data and must never appear in clear outside sealed blobs.
const SURNAME: &str = "Kowalski";

fn shipped_mapping() -> String {
    std::fs::read_to_string(format!(
        "{}/mappings/ditto-v3.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("shipped mapping")
}

/// The shipped mapping, renamed to take document version `version`.
fn mapping_for_version(version: &str) -> String {
    shipped_mapping()
        .replace(
            "name = \"ditto-v3\"",
            &format!("name = \"ditto-v{version}\""),
        )
        .replace(
            "${kyc_info.document.version} == \"3.0\"",
            &format!("${{kyc_info.document.version}} == \"{version}\""),
        )
}

fn add_admin_pii(s: &mut kyc_receiver::config::Settings) {
    let hash = kyc_receiver::auth::hash_secret(ADMIN_PII.1).expect("hash");
    s.auth
        .clients
        .push(kyc_receiver::auth::settings::ClientSettings {
            client_id: ADMIN_PII.0.into(),
            secret_hash: hash.into(),
            scopes: vec!["kyc:admin".into(), "kyc:read_pii".into()],
            cert_subject: None,
            dev_secret: None,
        });
}

fn body(version: &str, requester_id: &str, user_id: &str) -> String {
    let mut b = fixture_json("ditto-v3-small.json");
    b["kyc_info"]["document"]["version"] = json!(version);
    b["request_info"]["requester_id"] = json!(requester_id);
    b["request_info"]["user_id"] = json!(user_id);
    b.to_string()
}

fn cli(app: &TestApp, config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .env("USER", "operator")
        .env("KYC__STORAGE__KEEP_RAW_PAYLOAD", "true")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {args:?} for {}: {e}", app.base))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, token: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn entries(app: &TestApp) -> Vec<Value> {
    let (status, page) = get(app, "/v1/quarantine", &app.operator_token().await).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

fn kinds(app: &TestApp) -> Vec<String> {
    app.audit_events().into_iter().map(|(k, _, _)| k).collect()
}

/// Nothing of a sealed body is readable in the database: the SQLite files byte for byte, or every text
/// column of PostgreSQL's tables that could hold it.
fn assert_not_in_database(app: &TestApp, needle: &str) {
    match store::DbUrl::parse(&app.db_url).expect("url") {
        store::DbUrl::Sqlite(path) => {
            for file in [path.clone(), format!("{path}-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                        "{needle} in clear in {file}"
                    );
                }
            }
        }
        store::DbUrl::Postgres(_) => {
            #[derive(QueryableByName)]
            struct Hits {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let like = format!("%{needle}%");
            for sql in [
                "SELECT count(*) AS n FROM quarantine WHERE concat_ws('|', error_message, requester_id, key_label, \
                 encode(coalesce(ciphertext, ''::bytea), 'escape')) LIKE $1",
                "SELECT count(*) AS n FROM audit_events WHERE details LIKE $1",
            ] {
                let hits: Hits = diesel::sql_query(sql)
                    .bind::<diesel::sql_types::Text, _>(&like)
                    .get_result(&mut app.db())
                    .expect("scan");
                assert_eq!(hits.n, 0, "{needle} in clear: {sql}");
            }
        }
    }
}

async fn wait_for_mapping(app: &TestApp, name: &str) {
    for _ in 0..100 {
        let (_, r) = get(app, "/readyz", &app.operator_token().await).await;
        let active = r["checks"]["mappings"]["active"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if active.iter().any(|m| m["name"] == name) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mapping {name} never became active");
}

async fn spawn(backend: Backend, mappings: &std::path::Path, extra: &str) -> TestApp {
    let toml = format!(
        "[mappings]\ndir = \"{}\"\nreload = true\npoll_interval_ms = 100\n\n{extra}",
        mappings.display()
    );
    TestApp::spawn_with(
        backend,
        |s| {
            add_admin_pii(s);
            s.storage.keep_raw_payload = true;
        },
        &toml,
    )
    .await
}

/// The story: a new document version has no mapping yet → 422 and quarantined; a replay before the
/// fix fails and says why; `mappings diff` shows what the fix would change; the mapping is added and
/// reloaded (an audited activation, its file kept by hash); `quarantine replay` stores the submission with
/// its original requester id and arrival time; a second replay is a no-op; the trail verifies and the trace
/// tells the whole story.
async fn a_missing_mapping_is_recoverable(backend: Backend) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("ditto-v3.toml"), shipped_mapping()).expect("write");
    let app = spawn(backend, dir.path(), "").await;
    let config = app.file("kyc-receiver.toml");
    let admin = app.token_for(ADMIN_PII.0, ADMIN_PII.1, None).await;

    // One stored record with its raw payload kept, for `mappings diff`.
    let mut kept = fixture_json("ditto-v3-small.json");
    kept["request_info"]["requester_id"] = json!("kept-1");
    assert_eq!(app.submit(kept.to_string()).await.status(), 200);

    let r = app.submit(body("9.9", "q-1", "someone@example.com")).await;
    assert_eq!(r.status(), 422);
    let answer: Value = r.json().await.expect("json");
    assert_eq!(answer["error"], "mapping_failed", "the answer is unchanged");
    let items = entries(&app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let entry = &items[0];
    let id = entry["id"].as_str().expect("id").to_string();
    assert_eq!(entry["error"]["code"], "mapping_failed");
    assert_eq!(entry["error"]["status"], 422);
    assert_eq!(entry["requester_id"], "q-1");
    assert_eq!(entry["client_id"], "upstream");
    assert_eq!(entry["state"], "quarantined");
    assert!(kinds(&app).contains(&"submission_refused".to_string()));
    assert_not_in_database(&app, SURNAME);
    assert_not_in_database(&app, "someone@example.com");

    // The body: admin alone is not enough; with kyc:read_pii it opens, and that read is audited.
    let (status, _) = get(
        &app,
        &format!("/v1/quarantine/{id}?body=true"),
        &app.operator_token().await,
    )
    .await;
    assert_eq!(status, 403);
    let (status, shown) = get(&app, &format!("/v1/quarantine/{id}?body=true"), &admin).await;
    assert_eq!(status, 200, "{shown}");
    assert!(
        shown["body"]["text"]
            .as_str()
            .expect("text")
            .contains(SURNAME)
    );
    assert!(kinds(&app).contains(&"quarantine_body_read".to_string()));

    // Before the fix: the replay fails, the entry stays with the new error, nothing is stored.
    let before = app.submission_count();
    let (status, report) = post(
        &app,
        &format!("/v1/quarantine/{id}/replay"),
        &app.operator_token().await,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["outcome"], "refused");
    assert_eq!(report["error"]["code"], "mapping_failed");
    assert_eq!(app.submission_count(), before);

    // The candidate: version 9.9 handled, and a stricter face-match threshold.
    let candidate = tempfile::tempdir().expect("candidate");
    std::fs::write(
        candidate.path().join("ditto-v3.toml"),
        shipped_mapping().replace("< 1.6", "< 3.0"),
    )
    .expect("write");
    std::fs::write(
        candidate.path().join("ditto-v9.toml"),
        mapping_for_version("9.9"),
    )
    .expect("write");
    let diff = ok(&cli(
        &app,
        &config,
        &[
            "mappings",
            "diff",
            "--candidate",
            candidate.path().to_str().expect("path"),
            "--json",
        ],
    ));
    let diff: Value = serde_json::from_str(&diff).expect("diff json");
    assert_eq!(diff["quarantine_compared"], 1, "{diff}");
    assert_eq!(diff["records_compared"], 1, "{diff}");
    assert_eq!(diff["would_store"], 1, "{diff}");
    let changes = diff["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "{diff}");
    let quarantined = changes.iter().find(|c| c["id"] == id).expect("entry");
    assert_eq!(quarantined["now"]["result"], "mapping_failed");
    // The candidate's 9.9 mapping keeps the shipped threshold: the chip-read rule sends it to review.
    assert_eq!(quarantined["candidate"]["result"], "pending_review");
    let record = changes.iter().find(|c| c["id"] != id).expect("record");
    assert_eq!(record["now"]["result"], "pending_review");
    assert_eq!(record["candidate"]["result"], "rejected");
    assert_eq!(
        record["candidate"]["reasons"],
        json!(["face_mismatch", "nfc_not_verified"])
    );
    assert_eq!(app.submission_count(), before, "diff stores nothing");

    // The fix: a mapping for 9.9 added and picked up by polling.
    std::fs::write(dir.path().join("ditto-v9.toml"), mapping_for_version("9.9")).expect("add");
    wait_for_mapping(&app, "ditto-v9.9").await;
    let (status, dry) = post(
        &app,
        &format!("/v1/quarantine/{id}/replay?dry_run=true"),
        &app.operator_token().await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(dry["outcome"], "would_store", "{dry}");
    assert_eq!(dry["mapping"], "ditto-v9.9");
    assert_eq!(app.submission_count(), before, "a dry run stores nothing");

    let out = ok(&cli(
        &app,
        &config,
        &["quarantine", "replay", &id, "--json"],
    ));
    let reports: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(reports[0]["outcome"], "stored", "{reports}");
    assert_eq!(reports[0]["decision"], "pending_review");
    let stored_ref = reports[0]["reference"].as_str().expect("reference");
    let row = submissions::find(&mut app.db(), &reference(stored_ref))
        .expect("query")
        .expect("stored");
    assert_eq!(row.requester_id, "q-1");
    assert_eq!(row.client_id.as_deref(), Some("upstream"));
    assert_eq!(row.mapping_name, "ditto-v9.9");
    assert_eq!(
        kyc_receiver::store::audit_log::format_timestamp(row.received_at),
        entry["received_at"].as_str().expect("time"),
        "the original arrival time"
    );
    let (_, shown) = get(&app, &format!("/v1/quarantine/{id}"), &admin).await;
    assert_eq!(shown["state"], "replayed");
    assert_eq!(shown["replayed_reference"], stored_ref);

    // Idempotent: a second replay says so and stores nothing.
    let count = app.submission_count();
    let out = ok(&cli(
        &app,
        &config,
        &["quarantine", "replay", &id, "--json"],
    ));
    let again: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(again[0]["outcome"], "already_replayed");
    assert_eq!(again[0]["reference"], stored_ref);
    assert_eq!(app.submission_count(), count);

    // The trail verifies; the activations are in it; the new file is kept by hash.
    let auditor = app
        .token_for(
            crate::helpers::AUDITOR.0,
            crate::helpers::AUDITOR.1,
            Some("kyc:read"),
        )
        .await;
    let (_, verify) = get(&app, "/v1/audit/verify", &auditor).await;
    assert_eq!(verify["ok"], true, "{verify}");
    let activations: Vec<Value> = app
        .all_audit_events()
        .into_iter()
        .filter(|(k, _, _)| k == "mapping_set_activated")
        .map(|(_, _, d)| serde_json::from_str(&d).expect("details"))
        .collect();
    assert_eq!(activations[0]["trigger"], "start-up");
    let last = activations.last().expect("reload");
    assert_eq!(last["trigger"], "poll");
    let files = last["files"].as_array().expect("files");
    let v9 = files
        .iter()
        .find(|f| f["mapping"] == "ditto-v9.9")
        .expect("v9");
    assert_eq!(v9["new"], true);
    let shown = ok(&cli(
        &app,
        &config,
        &["mappings", "show", "--hash", &row.mapping_hash[..12]],
    ));
    assert_eq!(shown, mapping_for_version("9.9"));
    let (status, version) = get(
        &app,
        &format!("/v1/mappings/{}", row.mapping_hash),
        &auditor,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(version["content"], mapping_for_version("9.9").as_str());
    assert_eq!(version["name"], "ditto-v9.9");

    // The story of q-1, over HTTP and on the command line.
    let (_, story) = get(&app, "/v1/trace?requester_id=q-1", &auditor).await;
    let steps: Vec<&str> = story["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    for kind in [
        "submission_refused",
        "quarantine_replay_failed",
        "submission_stored",
        "quarantine_replayed",
    ] {
        assert!(steps.contains(&kind), "{kind} missing from {steps:?}");
    }
    let stored_event = story["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "submission_stored")
        .expect("stored");
    assert_eq!(stored_event["details"]["quarantine_id"], id.as_str());
    assert_eq!(story["records"][0]["reference"], stored_ref);
    assert_eq!(story["quarantine"][0]["state"], "replayed");
    let printed = ok(&cli(&app, &config, &["trace", "--requester-id", "q-1"]));
    assert!(
        printed.contains("quarantine_replayed") && printed.contains(stored_ref),
        "{printed}"
    );

    // Found by the new filters too.
    let (_, page) = get(&app, "/v1/submissions?requester_id=q-1", &auditor).await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
    let (_, page) = get(&app, "/v1/submissions?document_number=xb2215279", &auditor).await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2, "{page}");

    for line in captured_logs() {
        assert!(!line.contains(SURNAME), "personal data in the log: {line}");
        assert!(!line.contains("someone@example.com"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_mapping_is_recoverable_sqlite() {
    a_missing_mapping_is_recoverable(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_mapping_is_recoverable_postgres() {
    if postgres_configured() {
        a_missing_mapping_is_recoverable(Backend::Postgres).await;
    }
}

const OLD_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn gcm_block(key: &str) -> String {
    format!(
        "[encryption.request]\nenable = true\ncipherSpec = \"AES/GCM/NoPadding\"\nkeyEncoding = \"base64\"\n\
         iv = \"prefix\"\nkey = \"{key}\"\n"
    )
}

/// A body sealed under a key the service no longer lists fails to decrypt (400) and is quarantined as
/// received; once the old key is listed again as a previous key, the replay stores it.
async fn a_decrypt_failure_after_rotation_is_replayed_with_the_old_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, add_admin_pii, &gcm_block(NEW_KEY)).await;
    let settings: kyc_crypto::ProfileSettings = toml_profile(OLD_KEY);
    let (old, _) = kyc_crypto::CipherProfile::from_settings(&settings, "old").expect("old profile");
    let sealed = old
        .seal(body("3.0", "enc-1", "enc@example.com").as_bytes())
        .expect("seal");
    let r = app
        .post_kyc()
        .header("Content-Type", "text/plain")
        .body(sealed.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let items = entries(&app).await;
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].as_str().expect("id").to_string();
    assert_eq!(items[0]["error"]["code"], "decrypt_failed");
    assert_eq!(items[0]["key_label"], "none of 1 key(s)");
    assert_eq!(
        items[0]["requester_id"],
        Value::Null,
        "unreadable before decryption"
    );

    // An admin sees the body as received (it does not open with today's keys).
    let admin = app.token_for(ADMIN_PII.0, ADMIN_PII.1, None).await;
    let (_, shown) = get(&app, &format!("/v1/quarantine/{id}?body=true"), &admin).await;
    assert_eq!(shown["body"]["form"], "received_text");
    assert_eq!(shown["body"]["text"], sealed.as_str());

    let (_, report) = post(
        &app,
        &format!("/v1/quarantine/{id}/replay"),
        &app.operator_token().await,
    )
    .await;
    assert_eq!(report["outcome"], "refused");
    assert_eq!(report["error"]["code"], "decrypt_failed");

    // The old key listed again (the config's last table is [encryption.request]).
    let config = app.file("kyc-receiver.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "previous_keys = [{{ key = \"{OLD_KEY}\", label = \"2026-q3\" }}]\n"
    ));
    let rotated = app.file("rotated.toml");
    std::fs::write(&rotated, text).expect("write");
    let out = ok(&cli(
        &app,
        &rotated,
        &["quarantine", "replay", "--all", "--json"],
    ));
    let reports: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(reports.as_array().expect("reports").len(), 1);
    assert_eq!(reports[0]["outcome"], "stored", "{reports}");
    let row = submissions::find(
        &mut app.db(),
        &reference(reports[0]["reference"].as_str().expect("reference")),
    )
    .expect("query")
    .expect("stored");
    assert_eq!(row.requester_id, "enc-1");
    assert_eq!(row.decryption_key.as_deref(), Some("previous[0]:2026-q3"));
    // The entry's own requester id was unknown; the trail links it to the record all the same.
    let (_, shown) = get(&app, &format!("/v1/quarantine/{id}"), &admin).await;
    assert_eq!(shown["state"], "replayed");
}

fn toml_profile(key: &str) -> kyc_crypto::ProfileSettings {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        encryption: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        request: kyc_crypto::ProfileSettings,
    }
    let w: Wrapper = toml::from_str(&gcm_block(key)).expect("profile");
    w.encryption.request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decrypt_failure_after_rotation_is_replayed_with_the_old_key_sqlite() {
    a_decrypt_failure_after_rotation_is_replayed_with_the_old_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decrypt_failure_after_rotation_is_replayed_with_the_old_key_postgres() {
    if postgres_configured() {
        a_decrypt_failure_after_rotation_is_replayed_with_the_old_key(Backend::Postgres).await;
    }
}

/// The quarantine holds at most `max_bytes`: the oldest body goes, with an audit event, and the submission
/// path is not affected. Unauthenticated requests are never kept; conflicting retries are.
async fn the_quarantine_is_bounded_and_keeps_conflicts_not_strangers(backend: Backend) {
    let size = body("9.9", "b-1", "u@example.com").len();
    let extra = format!("[quarantine]\nmax_bytes = {}\n", size * 2 + size / 2);
    let app = TestApp::spawn(backend, &extra).await;
    for n in 1..=3 {
        let r = app
            .submit(body("9.9", &format!("b-{n}"), "u@example.com"))
            .await;
        assert_eq!(r.status(), 422);
    }
    let items = entries(&app).await;
    let requesters: Vec<&str> = items
        .iter()
        .map(|e| e["requester_id"].as_str().expect("requester"))
        .collect();
    assert_eq!(requesters, ["b-2", "b-3"], "the oldest went first");
    let evicted: Vec<Value> = app
        .audit_events()
        .into_iter()
        .filter(|(k, _, _)| k == "quarantine_evicted")
        .map(|(_, _, d)| serde_json::from_str(&d).expect("details"))
        .collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0]["ids"].as_array().expect("ids").len(), 1);

    let r = app
        .client
        .post(app.url("/kyc"))
        .header("Content-Type", "application/json")
        .body(body("9.9", "stranger", "x@example.com"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);

    let mut first = fixture_json("ditto-v3-small.json");
    first["request_info"]["requester_id"] = json!("c-1");
    assert_eq!(app.submit(first.to_string()).await.status(), 200);
    first["kyc_info"]["liveness_check"]["video"]["liveness_result"]["score"] = json!(10);
    assert_eq!(app.submit(first.to_string()).await.status(), 409);
    let items = entries(&app).await;
    assert!(
        items.iter().all(|e| e["requester_id"] != "stranger"),
        "{items:?}"
    );
    let conflict = items
        .iter()
        .find(|e| e["requester_id"] == "c-1")
        .expect("the conflicting retry is kept");
    assert_eq!(conflict["error"]["code"], "duplicate_conflict");
    assert!(kinds(&app).contains(&"submission_quarantined".to_string()));

    // Dropped on request, with an audit event; a second drop is 404.
    let id = conflict["id"].as_str().expect("id");
    let token = app.operator_token().await;
    let drop = |id: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.client
                .delete(app.url(&format!("/v1/quarantine/{id}")))
                .bearer_auth(&token)
                .send()
                .await
                .expect("delete")
                .status()
                .as_u16()
        }
    };
    assert_eq!(drop(id.to_string()).await, 200);
    assert_eq!(drop(id.to_string()).await, 404);
    assert!(kinds(&app).contains(&"quarantine_dropped".to_string()));

    // Without kyc:admin, nothing.
    let (status, _) = get(&app, "/v1/quarantine", &app.token).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_is_bounded_and_keeps_conflicts_not_strangers_sqlite() {
    the_quarantine_is_bounded_and_keeps_conflicts_not_strangers(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_is_bounded_and_keeps_conflicts_not_strangers_postgres() {
    if postgres_configured() {
        the_quarantine_is_bounded_and_keeps_conflicts_not_strangers(Backend::Postgres).await;
    }
}

/// Erasure of a subject removes their quarantine entries (by user id, or by a requester id of their records),
/// and no one else's.
async fn erasure_covers_the_quarantine(backend: Backend) {
    let app = TestApp::spawn(backend, "").await;
    let subject = "erase-me@example.com";
    let mut stored = fixture_json("ditto-v3-small.json");
    stored["request_info"]["requester_id"] = json!("e-stored");
    stored["request_info"]["user_id"] = json!(subject);
    assert_eq!(app.submit(stored.to_string()).await.status(), 200);
    assert_eq!(
        app.submit(body("9.9", "e-bad", subject)).await.status(),
        422
    );
    // The same requester id with another payload: kept as a conflict, found through the record.
    stored["kyc_info"]["liveness_check"]["video"]["liveness_result"]["score"] = json!(10);
    assert_eq!(app.submit(stored.to_string()).await.status(), 409);
    assert_eq!(
        app.submit(body("9.9", "other", "someone-else@example.com"))
            .await
            .status(),
        422
    );
    assert_eq!(entries(&app).await.len(), 3);

    let dpo = app.token_for(DPO.0, DPO.1, None).await;
    let r = app
        .client
        .delete(app.url(&format!("/v1/subjects/{subject}?reason=test")))
        .bearer_auth(&dpo)
        .send()
        .await
        .expect("erase");
    assert_eq!(r.status(), 200);
    let receipt: Value = r.json().await.expect("json");
    assert_eq!(receipt["quarantine_entries"], 2, "{receipt}");
    let left = entries(&app).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["requester_id"], "other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_covers_the_quarantine_sqlite() {
    erasure_covers_the_quarantine(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_covers_the_quarantine_postgres() {
    if postgres_configured() {
        erasure_covers_the_quarantine(Backend::Postgres).await;
    }
}
