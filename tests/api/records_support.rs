//! Helpers of the auditor tests: tokens with chosen scopes, many submissions at once, authorized GETs, and
//! rows seeded straight into the database through the real intake (for exports larger than a page).

use serde_json::{Value, json};

use crate::helpers::{AUDITOR, TestApp, fixture_json, protection};

/// An auditor token narrowed to `scope`.
pub async fn auditor(app: &TestApp, scope: &str) -> String {
    app.token_for(AUDITOR.0, AUDITOR.1, Some(scope)).await
}

/// Submits `n` copies of a fixture with distinct requester ids; returns the references in order.
pub async fn submit_many(app: &TestApp, name: &str, n: usize, tag: &str) -> Vec<String> {
    let template = fixture_json(name);
    let mut references = Vec::with_capacity(n);
    for i in 0..n {
        let mut body = template.clone();
        body["request_info"]["requester_id"] = json!(format!("{tag}-{i}"));
        let r = app.submit(body.to_string()).await;
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.expect("json");
        references.push(
            answer["reference_number"]
                .as_str()
                .expect("ref")
                .to_string(),
        );
    }
    references
}

/// GET with a bearer token; returns status and JSON body (Null when not JSON).
pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
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

/// Every reference of a full traversal of `/v1/submissions` with `query`, page by page.
pub async fn traverse(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<String> {
    let mut references = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/submissions?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(app, token, &path).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().expect("items") {
            references.push(item["reference"].as_str().expect("ref").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return references,
        }
    }
}

/// Inserts `n` records made by the real intake from the small fixture (without images), each with its
/// `submission_stored` event, in one transaction. Much faster than `n` HTTP submissions.
pub fn seed(app: &TestApp, n: usize, tag: &str) {
    crate::helpers::seed_records(
        &mut app.db(),
        &crate::helpers::shipped_mappings(),
        &protection(),
        "seed",
        (0..n).map(|i| format!("{tag}-{i}")),
    );
}
