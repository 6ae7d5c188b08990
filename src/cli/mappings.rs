//! `kyc-receiver mappings check [DIR]` and `mappings test --payload FILE`: let an admin validate mapping files
//! and see what a payload would become, without storing anything.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{Value, json};

use crate::mapping::MappingSet;
use crate::mapping::dry_run::dry_run;

/// Validates every mapping file in `dir`; all errors, one per line with file:line:column.
pub fn check(dir: &Path) -> Result<(), String> {
    let set = MappingSet::load_dir(dir).map_err(|e| e.to_string())?;
    for m in set.iter() {
        println!("ok  {}  {}  sha256={}", m.name, m.file.display(), m.sha256);
    }
    println!("{} mapping(s) valid", set.len());
    Ok(())
}

/// Runs `payload` (plaintext JSON) through the set in `dir` (or the named mapping) and prints the record,
/// images, decision and rendered response.
pub fn test(dir: &Path, payload: &[u8], mapping: Option<&str>) -> Result<(), String> {
    let set = MappingSet::load_dir(dir).map_err(|e| e.to_string())?;
    let run = dry_run(&set, payload, mapping, Utc::now()).map_err(|e| {
        if e.starts_with("no mapping named") {
            format!("{e} in {}", dir.display())
        } else {
            e
        }
    })?;
    let images: Vec<Value> = run
        .images
        .iter()
        .map(|(kind, chars, bytes)| json!({"kind": kind, "base64_chars": chars, "approx_bytes": bytes}))
        .collect();
    let report = json!({
        "mapping": {"name": run.mapping_name, "file": run.mapping_file, "sha256": run.mapping_sha256},
        "fields": run.fields,
        "pii_fields": run.pii,
        "images": images,
        "decision": {
            "status": run.decision.status.as_str(),
            "result": run.decision.result(),
            "reasons": run.decision.reason_codes(),
        },
        "warnings": run.warnings,
        "response": run.response,
        "stored": false,
    });
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// Reads a payload file, naming it on error.
pub fn read_payload(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}
