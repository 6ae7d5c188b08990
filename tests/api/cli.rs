//! The binary's subcommands, run as a user would.

use std::process::Command;

fn kyc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kyc-receiver"));
    c.env_remove("KYC_CONFIG");
    c
}

#[test]
fn check_config_accepts_the_shipped_file() {
    let out = kyc()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check-config"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
}

#[test]
fn check_config_names_an_unknown_key_and_fails() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[database]\nurll = \"sqlite://x\"\n").expect("write");
    let out = kyc()
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("urll"), "{err}");
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("ok.toml");
    std::fs::write(&file, "[server]\ntls = false\n").expect("write");
    let out = kyc()
        .args(["check-config"])
        .env("KYC_CONFIG", &file)
        .env("KYC__SERVER__BIND", "0.0.0.0:8080")
        .output()
        .expect("run");
    assert!(
        !out.status.success(),
        "plain HTTP on 0.0.0.0 must be refused"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.tls"), "{err}");
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("m.sqlite").display());
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").expect("write");
    for expected in ["applied", "no pending migrations"] {
        let out = kyc()
            .args(["migrate", "--config"])
            .arg(&empty)
            .env("KYC__DATABASE__URL", &url)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(expected));
    }
}

#[test]
fn mappings_check_lists_errors_with_file_and_line() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("broken.toml"),
        "name = \"x\"\nwhen = '${a ==}'\n",
    )
    .expect("write");
    let out = kyc()
        .args(["mappings", "check"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:2:"), "{err}");
    let out = kyc()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["mappings", "check", "mappings"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mappings_test_shows_the_decision_without_storing() {
    let out = kyc()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "mappings",
            "test",
            "--payload",
            "tests/fixtures/ditto-v3-rejectable.json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["decision"]["status"], "rejected");
    assert_eq!(report["response"]["result"], false);
    assert_eq!(report["stored"], false);
}

fn check_config_with(body: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("enc.toml");
    let storage = format!(
        "[storage]\nactive_key_id = \"t1\"\nkeys = [{{ id = \"t1\", key = \"{k}\" }}]\nsearch_key = \"{k}\"\n",
        k = crate::helpers::TEST_DATA_KEY
    );
    std::fs::write(&file, format!("[server]\ntls = false\n\n{storage}\n{body}")).expect("write");
    let out = kyc()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_catches_encryption_mistakes_by_key_without_echoing_secrets() {
    let cases = [
        (
            "[encryption.request]\nenable = true\ncipherSpec = \"AES/ECB/PKCS5Padding\"\nkey = \"Fx2zqZsgXmhbbaws\"\n",
            "encryption.request.cipher_spec",
        ),
        (
            "[encryption.request]\nenable = true\ncipherSpec = \"AES/CBC/PKCS5Padding\"\nkey = \"tooShortKey12\"\nivParamSpec = \"jxKssbf2WtHvafvi\"\n",
            "encryption.request.key",
        ),
        (
            "[encryption.response]\nenable = true\ncipherSpec = \"AES/CBC/PKCS5Padding\"\nkey = \"6VSb5E6FsX6NJtBC\"\nivParamSpec = \"short\"\n",
            "encryption.response.iv_param_spec",
        ),
        (
            "[encryption.request]\nenable = true\ncipherSpec = \"AES/CBC/PKCS5Padding\"\nkey = \"%%%%\"\nkeyEncoding = \"base64\"\nivParamSpec = \"jxKssbf2WtHvafvi\"\n",
            "encryption.request.key",
        ),
        (
            "[encryption.request]\nenable = true\ncipherSpec = \"AES/XTS/NoPadding\"\nkey = \"6VSb5E6FsX6NJtBC\"\n",
            "encryption.request.cipher_spec",
        ),
    ];
    for (body, key) in cases {
        let (ok, err) = check_config_with(body);
        assert!(!ok, "must fail: {body}");
        assert!(err.contains(key), "names {key}: {err}");
        for secret in [
            "Fx2zqZsgXmhbbaws",
            "tooShortKey12",
            "6VSb5E6FsX6NJtBC",
            "jxKssbf2WtHvafvi",
        ] {
            assert!(!err.contains(secret), "echoes a secret: {err}");
        }
    }
}

#[test]
fn check_config_warns_about_a_static_gcm_nonce() {
    let (ok, err) = check_config_with(
        "[encryption.request]\nenable = true\ncipherSpec = \"AES/GCM/NoPadding\"\nkey = \"5msH5WoGeA3BLpaw\"\nivParamSpec = \"XCMUrhFvDaLV\"\n",
    );
    assert!(ok, "{err}");
    assert!(err.contains("warning") && err.contains("nonce"), "{err}");
}

#[test]
fn check_config_warns_about_every_unauthenticated_mode() {
    for spec in [
        "AES/CBC/PKCS5Padding",
        "AES/CTR/NoPadding",
        "AES/CFB/NoPadding",
    ] {
        let (ok, err) = check_config_with(&format!(
            "[encryption.request]\nenable = true\ncipherSpec = \"{spec}\"\nkey = \"5msH5WoGeA3BLpaw\"\niv = \"prefix\"\n"
        ));
        assert!(ok, "{err}");
        assert!(
            err.contains("warning") && err.contains("no authentication tag"),
            "{spec}: {err}"
        );
    }
}

fn write_case(dir: &std::path::Path, name: &str, payload: &[u8], expected: &serde_json::Value) {
    std::fs::write(dir.join(format!("{name}.json")), payload).expect("payload");
    std::fs::write(
        dir.join(format!("{name}.expected.json")),
        expected.to_string(),
    )
    .expect("expected");
}

#[test]
fn golden_cases_pass_then_a_changed_threshold_fails_naming_the_case() {
    use serde_json::json;
    let cases = tempfile::tempdir().expect("cases");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let small = std::fs::read(fixtures.join("ditto-v3-small.json")).expect("fixture");
    write_case(
        cases.path(),
        "chip-bypassed",
        &small,
        &json!({"decision": "pending_review", "reasons": ["nfc_not_verified"],
                "fields": {"document_number": "XB2215279"}, "mapping": "ditto-v3",
                "now": "2026-11-30T00:00:00Z"}),
    );
    write_case(
        cases.path(),
        "rejectable",
        &std::fs::read(fixtures.join("ditto-v3-rejectable.json")).expect("fixture"),
        &json!({"decision": "rejected"}),
    );
    let mut unknown: serde_json::Value = serde_json::from_slice(&small).expect("json");
    unknown["kyc_info"]["document"]["version"] = json!("9.9");
    write_case(
        cases.path(),
        "unknown-version",
        unknown.to_string().as_bytes(),
        &json!({"error": "mapping_failed"}),
    );
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let run = |dir: &std::path::Path| {
        kyc()
            .args(["mappings", "test", "--cases"])
            .arg(cases.path())
            .arg("--dir")
            .arg(dir)
            .output()
            .expect("run")
    };
    let out = run(&shipped);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 case(s) passed"), "{stdout}");

    let changed = tempfile::tempdir().expect("changed");
    let text = std::fs::read_to_string(shipped.join("ditto-v3.toml")).expect("mapping");
    std::fs::write(
        changed.path().join("ditto-v3.toml"),
        text.replace("< 1.6", "< 3.0"),
    )
    .expect("write");
    let out = run(changed.path());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  chip-bypassed"), "{stdout}");
    assert!(
        stdout.contains("decision: expected pending_review, got rejected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("reasons: unexpected face_mismatch"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    rejectable"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 3 case(s) failed"), "{stderr}");

    // A broken expectation file is named with its line.
    std::fs::write(
        cases.path().join("rejectable.expected.json"),
        "{\n\"decison\": 1}",
    )
    .expect("w");
    let out = run(&shipped);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("rejectable.expected.json:2:"), "{stderr}");
}

#[test]
fn mappings_test_explains_each_rule_at_a_fixed_clock() {
    let payload =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ditto-v3-small.json");
    let run = |now: &str| {
        let out = kyc()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["mappings", "test", "--explain", "--now", now, "--payload"])
            .arg(&payload)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let today = run("2026-11-30");
    assert_eq!(
        today["decision"]["reasons"],
        serde_json::json!(["nfc_not_verified"])
    );
    let rules = today["explain"].as_array().expect("rules");
    let face = rules
        .iter()
        .find(|r| r["reason"] == "face_mismatch")
        .expect("face rule");
    assert_eq!(face["matched"], false);
    assert_eq!(face["looked_at"][0]["value_of"], "fields.face_match_score");
    assert_eq!(face["looked_at"][0]["value"], 2.3629);
    // After the document's expiry (2032-10-02) the same payload is expired: the clock is the only change.
    let later = run("2033-01-01");
    let reasons = later["decision"]["reasons"].as_array().expect("reasons");
    assert!(
        reasons.contains(&serde_json::json!("document_expired")),
        "{later}"
    );
    let bad = kyc()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["mappings", "test", "--now", "soon", "--payload"])
        .arg(&payload)
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--now soon"));
}
