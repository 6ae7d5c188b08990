//! `GET /v1/submissions` and `GET /v1/submissions/{reference}`: filters, keyset pagination under concurrent
//! writes, masking per scope, scope separation between the upstream and auditors.

use std::collections::HashSet;

use crate::both_backends;
use crate::helpers::{AUDITOR, TestApp, fixture, fixture_json};
use crate::records_support::{auditor, get, submit_many, traverse};

const READ: &str = "kyc:read";
const READ_PII: &str = "kyc:read kyc:read_pii";

async fn paging_sees_every_row_once_while_submissions_arrive(app: &TestApp) {
    let before = submit_many(app, "ditto-v3-small.json", 24, "before").await;
    let token = auditor(app, READ).await;
    let writer = {
        let (client, url, upstream) = (app.client.clone(), app.url("/kyc"), app.token.clone());
        let template = fixture_json("ditto-v3-rejectable.json");
        tokio::spawn(async move {
            for i in 0..24 {
                let mut body = template.clone();
                body["request_info"]["requester_id"] = serde_json::json!(format!("during-{i}"));
                let r = client
                    .post(&url)
                    .bearer_auth(&upstream)
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), 200);
            }
        })
    };
    let seen = traverse(app, &token, "", 5).await;
    writer.await.expect("writer");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row came twice: {seen:?}");
    for reference in &before {
        assert!(unique.contains(reference), "{reference} was skipped");
    }
    assert!(seen.len() <= 48);
    // A fresh traversal sees everything, in (received_at, reference) order.
    let all = traverse(app, &token, "", 500).await;
    assert_eq!(all.len(), 48);
    let (status, page) = get(app, &token, "/v1/submissions?limit=500").await;
    assert_eq!(status, 200);
    let keys: Vec<(String, String)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["received_at"].as_str().unwrap_or_default().to_string(),
                i["reference"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}
both_backends!(paging_sees_every_row_once_while_submissions_arrive);

async fn filters_narrow_the_list(app: &TestApp) {
    let pending = submit_many(app, "ditto-v3-small.json", 3, "p").await;
    let rejected = submit_many(app, "ditto-v3-rejectable.json", 2, "r").await;
    let token = auditor(app, READ).await;
    let count = |query: &str| {
        let path = format!("/v1/submissions?{query}");
        let (token, query) = (token.clone(), query.to_string());
        async move {
            let (status, page) = get(app, &token, &path).await;
            assert_eq!(status, 200, "{query}: {page}");
            page["items"].as_array().expect("items").len()
        }
    };
    assert_eq!(count("status=pending_review").await, pending.len());
    assert_eq!(count("decision=rejected").await, rejected.len());
    assert_eq!(count("reason=face_mismatch").await, rejected.len());
    assert_eq!(count("reason=nfc_not_verified").await, pending.len());
    assert_eq!(count("reason=face").await, 0, "reason codes match whole");
    let small_user = fixture_json("ditto-v3-small.json")["request_info"]["user_id"]
        .as_str()
        .expect("user")
        .to_string();
    assert_eq!(
        count(&format!("user_id={}", urlencode(&small_user))).await,
        pending.len()
    );
    assert_eq!(
        count("since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00%2B02:00").await,
        5
    );
    assert_eq!(count("until=2000-01-01T00:00:00Z").await, 0);
    assert_eq!(count("since=2100-01-01T00:00:00Z").await, 0);
    let status = fixture_json("ditto-v3-rejectable.json")["kyc_info"]["document"]["document_status"]
        ["overall_document_status"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(count(&format!("document_status={}", urlencode(&status))).await >= rejected.len());
    for bad in [
        "status=approvedd",
        "since=yesterday",
        "limit=501",
        "limit=0",
        "cursor=garbage",
        "usr_id=x",
        "status=approved&status=rejected",
    ] {
        let (status, body) = get(app, &token, &format!("/v1/submissions?{bad}")).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_query")),
            "{bad}: {body}"
        );
    }
}
both_backends!(filters_narrow_the_list);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Personal values of the full fixture.
fn personal_values() -> Vec<String> {
    let v = fixture_json("ditto-v3-full.json");
    let data = &v["kyc_info"]["document"]["identity_data"];
    ["Given name", "Surname", "Document number", "Date of birth"]
        .iter()
        .filter_map(|k| data[*k].as_str().map(str::to_string))
        .collect()
}

async fn personal_fields_are_masked_without_read_pii(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-full.json", 1, "mask")
        .await
        .remove(0);
    let masked = auditor(app, READ).await;
    let (status, list) = get(app, &masked, "/v1/submissions").await;
    assert_eq!(status, 200);
    let (status, detail) = get(app, &masked, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(status, 200);
    for body in [&list, &detail] {
        let text = body.to_string();
        for value in personal_values() {
            assert!(!text.contains(&value), "{value} leaked: {text}");
        }
    }
    assert_eq!(list["masked"], true);
    let fields = &detail["fields"];
    for name in [
        "given_name",
        "surname",
        "document_number",
        "date_of_birth",
        "full_name",
    ] {
        assert_eq!(fields[name], "***", "{name}");
    }
    assert!(
        fields["nationality"].is_string() && fields["nationality"] != "***",
        "fields not flagged pii are shown: {fields}"
    );
    assert_eq!(detail["pii_fields"].as_array().map(Vec::len), Some(5));
    assert_eq!(detail["mapping_name"], "ditto-v3");
    assert_eq!(detail["content_hash_ok"], true);
    let kinds: Vec<&str> = detail["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["back", "front", "portrait", "selfie"]);
    assert_eq!(detail["audit_events"][0]["kind"], "submission_stored");

    let open = auditor(app, READ_PII).await;
    let (status, detail) = get(app, &open, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["masked"], false);
    let expected = fixture_json("ditto-v3-full.json");
    let data = &expected["kyc_info"]["document"]["identity_data"];
    assert_eq!(detail["fields"]["given_name"], data["Given name"]);
    assert_eq!(detail["fields"]["document_number"], data["Document number"]);
    let (_, missing) = get(app, &open, "/v1/submissions/KYC-nope").await;
    assert_eq!(missing["error"], "not_found");
}
both_backends!(personal_fields_are_masked_without_read_pii);

async fn the_upstream_cannot_read_and_auditors_cannot_submit(app: &TestApp) {
    let reference = submit_many(app, "ditto-v3-small.json", 1, "scope")
        .await
        .remove(0);
    let (status, body) = get(app, &app.token, "/v1/submissions").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, _) = get(app, &app.token, &format!("/v1/submissions/{reference}")).await;
    assert_eq!(status, 403);
    let (status, _) = get(app, &app.token, "/v1/audit/events").await;
    assert_eq!(status, 403);
    let (status, _) = get(app, &app.token, "/v1/export?format=csv").await;
    assert_eq!(status, 403);
    let everything = app.token_for(AUDITOR.0, AUDITOR.1, None).await;
    let r = app
        .client
        .post(app.url("/kyc"))
        .bearer_auth(&everything)
        .body(fixture("ditto-v3-small.json"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    let r = app
        .client
        .get(app.url("/v1/submissions"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let read_only = auditor(app, READ).await;
    let (status, body) = get(
        app,
        &read_only,
        &format!("/v1/submissions/{reference}/images/selfie"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let r = app
        .client
        .post(app.url(&format!("/v1/submissions/{reference}/review")))
        .bearer_auth(&read_only)
        .json(&serde_json::json!({"decision": "approved", "note": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
}
both_backends!(the_upstream_cannot_read_and_auditors_cannot_submit);
