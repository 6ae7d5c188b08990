use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, fixture, fixture_json};

async fn confirm(app: &TestApp, body: Vec<u8>) -> Value {
    let r = app.submit(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    r.json().await.expect("confirmation json")
}

async fn sample_payloads_get_the_expected_confirmation(app: &TestApp) {
    for (name, result) in [
        ("ditto-v3-small.json", true),
        ("ditto-v3-rejectable.json", false),
        ("ditto-v3-full.json", true),
    ] {
        let sent = fixture_json(name);
        let answer = confirm(app, fixture(name)).await;
        assert_eq!(answer["result"], json!(result), "{name}");
        assert_eq!(answer["user_id"], sent["request_info"]["user_id"], "{name}");
        let reference = answer["reference_number"].as_str().expect("reference");
        assert!(reference.starts_with("KYC-"), "{reference}");
        assert_eq!(answer.as_object().map(|o| o.len()), Some(3), "{answer}");
    }
    assert_eq!(app.submission_count(), 3);
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["submission_stored"; 3]);
}
both_backends!(sample_payloads_get_the_expected_confirmation);

async fn a_retry_gets_the_same_answer_and_no_second_row(app: &TestApp) {
    let first = confirm(app, fixture("ditto-v3-small.json")).await;
    let second = confirm(app, fixture("ditto-v3-small.json")).await;
    assert_eq!(first, second);
    assert_eq!(app.submission_count(), 1);
    let kinds: Vec<String> = app.audit_events().into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["submission_stored", "submission_replayed"]);
}
both_backends!(a_retry_gets_the_same_answer_and_no_second_row);

async fn a_conflicting_retry_is_refused_and_recorded(app: &TestApp) {
    confirm(app, fixture("ditto-v3-small.json")).await;
    let mut changed = fixture_json("ditto-v3-small.json");
    changed["kyc_info"]["face_matcher_result"]["score"] = json!(9.9);
    let r = app.submit(changed.to_string()).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "duplicate_conflict");
    assert_eq!(app.submission_count(), 1);
    // The conflict is recorded against the stored record, and the retry's body is kept as evidence.
    let events = app.audit_events();
    let kinds: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["duplicate_conflict", "submission_quarantined"]
    );
    for event in &events[events.len() - 2..] {
        assert_eq!(
            event.1.as_deref(),
            Some("3d9c1724-11e2-0b8f-6b0d-549b6f03675a")
        );
    }
}
both_backends!(a_conflicting_retry_is_refused_and_recorded);

async fn fifty_concurrent_identical_submissions_make_one_row(app: &TestApp) {
    let body = fixture("ditto-v3-small.json");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (client, url, body, token) = (
                app.client.clone(),
                app.url("/kyc"),
                body.clone(),
                app.token.clone(),
            );
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(&token)
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                (r.status().as_u16(), r.text().await.expect("text"))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("join"));
    }
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert!(
        answers.windows(2).all(|w| w[0].1 == w[1].1),
        "all answers identical"
    );
    assert_eq!(app.submission_count(), 1);
}
both_backends!(fifty_concurrent_identical_submissions_make_one_row);

async fn distinct_concurrent_submissions_are_all_stored(app: &TestApp) {
    let template = fixture_json("ditto-v3-small.json");
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let mut body = template.clone();
            body["request_info"]["requester_id"] = json!(format!("req-{i}"));
            let (client, url, token) = (app.client.clone(), app.url("/kyc"), app.token.clone());
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(&token)
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("send");
                r.status().as_u16()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("join"), 200);
    }
    assert_eq!(app.submission_count(), 40);
}
both_backends!(distinct_concurrent_submissions_are_all_stored);

/// With `[receipts] enable`, each 200 carries a JWS the upstream can verify with our published key; any change
/// to its content breaks the signature.
async fn receipts_verify_with_the_published_key_and_not_when_changed(
    backend: crate::helpers::Backend,
) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("receipts.pem");
    let app = TestApp::spawn_with(
        backend,
        move |s| {
            s.receipts.enable = true;
            s.receipts.key_file = key_file;
        },
        "",
    )
    .await;
    let r = app.submit(fixture("ditto-v3-small.json")).await;
    assert_eq!(r.status(), 200);
    let jws = r
        .headers()
        .get("kyc-receipt")
        .expect("a receipt")
        .to_str()
        .expect("ascii")
        .to_string();
    let answer: Value = r.json().await.expect("json");
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/kyc-receipts/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let x = jwks["keys"][0]["x"].as_str().expect("x");
    let key = jsonwebtoken::DecodingKey::from_ed_components(x).expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(&jws, &key, &validation)
        .expect("the receipt verifies")
        .claims;
    assert_eq!(claims["reference_number"], answer["reference_number"]);
    assert_eq!(
        claims["requester_id"],
        "3d9c1724-11e2-0b8f-6b0d-549b6f03675a"
    );
    assert_eq!(claims["result"], answer["result"]);
    let row = kyc_receiver::store::submissions::find(
        &mut app.db(),
        &crate::helpers::reference(answer["reference_number"].as_str().expect("ref")),
    )
    .expect("query")
    .expect("row");
    assert_eq!(claims["payload_sha256"], row.payload_digest.as_str());
    let parts: Vec<&str> = jws.split('.').collect();
    let mut changed = claims.clone();
    changed["result"] = json!(false);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(changed.to_string()),
        parts[2]
    );
    assert!(jsonwebtoken::decode::<Value>(&forged, &key, &validation).is_err());
    // A retry gets a receipt for the same record.
    let again = app.submit(fixture("ditto-v3-small.json")).await;
    let jws = again
        .headers()
        .get("kyc-receipt")
        .expect("a receipt")
        .to_str()
        .expect("ascii")
        .to_string();
    let claims = jsonwebtoken::decode::<Value>(&jws, &key, &validation)
        .expect("verifies")
        .claims;
    assert_eq!(claims["reference_number"], answer["reference_number"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_verify_with_the_published_key_and_not_when_changed_sqlite() {
    receipts_verify_with_the_published_key_and_not_when_changed(crate::helpers::Backend::Sqlite)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_verify_with_the_published_key_and_not_when_changed_postgres() {
    if crate::helpers::postgres_configured() {
        receipts_verify_with_the_published_key_and_not_when_changed(
            crate::helpers::Backend::Postgres,
        )
        .await;
    }
}
