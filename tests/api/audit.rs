//! Tamper evidence: change, delete or swap audit events, or change a submission row directly in the
//! database, and `audit verify` (library and CLI) names what was broken.

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, fixture, fixture_json};
use kyc_receiver::audit::{self, VerifyReport};

/// Five events: three stored, one replayed, one refused.
async fn populate(app: &TestApp) -> Vec<String> {
    let mut references = Vec::new();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        let answer: serde_json::Value = app.submit(fixture(name)).await.json().await.expect("json");
        references.push(
            answer["reference_number"]
                .as_str()
                .expect("ref")
                .to_string(),
        );
    }
    assert_eq!(
        app.submit(fixture("ditto-v3-small.json")).await.status(),
        200
    );
    assert_eq!(app.submit("{").await.status(), 400);
    references
}

fn verify(app: &TestApp) -> VerifyReport {
    audit::verify_with_key(
        &mut app.db(),
        Some(&crate::helpers::protection().audit_key()),
    )
    .expect("verify")
}

fn cli_verify(app: &TestApp) -> (bool, String) {
    // The app's own configuration: the audit key comes from its storage keys.
    cli(app, &["audit", "verify"])
}

fn tamper(app: &TestApp, sql: &str) {
    app.db().batch_execute(sql).expect("tamper");
}

fn assert_broken_at(app: &TestApp, seq: i64, kind: &str) {
    let report = verify(app);
    assert!(!report.ok);
    let problem = report.first_broken_event.expect("a problem");
    assert_eq!(
        (problem.seq, problem.kind),
        (seq, kind),
        "{}",
        problem.detail
    );
    let (ok, text) = cli_verify(app);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("event {seq}")) && text.contains(kind),
        "{text}"
    );
}

async fn an_untouched_trail_verifies(app: &TestApp) {
    populate(app).await;
    let report = verify(app);
    assert!(report.ok, "{report:?}");
    // The start-up's mapping activation, three stored submissions, one replay and one refusal.
    assert_eq!((report.events_checked, report.submissions_checked), (6, 3));
    let (ok, text) = cli_verify(app);
    assert!(ok && text.contains("audit trail intact"), "{text}");
}
both_backends!(an_untouched_trail_verifies);

async fn a_changed_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(
        app,
        "UPDATE audit_events SET details = '{\"status\":\"approved\"}' WHERE seq = 2",
    );
    assert_broken_at(app, 2, "content_changed");
}
both_backends!(a_changed_event_is_named);

async fn a_deleted_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(app, "DELETE FROM audit_events WHERE seq = 3");
    assert_broken_at(app, 3, "missing");
}
both_backends!(a_deleted_event_is_named);

async fn a_deleted_last_event_is_named(app: &TestApp) {
    populate(app).await;
    tamper(app, "DELETE FROM audit_events WHERE seq = 6");
    assert_broken_at(app, 6, "truncated");
}
both_backends!(a_deleted_last_event_is_named);

async fn swapped_events_are_named(app: &TestApp) {
    populate(app).await;
    tamper(
        app,
        "UPDATE audit_events SET seq = -2 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE seq = -2;",
    );
    assert_broken_at(app, 2, "order_changed");
}
both_backends!(swapped_events_are_named);

async fn a_changed_submission_row_is_named(app: &TestApp) {
    let references = populate(app).await;
    tamper(
        app,
        &format!(
            "UPDATE submissions SET status = 'approved' WHERE reference = '{}'",
            references[1]
        ),
    );
    let report = verify(app);
    assert!(!report.ok);
    assert!(report.first_broken_event.is_none());
    assert_eq!(report.changed_submissions, vec![references[1].clone()]);
    let (ok, text) = cli_verify(app);
    assert!(!ok && text.contains(&references[1]), "{text}");
}
both_backends!(a_changed_submission_row_is_named);

/// A rejected record edited to approved with its plain SHA-256 recomputed matches its own hash, but not the
/// hash its `submission_stored` event recorded.
async fn a_row_rewritten_with_a_recomputed_hash_contradicts_its_history(app: &TestApp) {
    let references = populate(app).await;
    let mut row = kyc_receiver::store::submissions::find(
        &mut app.db(),
        &crate::helpers::reference(&references[1]),
    )
    .expect("query")
    .expect("row");
    assert_eq!(row.status, "rejected");
    row.decision = kyc_receiver::decision::Status::Approved;
    row.status = kyc_receiver::decision::Status::Approved;
    row.content_hash = row.compute_content_hash();
    tamper(
        app,
        &format!(
            "UPDATE submissions SET decision = 'approved', status = 'approved', content_hash = '{}' \
             WHERE reference = '{}'",
            row.content_hash, references[1]
        ),
    );
    let report = verify(app);
    assert!(!report.ok, "{report:?}");
    assert!(report.first_broken_event.is_none());
    assert!(
        report.changed_submissions.is_empty(),
        "its own hash matches"
    );
    assert_eq!(report.record_problems.len(), 1);
    assert_eq!(report.record_problems[0].reference.as_str(), references[1]);
    assert_eq!(report.record_problems[0].kind, "row_mismatch");
    let (ok, text) = cli_verify(app);
    assert!(
        !ok && text.contains(&references[1]) && text.contains("row_mismatch"),
        "{text}"
    );

    // A row inserted behind the trail's back has no history at all.
    let mut forged = row.clone();
    forged.reference = crate::helpers::reference("KYC-forged");
    forged.requester_id = "forged".into();
    forged.content_hash = forged.compute_content_hash();
    tamper(
        app,
        &format!(
            "INSERT INTO submissions SELECT 'KYC-forged', 'forged', user_id, app_id, client_id, received_at, \
             document_version, document_status, mapping_name, mapping_hash, decision, status, reasons, fields, \
             pii_names, pii_key_id, pii_nonce, pii_ciphertext, document_number_hmac, erased_at, payload_digest, \
             payload_bytes, decryption_key, response_body, '{}' FROM submissions WHERE reference = '{}'",
            forged.content_hash, references[1]
        ),
    );
    let report = verify(app);
    assert!(
        report
            .record_problems
            .iter()
            .any(|p| p.reference.as_str() == "KYC-forged" && p.detail.contains("no audit event")),
        "{report:?}"
    );
}
both_backends!(a_row_rewritten_with_a_recomputed_hash_contradicts_its_history);

async fn concurrent_writers_keep_one_unbroken_chain(app: &TestApp) {
    let template = fixture_json("ditto-v3-small.json");
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let mut body = template.clone();
            body["request_info"]["requester_id"] = json!(format!("chain-{}", i % 45));
            let (client, url, token) = (app.client.clone(), app.url("/kyc"), app.token.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(&token)
                    .body(body.to_string())
                    .send()
                    .await
                    .map(|r| r.status())
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("join").expect("send").as_u16(), 200);
    }
    let report = verify(app);
    assert!(report.ok, "{report:?}");
    assert_eq!(
        (report.events_checked, report.submissions_checked),
        (61, 45)
    );
}
both_backends!(concurrent_writers_keep_one_unbroken_chain);

fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .arg("--config")
        .arg(app.file("kyc-receiver.toml"))
        .args(args)
        .output()
        .expect("run");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn verify_heads(app: &TestApp) -> (bool, String) {
    let heads = app.file("audit-heads.jsonl");
    cli(
        app,
        &[
            "audit",
            "verify",
            "--json",
            "--heads",
            heads.to_str().expect("path"),
        ],
    )
}

/// Rewrites every event from `from` on with recomputed plain SHA-256 hashes (version 1), as a database writer
/// without the audit key could.
fn rechain(app: &TestApp, from: i64) {
    use kyc_receiver::store::audit_log::{event_hash, events_after};
    let mut db = app.db();
    let events = events_after(&mut db, 0, 10_000).expect("events");
    let mut prev = events
        .iter()
        .find(|e| e.seq == from - 1)
        .map_or_else(|| audit::GENESIS_HASH.to_string(), |e| e.hash.clone());
    for mut e in events.into_iter().filter(|e| e.seq >= from) {
        e.prev_hash = prev.clone();
        e.hash_version = 1;
        e.hash_key = None;
        e.hash = event_hash(&e);
        tamper(
            app,
            &format!(
                "UPDATE audit_events SET prev_hash = '{}', hash = '{}', hash_version = 1, hash_key = NULL \
                 WHERE seq = {}",
                e.prev_hash, e.hash, e.seq
            ),
        );
        prev = e.hash;
    }
    tamper(app, &format!("UPDATE audit_head SET hash = '{prev}'"));
}

/// Signed heads kept outside the database: a chain rewritten with recomputed hashes passes the plain walk but
/// contradicts a signed head; a cut tail and an old backup are reported against the newest head.
async fn signed_heads_catch_rewrites_truncation_and_rollback(app: &TestApp) {
    populate(app).await;
    let (ok, text) = cli(app, &["audit", "sign-head"]);
    assert!(ok, "{text}");
    let backup = app.file("backup.sqlite");
    let sqlite = app.db_url.starts_with("sqlite://");
    if sqlite {
        tamper(app, &format!("VACUUM INTO '{}'", backup.display()));
    }
    populate(app).await;
    let (ok, text) = cli(app, &["audit", "sign-head"]);
    assert!(ok, "{text}");
    let (ok, text) = verify_heads(app);
    assert!(ok, "{text}");
    let report: serde_json::Value = serde_json::from_str(
        text.lines()
            .take_while(|l| !l.starts_with("audit trail"))
            .collect::<Vec<_>>()
            .join("\n")
            .as_str(),
    )
    .expect("json report");
    assert!(
        report["heads_checked"].as_u64().unwrap_or(0) >= 2,
        "{report}"
    );

    // The head over HTTP: signed, with the key that verifies it.
    let token = app
        .token_for(
            crate::helpers::AUDITOR.0,
            crate::helpers::AUDITOR.1,
            Some("kyc:read"),
        )
        .await;
    let answer: serde_json::Value = app
        .client
        .get(app.url("/v1/audit/head"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head")
        .json()
        .await
        .expect("json");
    let head: kyc_receiver::audit::heads::SignedHead =
        serde_json::from_value(answer["head"].clone()).expect("head");
    let public = openssl::pkey::PKey::public_key_from_pem(
        answer["public_key_pem"].as_str().expect("pem").as_bytes(),
    )
    .expect("key");
    assert!(kyc_receiver::audit::heads::signature_ok(&head, &public));
    let http: serde_json::Value = app
        .client
        .get(app.url("/v1/audit/verify"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    assert_eq!(http["ok"], true, "{http}");
    assert!(http["heads_checked"].as_u64().unwrap_or(0) >= 2, "{http}");

    // (d) An older copy of the database: it lacks the events the newest head records.
    if sqlite {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
            .env_remove("KYC_CONFIG")
            .env(
                "KYC__DATABASE__URL",
                format!("sqlite://{}", backup.display()),
            )
            .arg("--config")
            .arg(app.file("kyc-receiver.toml"))
            .args(["audit", "verify", "--heads"])
            .arg(app.file("audit-heads.jsonl"))
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            text.contains("truncated") && text.contains("older copy"),
            "{text}"
        );
    }

    // (c) The last events deleted and the head moved back.
    let (last, _) = kyc_receiver::store::audit_log::head(&mut app.db()).expect("head");
    tamper(
        app,
        &format!("DELETE FROM audit_events WHERE seq > {}", last - 2),
    );
    let kept: String = {
        use kyc_receiver::store::audit_log::events_after;
        events_after(&mut app.db(), last - 3, 1).expect("event")[0]
            .hash
            .clone()
    };
    tamper(
        app,
        &format!("UPDATE audit_head SET seq = {}, hash = '{kept}'", last - 2),
    );
    let (ok, text) = verify_heads(app);
    assert!(!ok && text.contains("(truncated)"), "{text}");

    // (b) An event edited and every later hash recomputed without the key: the keyed chain shows it.
    tamper(
        app,
        "UPDATE audit_events SET details = '{\"status\":\"approved\"}' WHERE seq = 3",
    );
    rechain(app, 3);
    let problem = verify(app).first_broken_event.expect("seen with the key");
    assert_eq!(
        (problem.seq, problem.kind),
        (3, "content_changed"),
        "{}",
        problem.detail
    );
    // The whole chain rewritten with plain hashes leaves no keyed event to compare: the signed heads catch it.
    rechain(app, 1);
    assert!(
        verify(app).first_broken_event.is_none(),
        "no keyed event is left"
    );
    let (ok, text) = verify_heads(app);
    assert!(!ok && text.contains("head_contradicted"), "{text}");
}
both_backends!(signed_heads_catch_rewrites_truncation_and_rollback);

fn python() -> String {
    std::env::var("KYC_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs the independent verifier (`tools/verify_audit.py`, standard library only) on an export.
fn independent(export: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/verify_audit.py"
        ))
        .arg(export)
        .args(extra)
        .output()
        .expect("python3 runs the independent verifier");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn lines_of(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("export")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn write_lines(path: &std::path::Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).expect("write");
}

/// Plain SHA-256 of an exported event, as docs/audit-format.md states it (what a writer without the key can do).
fn plain_hash(e: &serde_json::Value) -> String {
    use sha2::Digest;
    let canonical = json!([
        e["seq"],
        e["occurred_at"],
        e["kind"],
        e["actor"],
        e["reference"],
        e["requester_id"],
        e["details"],
        e["prev_hash"]
    ]);
    hex::encode(sha2::Sha256::digest(canonical.to_string().as_bytes()))
}

/// An export checked by a verifier we did not write against our code: the untouched trail passes, each tampered
/// copy fails.
async fn an_independent_verifier_passes_the_export_and_fails_tampered_copies(app: &TestApp) {
    populate(app).await;
    let (ok, text) = cli(app, &["audit", "sign-head"]);
    assert!(ok, "{text}");
    let export = app.file("export.jsonl");
    let (ok, text) = cli(
        app,
        &[
            "audit",
            "export",
            "--output",
            export.to_str().expect("path"),
        ],
    );
    assert!(ok, "{text}");
    let token = app
        .token_for(
            crate::helpers::AUDITOR.0,
            crate::helpers::AUDITOR.1,
            Some("kyc:read"),
        )
        .await;
    let over_http = app
        .client
        .get(app.url("/v1/audit/export"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    assert_eq!(over_http, std::fs::read_to_string(&export).expect("export"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .arg("--config")
        .arg(app.file("kyc-receiver.toml"))
        .args(["audit", "mac-key"])
        .output()
        .expect("mac key");
    let mac_key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("a key")
        .to_string();
    let (ok, pem) = cli(app, &["audit", "public-key"]);
    assert!(ok, "{pem}");
    let public = app.file("audit-head.pub.pem");
    std::fs::write(&public, pem).expect("pem");
    let heads = app.file("audit-heads.jsonl");
    let full = [
        "--mac-key",
        &mac_key,
        "--heads",
        heads.to_str().expect("path"),
        "--public-key",
        public.to_str().expect("path"),
    ];
    let (ok, text) = independent(&export, &full);
    assert!(ok && text.starts_with("ok:"), "{text}");
    let (ok, text) = independent(&export, &[]);
    assert!(ok && text.contains("not recomputed"), "{text}");

    let lines = lines_of(&export);
    let tampered = app.file("tampered.jsonl");
    // An event's content changed.
    let mut copy = lines.clone();
    copy[2]["details"] = json!("{\"status\":\"approved\"}");
    write_lines(&tampered, &copy);
    let (ok, text) = independent(&tampered, &full);
    assert!(!ok && text.contains("content_changed"), "{text}");
    // An event removed.
    let mut copy = lines.clone();
    copy.remove(3);
    write_lines(&tampered, &copy);
    let (ok, text) = independent(&tampered, &full);
    assert!(!ok && text.contains("missing"), "{text}");
    // The whole chain rewritten with plain hashes: consistent in itself, but not with the signed head.
    let mut copy = lines.clone();
    let mut prev = audit::GENESIS_HASH.to_string();
    for line in copy.iter_mut().filter(|l| l["type"] == "event") {
        line["details"] = json!("{}");
        line["prev_hash"] = json!(prev);
        line["hash_version"] = json!(1);
        line["hash_key"] = serde_json::Value::Null;
        line["hash"] = json!(plain_hash(line));
        prev = line["hash"].as_str().expect("hash").to_string();
    }
    if let Some(head) = copy.iter_mut().find(|l| l["type"] == "head") {
        head["hash"] = json!(prev);
    }
    write_lines(&tampered, &copy);
    let (ok, text) = independent(&tampered, &full);
    assert!(!ok && text.contains("head_contradicted"), "{text}");
    // The tail cut off.
    let mut copy = lines.clone();
    let head_at = copy.len() - 1;
    copy.remove(head_at);
    let last = copy.pop().expect("last event");
    copy.push(
        json!({"type": "head", "seq": last["seq"].as_i64().expect("seq") - 1,
        "hash": last["prev_hash"]}),
    );
    write_lines(&tampered, &copy);
    let (ok, text) = independent(&tampered, &full);
    assert!(!ok && text.contains("truncated"), "{text}");
}
both_backends!(an_independent_verifier_passes_the_export_and_fails_tampered_copies);

const AUDIT_A: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const AUDIT_B: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

fn audit_keys(s: &mut kyc_receiver::config::Settings, keys: &[(&str, &str)], active: &str) {
    s.storage.audit_keys = keys
        .iter()
        .map(|(id, key)| kyc_receiver::config::DataKeySettings {
            id: (*id).into(),
            key: (*key).to_string().into(),
        })
        .collect();
    s.storage.audit_active_key_id = Some(active.into());
}

fn raw(b64: &str) -> [u8; 32] {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

/// A configured audit key rotated: events keep the key they were MAC'd with and verify while it stays listed;
/// without it they are reported, naming the key.
async fn a_rotated_audit_key_keeps_earlier_events_verifying(backend: Backend) {
    use kyc_receiver::store::audit_log::AuditKey;
    let first = TestApp::spawn_with(backend, |s| audit_keys(s, &[("a1", AUDIT_A)], "a1"), "").await;
    assert_eq!(
        first.submit(fixture("ditto-v3-small.json")).await.status(),
        200
    );
    first.stop_server().await;
    let url = first.db_url.clone();
    let second = TestApp::spawn_with(
        backend,
        move |s| {
            s.database.url = url;
            audit_keys(s, &[("a1", AUDIT_A), ("b2", AUDIT_B)], "b2");
        },
        "",
    )
    .await;
    assert_eq!(
        second.submit(fixture("ditto-v3-full.json")).await.status(),
        200
    );
    let checkpoint = crate::helpers::protection().checkpoint_key();
    let both = AuditKey::configured(
        ("b2".into(), raw(AUDIT_B)),
        vec![("a1".into(), raw(AUDIT_A))],
        checkpoint,
    );
    let report = audit::verify_with_key(&mut first.db(), Some(&both)).expect("verify");
    assert!(report.ok, "{report:?}");
    let ids: Vec<Option<String>> = {
        use diesel::prelude::*;
        kyc_receiver::store::audit_events::table
            .select(kyc_receiver::store::audit_events::hash_key)
            .load(&mut first.db())
            .expect("keys")
    };
    assert!(
        ids.contains(&Some("a1".into())) && ids.contains(&Some("b2".into())),
        "{ids:?}"
    );
    let only_new = AuditKey::configured(("b2".into(), raw(AUDIT_B)), vec![], checkpoint);
    let problem = audit::verify_with_key(&mut first.db(), Some(&only_new))
        .expect("verify")
        .first_broken_event
        .expect("a problem");
    assert!(problem.detail.contains("a1"), "{}", problem.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_audit_key_keeps_earlier_events_verifying_sqlite() {
    a_rotated_audit_key_keeps_earlier_events_verifying(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_audit_key_keeps_earlier_events_verifying_postgres() {
    if crate::helpers::postgres_configured() {
        a_rotated_audit_key_keeps_earlier_events_verifying(Backend::Postgres).await;
    }
}
