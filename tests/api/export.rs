//! `GET /v1/export`: streamed CSV and JSON Lines over more rows than one database page, parsed with real
//! readers; masking and the audit event of an unmasked export.

use std::collections::HashSet;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::TestApp;
use crate::records_support::{auditor, get, seed, submit_many};
use kyc_receiver::records::export::{CSV_COLUMNS, PAGE_ROWS};

async fn download(app: &TestApp, token: &str, query: &str) -> (u16, String, Vec<u8>) {
    let r = app
        .client
        .get(app.url(&format!("/v1/export?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        r.bytes().await.expect("body").to_vec(),
    )
}

async fn csv_and_jsonl_exports_hold_every_row(app: &TestApp) {
    let seeded = (PAGE_ROWS as usize) * 2 + 37;
    seed(app, seeded, "bulk");
    let rejected = submit_many(app, "ditto-v3-rejectable.json", 2, "exp").await;
    let total = seeded + rejected.len();
    let token = auditor(app, "kyc:read").await;

    let (status, content_type, body) = download(app, &token, "format=csv").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, CSV_COLUMNS);
    let mut references = HashSet::new();
    for record in reader.records() {
        let record = record.expect("a well-formed CSV record");
        assert_eq!(record.len(), CSV_COLUMNS.len());
        let fields: Value = serde_json::from_str(&record[13]).expect("fields column is JSON");
        assert_eq!(fields["given_name"], "***");
        assert_eq!(&record[14], "true");
        references.insert(record[0].to_string());
    }
    assert_eq!(references.len(), total, "every row exactly once");

    let (status, content_type, body) = download(app, &token, "format=jsonl&status=rejected").await;
    assert_eq!((status, content_type.as_str()), (200, "application/jsonl"));
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("one JSON object per line"))
        .collect();
    let exported: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["reference"].as_str())
        .collect();
    assert_eq!(exported, rejected);

    let (status, _, body) = download(app, &token, "format=xml").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = download(app, &token, "status=rejected").await;
    assert_eq!(status, 400, "format is required");
    let (status, _, body) = download(app, &token, "format=csv&since=2100-01-01T00:00:00Z").await;
    assert_eq!(
        (status, body.as_slice()),
        (200, format!("{}\r\n", CSV_COLUMNS.join(",")).as_bytes())
    );

    let open = auditor(app, "kyc:read kyc:read_pii").await;
    let (status, _, body) = download(
        app,
        &open,
        "format=jsonl&decision=rejected&purpose=regulator%20request",
    )
    .await;
    assert_eq!(status, 200);
    let first: Value =
        serde_json::from_slice(body.split(|b| *b == b'\n').next().expect("line")).expect("json");
    assert_eq!(first["masked"], false);
    assert_ne!(first["fields"]["given_name"], "***");
    let (_, trail) = get(app, &token, "/v1/audit/events?kind=personal_data_exported").await;
    let event = &trail["items"][0];
    assert_eq!(event["actor"], "auditor");
    assert_eq!(event["details"]["filters"]["decision"], "rejected");
    assert_eq!(event["details"]["purpose"], "regulator request");
}
both_backends!(csv_and_jsonl_exports_hold_every_row);
