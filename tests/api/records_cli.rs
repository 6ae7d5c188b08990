//! `kyc-receiver records list|show|export` against the test database, with the test config file.

use std::process::{Command, Output};

use serde_json::Value;

use crate::both_backends;
use crate::helpers::TestApp;
use crate::records_support::submit_many;
use kyc_receiver::records::export::CSV_COLUMNS;

fn records(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kyc-receiver"))
        .env_remove("KYC_CONFIG")
        .env("USER", "operator")
        .arg("--config")
        .arg(app.file("kyc-receiver.toml"))
        .arg("records")
        .args(args)
        .output()
        .expect("run")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn operators_list_show_and_export_from_the_host(app: &TestApp) {
    let pending = submit_many(app, "ditto-v3-small.json", 2, "cli").await;
    let rejected = submit_many(app, "ditto-v3-rejectable.json", 1, "cli-r").await;

    let table = ok(&records(app, &["list"]));
    assert!(table.starts_with("REFERENCE"), "{table}");
    assert!(
        table.contains(&pending[0]) && table.contains("(3 record(s))"),
        "{table}"
    );

    let page: Value = serde_json::from_str(&ok(&records(
        app,
        &["list", "--format", "json", "--limit", "2"],
    )))
    .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["items"][0]["fields"]["given_name"], "***");
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let rest: Value = serde_json::from_str(&ok(&records(
        app,
        &[
            "list", "--format", "json", "--limit", "2", "--cursor", cursor,
        ],
    )))
    .expect("json");
    assert_eq!(rest["items"][0]["reference"], rejected[0].as_str());

    let csv_text = ok(&records(
        app,
        &["list", "--format", "csv", "--status", "rejected"],
    ));
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(reader.headers().expect("header").len(), CSV_COLUMNS.len());
    assert_eq!(reader.records().count(), 1);

    let shown: Value = serde_json::from_str(&ok(&records(
        app,
        &["show", &pending[0], "--pii", "--purpose", "ticket 7"],
    )))
    .expect("json");
    assert_eq!(shown["fields"]["given_name"], "Sofía");
    assert_eq!(shown["audit_events"][0]["kind"], "submission_stored");

    let file = app.file("export.csv");
    let out = records(
        app,
        &[
            "export",
            "--format",
            "csv",
            "-o",
            file.to_str().expect("path"),
        ],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported 3 record(s)"));
    let mut reader = csv::Reader::from_path(&file).expect("file");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.len() == CSV_COLUMNS.len()));

    let missing = records(app, &["show", "KYC-none"]);
    assert!(!missing.status.success());

    let report = kyc_receiver::audit::verify(&mut app.db()).expect("verify");
    assert!(report.ok, "{report:?}");
    let events = app.audit_events();
    let read = events
        .iter()
        .find(|(kind, _, _)| kind == "personal_data_read")
        .expect("the unmasked show is audited");
    assert!(
        read.2.contains("ticket 7") && read.2.contains("cli"),
        "{}",
        read.2
    );
}
both_backends!(operators_list_show_and_export_from_the_host);
