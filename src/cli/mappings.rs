//! `kyc-receiver mappings check [DIR]`, `mappings test --payload FILE`, `mappings show --hash H`,
//! `mappings versions` and `mappings diff --candidate DIR`: let an admin validate mapping files, see what a
//! payload would become, show any version that was ever active, and see what a candidate would change —
//! without storing anything.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::config::Settings;

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
pub fn test(
    dir: &Path,
    payload: &[u8],
    mapping: Option<&str>,
    now: Option<DateTime<Utc>>,
    explain: bool,
) -> Result<(), String> {
    let set = MappingSet::load_dir(dir).map_err(|e| e.to_string())?;
    let now = now.unwrap_or_else(Utc::now);
    let run = dry_run(&set, payload, mapping, now).map_err(|e| {
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
    let mut report = json!({
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
        "now": now.to_rfc3339(),
        "stored": false,
    });
    if explain {
        let root = crate::payload::parse(payload).map_err(|e| format!("payload: {e}"))?;
        let m = set
            .get(&run.mapping_name)
            .ok_or_else(|| format!("mapping {} vanished", run.mapping_name))?;
        let rules = m.explain(&root, now).map_err(|e| e.to_string())?;
        report["explain"] = serde_json::to_value(
            rules
                .iter()
                .map(|r| {
                    json!({
                        "reason": r.reason,
                        "decision": r.decision,
                        "when": r.when,
                        "matched": r.matched,
                        "looked_at": r.values.iter().map(|(k, v)| json!({"value_of": k, "value": v})).collect::<Vec<_>>(),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// Reads a payload file, naming it on error.
pub fn read_payload(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `--now`: an RFC 3339 instant, or a date (midnight UTC).
pub fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("--now {text}: expected RFC 3339 (2026-11-30T00:00:00Z) or a date (2026-11-30)")
        })
}

fn connect(settings: &Settings) -> Result<super::Conn, String> {
    Ok(super::migrated(settings)?.1)
}

/// `mappings show --hash H`: the file as it was activated.
pub fn show(settings: &Settings, hash: &str) -> Result<(), String> {
    let mut conn = connect(settings)?;
    let found = crate::store::mapping_versions::find(&mut conn, hash)
        .map_err(|e| format!("database error: {e}"))?;
    match found.as_slice() {
        [] => Err(format!("no mapping version {hash} was ever activated here")),
        [one] => {
            eprintln!(
                "# {} ({}), sha256 {}, first activated {}",
                one.name,
                one.file_name,
                one.sha256,
                crate::store::audit_log::format_timestamp(one.first_seen_at)
            );
            print!("{}", one.content);
            Ok(())
        }
        _ => Err(format!(
            "{hash} names more than one version; give more digits"
        )),
    }
}

/// `mappings versions`.
pub fn versions(settings: &Settings) -> Result<(), String> {
    let mut conn = connect(settings)?;
    let all = crate::store::mapping_versions::list(&mut conn)
        .map_err(|e| format!("database error: {e}"))?;
    for (sha256, name, file, at) in &all {
        println!(
            "{sha256}  {name:<24} {file:<32} {}",
            crate::store::audit_log::format_timestamp(*at)
        );
    }
    println!("{} version(s)", all.len());
    Ok(())
}

/// `mappings diff --candidate DIR`.
pub fn diff(
    settings: &Settings,
    candidate: &Path,
    since: Option<&str>,
    limit: i64,
    json: bool,
) -> Result<(), String> {
    let set = MappingSet::load_dir(candidate).map_err(|e| e.to_string())?;
    let since = since
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc).naive_utc())
                .map_err(|_| format!("--since {t}: expected RFC 3339"))
        })
        .transpose()?;
    let protection =
        crate::protect::Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?;
    let profiles = settings.cipher_profiles().map_err(|e| e.to_string())?;
    let mut conn = connect(settings)?;
    let report = super::mapping_diff::diff(
        &mut conn,
        &super::mapping_diff::DiffInput {
            candidate: &set,
            cipher: &profiles.request,
            protection: &protection,
            since,
            limit: limit.max(1),
        },
    )?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        super::mapping_diff::print(&report, candidate);
    }
    Ok(())
}
