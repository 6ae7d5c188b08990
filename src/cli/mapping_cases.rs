//! `kyc-receiver mappings test --cases DIR`: golden cases an admin keeps beside the mapping files. Each case is
//! a payload `NAME.json` with its expected outcome `NAME.expected.json`:
//!
//! ```json
//! {"decision": "rejected", "reasons": ["face_mismatch"], "fields": {"document_type": "passport"},
//!  "mapping": "ditto-v3", "now": "2026-11-30T00:00:00Z"}
//! ```
//!
//! or `{"error": "mapping_failed"}` for a payload that must be refused. Every key is optional; `reasons` is
//! compared as a set, `fields` only for the names given, `now` fixes the clock of expiry rules (else
//! `--now`, else the real time). Any mismatch fails the run with a line per difference, naming the case.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::mapping::MappingSet;
use crate::mapping::dry_run::dry_run;

/// What a case expects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    decision: Option<String>,
    reasons: Option<Vec<String>>,
    fields: Option<Map<String, Value>>,
    mapping: Option<String>,
    error: Option<String>,
    now: Option<DateTime<Utc>>,
}

/// Runs every case in `cases` against the set in `dir`; `Err` lists the failures.
pub fn run(dir: &Path, cases: &Path, now: Option<DateTime<Utc>>) -> Result<(), String> {
    let set = MappingSet::load_dir(dir).map_err(|e| e.to_string())?;
    let mut payloads: Vec<PathBuf> = std::fs::read_dir(cases)
        .map_err(|e| format!("{}: {e}", cases.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.to_string_lossy().ends_with(".expected.json")
        })
        .collect();
    payloads.sort();
    if payloads.is_empty() {
        return Err(format!("{}: no case payloads (NAME.json)", cases.display()));
    }
    let mut failed = 0;
    for payload in &payloads {
        let name = payload
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected_path = payload.with_file_name(format!("{name}.expected.json"));
        let problems = check_case(&set, payload, &expected_path, now)?;
        if problems.is_empty() {
            println!("ok    {name}");
        } else {
            failed += 1;
            println!("FAIL  {name}");
            for p in &problems {
                println!("        {p}");
            }
        }
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} case(s) failed in {}",
            payloads.len(),
            cases.display()
        ));
    }
    println!("{} case(s) passed", payloads.len());
    Ok(())
}

/// The differences between what `payload` becomes and what its expected file says (empty when none).
fn check_case(
    set: &MappingSet,
    payload: &Path,
    expected_path: &Path,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(expected_path)
        .map_err(|e| format!("{}: {e}", expected_path.display()))?;
    let expected: Expected = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}:{}:{}: {e}",
            expected_path.display(),
            e.line(),
            e.column()
        )
    })?;
    let bytes = std::fs::read(payload).map_err(|e| format!("{}: {e}", payload.display()))?;
    let now = expected.now.or(now).unwrap_or_else(Utc::now);
    let mut problems = Vec::new();
    let run = match dry_run(set, &bytes, None, now) {
        Ok(run) => run,
        Err(message) => {
            let code = if message.starts_with("payload:") {
                "invalid_payload"
            } else {
                "mapping_failed"
            };
            match &expected.error {
                Some(e) if e == code => {}
                Some(e) => problems.push(format!("error: expected {e}, got {code} ({message})")),
                None => problems.push(format!("refused ({code}): {message}")),
            }
            return Ok(problems);
        }
    };
    if let Some(e) = &expected.error {
        problems.push(format!(
            "error: expected {e}, got a decision ({})",
            run.decision.status.as_str()
        ));
    }
    if let Some(d) = &expected.decision
        && d != run.decision.status.as_str()
    {
        problems.push(format!(
            "decision: expected {d}, got {}",
            run.decision.status.as_str()
        ));
    }
    if let Some(m) = &expected.mapping
        && *m != run.mapping_name
    {
        problems.push(format!("mapping: expected {m}, got {}", run.mapping_name));
    }
    if let Some(want) = &expected.reasons {
        let got: Vec<&str> = run.decision.reason_codes();
        let missing: Vec<&str> = want
            .iter()
            .map(String::as_str)
            .filter(|r| !got.contains(r))
            .collect();
        let unexpected: Vec<&str> = got
            .iter()
            .copied()
            .filter(|r| !want.iter().any(|w| w == r))
            .collect();
        if !missing.is_empty() {
            problems.push(format!("reasons: missing {}", missing.join(", ")));
        }
        if !unexpected.is_empty() {
            problems.push(format!("reasons: unexpected {}", unexpected.join(", ")));
        }
    }
    for (name, want) in expected.fields.iter().flatten() {
        let got = run.fields.get(name).unwrap_or(&Value::Null);
        if got != want {
            problems.push(format!("fields.{name}: expected {want}, got {got}"));
        }
    }
    Ok(problems)
}
