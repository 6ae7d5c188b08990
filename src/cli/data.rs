//! Operator commands that work on the database directly (on the host, with the configured keys): audit
//! verification, erasure, retention and data-key rotation.

use std::path::PathBuf;

use crate::config::Settings;
use crate::protect::Protection;
use crate::store::retention::RetentionPolicy;
use crate::store::{self, ConnectionManager};

/// Settings, keys and one connection: what every data command needs.
struct Host {
    settings: Settings,
    protection: Protection,
    conn: r2d2::PooledConnection<ConnectionManager>,
}

fn open(config: Option<PathBuf>) -> Result<Host, String> {
    let settings = super::load(config)?;
    let protection = Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?;
    let (pool, _) = store::make_pool(&settings.database).map_err(|e| e.to_string())?;
    let conn = pool
        .get()
        .map_err(|e| format!("database unavailable: {e}"))?;
    Ok(Host {
        settings,
        protection,
        conn,
    })
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// `audit verify`: walks the chain (checking retention checkpoints with the storage keys) and every
/// submission's content hash.
pub fn audit_verify(config: Option<PathBuf>, json: bool) -> Result<(), String> {
    let mut host = open(config)?;
    let key = host.protection.checkpoint_key();
    let report = crate::audit::verify_with_key(&mut host.conn, Some(&key))
        .map_err(|e| format!("database error: {e}"))?;
    if json {
        print_json(&report)?;
    } else {
        println!(
            "checked {} audit event(s) and {} submission(s)",
            report.events_checked, report.submissions_checked
        );
    }
    if let Some(p) = &report.first_broken_event {
        return Err(format!(
            "audit chain broken at event {} ({}): {}",
            p.seq, p.kind, p.detail
        ));
    }
    if !report.changed_submissions.is_empty() {
        return Err(format!(
            "submission content changed: {}",
            report
                .changed_submissions
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    println!("audit trail intact");
    Ok(())
}

/// `erase --user-id ID --reason TEXT`.
pub fn erase(config: Option<PathBuf>, user_id: &str, reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("--reason must not be empty".into());
    }
    let mut host = open(config)?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let receipt = store::erasure::erase_subject(
        &mut host.conn,
        user_id,
        &host.protection.subject_pseudonym(user_id),
        reason.trim(),
        &format!("cli:{operator}"),
        chrono::Utc::now().naive_utc(),
        host.settings.events.enabled,
    )
    .map_err(|e| format!("database error: {e}"))?;
    print_json(&receipt)
}

/// `retention run [--dry-run]`.
pub fn retention_run(config: Option<PathBuf>, dry_run: bool) -> Result<(), String> {
    let mut host = open(config)?;
    let report = store::retention::run(
        &mut host.conn,
        &RetentionPolicy::of(&host.settings),
        &host.protection.checkpoint_key(),
        chrono::Utc::now().naive_utc(),
        dry_run,
    )
    .map_err(|e| format!("database error: {e}"))?;
    print_json(&report)
}

/// `keys rotate-data [--batch N]`.
pub fn rotate_data(config: Option<PathBuf>, batch: i64) -> Result<(), String> {
    let mut host = open(config)?;
    let report = store::rotation::rotate_data(&mut host.conn, &host.protection, batch)
        .map_err(|e| e.to_string())?;
    print_json(&report)
}
