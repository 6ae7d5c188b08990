//! `kyc-receiver mappings check [DIR]` and `mappings test --payload FILE`: let an admin validate mapping files
//! and see what a payload would become, without storing anything.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{Value, json};

use crate::mapping::{MappingSet, ResponseContext};

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
    let root = crate::payload::parse(payload).map_err(|e| format!("payload: {e}"))?;
    let mapping = match mapping {
        Some(name) => set.get(name).ok_or_else(|| {
            format!(
                "no mapping named `{name}` in {} (have: {})",
                dir.display(),
                set.names().join(", ")
            )
        })?,
        None => set.select(&root).map_err(|e| e.to_string())?,
    };
    let now = Utc::now();
    let mapped = mapping.apply(&root, now).map_err(|e| e.to_string())?;
    let reference = "KYC-dry-run";
    let response = mapping
        .render_response(&ResponseContext {
            payload: &root,
            fields: &mapped.fields,
            decision: &mapped.decision,
            reference,
            received_at: now,
        })
        .map_err(|e| e.to_string())?;
    let images: Vec<Value> = mapped
        .images
        .iter()
        .map(|i| json!({"kind": i.kind, "base64_chars": i.data.len(), "approx_bytes": i.data.len() / 4 * 3}))
        .collect();
    let report = json!({
        "mapping": {"name": mapping.name, "file": mapping.file, "sha256": mapping.sha256},
        "fields": mapped.fields,
        "pii_fields": mapped.pii,
        "images": images,
        "decision": {
            "status": mapped.decision.status.as_str(),
            "result": mapped.decision.result(),
            "reasons": mapped.decision.reason_codes(),
        },
        "warnings": mapped.warnings,
        "response": response,
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
