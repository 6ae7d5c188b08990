//! Request decryption and response encryption through the real endpoint. The vectors were made by independent
//! implementations (pyca/cryptography, joserfc); responses are opened here with openssl directly, not with the
//! service's own crypto code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kyc_crypto::ProfileSettings;
use kyc_receiver::store::submissions;
use openssl::symm::{Cipher, decrypt, decrypt_aead};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, fixture, postgres_configured};

fn vectors() -> Vec<Value> {
    let all: Value = serde_json::from_slice(&fixture("encryption-vectors.json")).expect("vectors");
    all["cases"].as_array().expect("cases").clone()
}

/// The upstream's configuration block for a vector, as an admin would paste it (camelCase names).
fn profile_for(case: &Value) -> ProfileSettings {
    let mut block = json!({
        "enable": true,
        "algorithm": "AES",
        "cipherSpec": case["cipherSpec"],
        "key": case["key"],
        "keyEncoding": case["keyEncoding"],
        "blockSizeBytes": case["blockSizeBytes"],
        "iv": case["iv"],
    });
    if !case["ivParamSpec"].is_null() {
        block["ivParamSpec"] = case["ivParamSpec"].clone();
        block["ivEncoding"] = case["ivEncoding"].clone();
    }
    if case["cipherSpec"]
        .as_str()
        .is_some_and(|s| s.contains("ECB"))
    {
        block["allowInsecure"] = json!(true);
    }
    serde_json::from_value(block).expect("profile settings")
}

async fn spawn_with_request_profile(backend: Backend, profile: ProfileSettings) -> TestApp {
    TestApp::spawn_with(backend, move |s| s.encryption.request = profile, "").await
}

async fn every_vector_through_http(backend: Backend) {
    let cases = vectors();
    assert_eq!(cases.len(), 46);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let app = spawn_with_request_profile(backend, profile_for(&case)).await;
        let body = case["body"].as_str().expect("body").to_string();
        let r = app.submit(body).await;
        if case["expect"] == "ok" {
            assert_eq!(r.status(), 200, "{name}");
            let answer: Value = r.json().await.expect("json");
            let reference = answer["reference_number"].as_str().expect("reference");
            let row = submissions::find(&mut app.db(), &crate::helpers::reference(reference))
                .expect("query")
                .expect("row");
            assert_eq!(
                row.payload_digest,
                case["plaintextSha256"].as_str().expect("sha"),
                "{name}"
            );
            assert_eq!(row.decryption_key.as_deref(), Some("current"), "{name}");
        } else {
            assert_eq!(r.status(), 400, "{name}");
            let err: Value = r.json().await.expect("json");
            assert_eq!(err["error"], "decrypt_failed", "{name}");
            assert_eq!(
                err["message"], "the request body could not be decrypted",
                "{name}"
            );
            assert_eq!(app.submission_count(), 0, "{name}");
            let events = app.audit_events();
            assert_eq!(events.len(), 1, "{name}");
            assert_eq!(events[0].0, "submission_refused");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_every_vector_through_http() {
    every_vector_through_http(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_vector_through_http() {
    if postgres_configured() {
        every_vector_through_http(Backend::Postgres).await;
    }
}

fn case(name: &str) -> Value {
    vectors()
        .into_iter()
        .find(|c| c["name"] == name)
        .expect("vector by name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_unless_allowed() {
    let mut profile = profile_for(&case("AES-GCM-NoPadding-256-base64-iv-prefix"));
    let app = spawn_with_request_profile(Backend::Sqlite, profile.clone()).await;
    let r = app.submit(fixture("ditto-v3-small.json")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "decrypt_failed"
    );
    drop(app);
    profile.allow_plaintext = true;
    let app = spawn_with_request_profile(Backend::Sqlite, profile).await;
    let r = app.submit(fixture("ditto-v3-small.json")).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_key_opens_during_overlap_and_not_after() {
    let old = case("AES-CBC-PKCS5Padding-256-base64");
    let mut profile = profile_for(&old);
    let mut with_previous: Value = json!({
        "enable": true, "cipherSpec": "AES/CBC/PKCS5Padding",
        "key": "d34+csDN6lJW3m76fj4FFxXVEFaW4n7vZ7kAOQaKb3B=", "keyEncoding": "base64",
        "ivParamSpec": old["ivParamSpec"], "ivEncoding": "base64",
        "previousKeys": [{"label": "2026-q3", "key": old["key"]}],
    });
    // A fresh current key that differs from the vector's.
    with_previous["key"] = json!(B64.encode([7u8; 32]));
    let rotated: ProfileSettings = serde_json::from_value(with_previous).expect("settings");
    let app = spawn_with_request_profile(Backend::Sqlite, rotated).await;
    let r = app
        .submit(old["body"].as_str().expect("body").to_string())
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.expect("json");
    let row = submissions::find(
        &mut app.db(),
        &crate::helpers::reference(answer["reference_number"].as_str().expect("ref")),
    )
    .expect("query")
    .expect("row");
    let label = row.decryption_key.expect("label");
    assert!(
        label.starts_with("previous") && label.contains("2026-q3"),
        "{label}"
    );
    assert!(
        app.audit_events()[0].2.contains("2026-q3"),
        "audit event names the key label"
    );
    drop(app);

    profile.key = Some(B64.encode([7u8; 32]).into());
    let app = spawn_with_request_profile(Backend::Sqlite, profile).await;
    let r = app
        .submit(old["body"].as_str().expect("body").to_string())
        .await;
    assert_eq!(r.status(), 400, "previous key removed: refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_confirmations_open_with_openssl() {
    let key = [0x42u8; 32];
    let iv = *b"0123456789abcdef";
    // GCM with a fresh IV in front of every message.
    let gcm: ProfileSettings = serde_json::from_value(json!({
        "enable": true, "cipherSpec": "AES/GCM/NoPadding", "key": B64.encode(key),
        "keyEncoding": "base64", "iv": "prefix",
    }))
    .expect("gcm");
    // CBC with a static IV, as the upstream's responseDecryption block would hold it.
    let cbc: ProfileSettings = serde_json::from_value(json!({
        "enable": true, "cipherSpec": "AES/CBC/PKCS5Padding", "key": B64.encode(key),
        "keyEncoding": "base64", "ivParamSpec": String::from_utf8_lossy(&iv), "ivEncoding": "utf8",
    }))
    .expect("cbc");
    for (spec, profile) in [("gcm", gcm), ("cbc", cbc)] {
        let app = TestApp::spawn_with(
            Backend::Sqlite,
            move |s| s.encryption.response = profile,
            "",
        )
        .await;
        let r = app.submit(fixture("ditto-v3-small.json")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/plain")
        );
        let sealed = B64
            .decode(r.text().await.expect("text").trim())
            .expect("base64");
        let plain = match spec {
            "gcm" => {
                let (nonce, rest) = sealed.split_at(12);
                let (ct, tag) = rest.split_at(rest.len() - 16);
                decrypt_aead(Cipher::aes_256_gcm(), &key, Some(nonce), &[], ct, tag)
                    .expect("gcm opens")
            }
            _ => decrypt(Cipher::aes_256_cbc(), &key, Some(&iv), &sealed).expect("cbc opens"),
        };
        let answer: Value = serde_json::from_slice(&plain).expect("confirmation json");
        assert_eq!(answer["result"], json!(true), "{spec}");
        assert_eq!(answer["user_id"], "sofía.953893@example.com", "{spec}");
        // A retry gets the same confirmation (sealed again).
        let again = app.submit(fixture("ditto-v3-small.json")).await;
        assert_eq!(again.status(), 200);
        // Errors stay readable JSON.
        let err = app.submit("nope").await;
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.json::<Value>().await.expect("json")["error"],
            "invalid_json"
        );
    }
}
