use crate::both_backends;
use crate::helpers::{TestApp, captured_logs, fixture, fixture_json};

/// Personal values from the fixtures that must never show up in a response or a log line.
fn personal_values() -> Vec<String> {
    let mut values = Vec::new();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        let v = fixture_json(name);
        let data = &v["kyc_info"]["document"]["identity_data"];
        for key in ["Given name", "Surname", "Document number", "Date of birth"] {
            if let Some(s) = data[key].as_str() {
                values.push(s.to_string());
            }
        }
    }
    values
}

async fn names_and_document_numbers_never_leave_in_answers_or_logs(app: &TestApp) {
    let mut bodies = Vec::new();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        bodies.push(app.submit(fixture(name)).await.text().await.expect("text"));
        bodies.push(app.submit(fixture(name)).await.text().await.expect("text"));
    }
    let mut conflicting = fixture_json("ditto-v3-small.json");
    conflicting["kyc_info"]["face_matcher_result"]["score"] = serde_json::json!(0.1);
    bodies.push(
        app.submit(conflicting.to_string())
            .await
            .text()
            .await
            .expect("text"),
    );
    let mut broken = fixture_json("ditto-v3-rejectable.json");
    broken["kyc_info"]["document"]["identity_data"]["Surname"] = serde_json::json!({"x": 1});
    broken["kyc_info"]["face_matcher_result"]["score"] = serde_json::json!("Bērziņš");
    bodies.push(
        app.submit(broken.to_string())
            .await
            .text()
            .await
            .expect("text"),
    );

    let logs = captured_logs();
    assert!(
        logs.iter().any(|l| l.contains("route=/kyc")),
        "request log lines are captured"
    );
    for value in personal_values() {
        for body in &bodies {
            assert!(!body.contains(&value), "response contains {value}: {body}");
        }
        for line in &logs {
            assert!(!line.contains(&value), "log line contains {value}: {line}");
        }
    }
}
both_backends!(names_and_document_numbers_never_leave_in_answers_or_logs);
