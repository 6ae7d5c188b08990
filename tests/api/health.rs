use serde_json::Value;

use crate::both_backends;
use crate::helpers::TestApp;

async fn liveness_and_readiness(app: &TestApp) {
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(app.url("/readyz"))
        .bearer_auth(app.operator_token().await)
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["checks"]["database"], "ok");
}
both_backends!(liveness_and_readiness);

async fn unknown_paths_and_methods_get_json_errors(app: &TestApp) {
    let r = app.client.get(app.url("/nope")).send().await.expect("get");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "not_found");
    let r = app
        .client
        .get(app.url("/kyc"))
        .send()
        .await
        .expect("get kyc");
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "method_not_allowed");
}
both_backends!(unknown_paths_and_methods_get_json_errors);
