//! `GET /openapi.json` describes exactly the routes mounted: every documented path and method answers (not
//! 404/405), every other method on a documented path answers 405, and known candidate paths that are not
//! documented are not mounted. Plus the document's own consistency: security schemes, error bodies, refs.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{Backend, TestApp};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Paths a future change might mount without documenting; each must be documented or absent.
const CANDIDATES: [&str; 11] = [
    "/v1/subjects",
    "/metrics",
    "/swagger-ui/",
    "/openapi.yaml",
    "/v1",
    "/v1/audit",
    "/v1/reviews",
    "/v1/submissions/x/images",
    "/v1/submissions/x/reviews",
    "/v1/export/csv",
    "/v1/audit/checkpoints",
];

async fn probe(app: &TestApp, method: &str, path: &str) -> (u16, Option<String>) {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
    let r = app
        .client
        .request(method, app.url(path))
        .send()
        .await
        .expect("probe");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().map(str::to_string))
}

/// Mounted means: neither the JSON 404 of unknown paths nor a 405.
fn mounted((status, code): &(u16, Option<String>)) -> bool {
    !(*status == 405 || (*status == 404 && code.as_deref() == Some("not_found")))
}

fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|part| if part.starts_with('{') { "x" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_mounted_routes() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = BTreeSet::new();
    let mut mounted_routes = BTreeSet::new();
    for (template, item) in paths {
        let path = concrete(template);
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert(format!("{method} {template}"));
            }
            if mounted(&probe(&app, method, &path).await) {
                mounted_routes.insert(format!("{method} {template}"));
            }
        }
    }
    assert_eq!(documented, mounted_routes);
    for expected in [
        "post /kyc",
        "post /oauth/token",
        "get /healthz",
        "get /readyz",
        "get /openapi.json",
        "get /v1/submissions",
        "get /v1/submissions/{reference}",
        "get /v1/submissions/{reference}/images/{kind}",
        "post /v1/submissions/{reference}/review",
        "get /v1/audit/events",
        "get /v1/audit/verify",
        "get /v1/export",
    ] {
        assert!(
            documented.contains(expected),
            "{expected} is not documented"
        );
    }
    for candidate in CANDIDATES {
        if paths.contains_key(candidate) {
            continue;
        }
        for method in METHODS {
            let answer = probe(&app, method, candidate).await;
            assert!(
                !mounted(&answer),
                "{method} {candidate} is mounted but not documented: {answer:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_consistent() {
    let app = TestApp::spawn(Backend::Sqlite, "").await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(
        schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"],
        "/oauth/token"
    );
    let scopes = schemes["oauth2"]["flows"]["clientCredentials"]["scopes"]
        .as_object()
        .expect("scopes");
    for scope in [
        "kyc:submit",
        "kyc:read",
        "kyc:read_pii",
        "kyc:images",
        "kyc:review",
    ] {
        assert!(scopes.contains_key(scope), "{scope}");
    }
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path}");
            let public = [
                "/healthz",
                "/readyz",
                "/openapi.json",
                "/oauth/token",
                "/.well-known/kyc-receipts/jwks.json",
            ]
            .contains(&path.as_str());
            if !public {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{method} {path}"
                );
                let security = op["security"].to_string();
                assert!(
                    security.contains("oauth2") && security.contains("bearer"),
                    "{method} {path}"
                );
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = response["content"]["application/json"]["schema"]["$ref"].as_str();
                    assert!(
                        schema.is_some_and(
                            |s| s.ends_with("/ErrorBody") || s.ends_with("/OAuthErrorBody")
                        ) || path == "/readyz",
                        "{method} {path} {status}: {response}"
                    );
                }
            }
        }
    }
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().expect("ref");
        let name = target
            .strip_prefix("#/components/schemas/")
            .expect("local ref");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling {target}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_paths_are_the_documented_ones() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        |s| s.server.submit_path = "/ditto/push".into(),
        "",
    )
    .await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(doc["paths"].get("/ditto/push").is_some());
    assert!(doc["paths"].get("/kyc").is_none());
}
