//! Operator commands that work on the database directly (on the host, with the configured keys): audit
//! verification, erasure, retention and data-key rotation.

use std::path::{Path, PathBuf};

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
pub fn audit_verify(
    config: Option<PathBuf>,
    json: bool,
    heads: Option<&Path>,
    public_key: Option<&Path>,
) -> Result<(), String> {
    let mut host = open(config)?;
    let key = host.protection.audit_key();
    let report = match heads {
        None => crate::audit::verify_with_key(&mut host.conn, Some(&key)),
        Some(file) => {
            let public = head_public(&host.settings, public_key)?;
            let heads = crate::audit::heads::read(file, &public);
            crate::audit::verify_with_heads(&mut host.conn, Some(&key), heads)
        }
    }
    .map_err(|e| format!("database error: {e}"))?;
    if let Some(e) = &report.heads_error {
        return Err(e.clone());
    }
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
    if let Some(p) = report.record_problems.first() {
        return Err(format!(
            "{} record(s) do not match their history, first {} ({}): {}",
            report.record_problems.len(),
            p.reference.as_str(),
            p.kind,
            p.detail
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
    match &report.head {
        Some(h) if heads.is_some() => println!(
            "audit trail intact up to event {} ({}); {} signed head(s) found in it",
            h.seq, h.hash, report.heads_checked
        ),
        Some(h) => println!("audit trail intact up to event {} ({})", h.seq, h.hash),
        None => println!("audit trail intact"),
    }
    Ok(())
}

/// The heads' public key: from a PEM file, or derived from the configured private key.
fn head_public(
    settings: &Settings,
    file: Option<&Path>,
) -> Result<openssl::pkey::PKey<openssl::pkey::Public>, String> {
    match file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            openssl::pkey::PKey::public_key_from_pem(&pem)
                .map_err(|_| format!("{} is not a PEM public key", path.display()))
        }
        None => signer(settings, false)?.public_key(),
    }
}

fn signer(settings: &Settings, generate: bool) -> Result<crate::audit::heads::HeadSigner, String> {
    crate::audit::heads::HeadSigner::load(
        &settings.audit.head_key_file,
        generate && settings.audit.head_key_generate,
        &settings.audit.instance_name(),
    )
}

/// `audit sign-head`.
pub fn sign_head(config: Option<PathBuf>) -> Result<(), String> {
    let mut host = open(config)?;
    let signer = signer(&host.settings, true)?;
    let head = crate::audit::heads::sign_if_moved(
        &mut host.conn,
        &signer,
        &host.settings.audit.heads_file,
        None,
    )?
    .ok_or("the head was not signed")?;
    print_json(&head)
}

/// `audit public-key`.
pub fn head_public_key(config: Option<PathBuf>) -> Result<(), String> {
    let settings = super::load(config)?;
    print!("{}", signer(&settings, false)?.public_key_pem()?);
    Ok(())
}

/// `erase --user-id ID --reason TEXT`.
pub fn erase(config: Option<PathBuf>, user_id: &str, reason: &str) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("--reason must not be empty".into());
    }
    let mut host = open(config)?;
    let operator = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    let pseudonym = host.protection.subject_pseudonym(user_id);
    let actor = format!("cli:{operator}");
    let receipt = store::erasure::erase_subject(
        &mut host.conn,
        &host.protection.audit_key(),
        store::erasure::ErasureRequest {
            user_id,
            pseudonym: &pseudonym,
            reason: reason.trim(),
            actor: &actor,
            now: chrono::Utc::now().naive_utc(),
            emit_event: host.settings.events.enabled,
        },
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
        &host.protection.audit_key(),
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

/// `audit mac-key`.
pub fn audit_mac_key(config: Option<PathBuf>) -> Result<(), String> {
    use base64::Engine;
    let settings = super::load(config)?;
    let protection = Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?;
    // One `ID=BASE64` per key, the active one first: what tools/verify_audit.py takes as --mac-key.
    for (id, key) in protection.audit_key().mac_keys() {
        println!(
            "{id}={}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
    }
    Ok(())
}

/// `audit export [--output FILE]`.
pub fn audit_export(config: Option<PathBuf>, output: Option<&Path>) -> Result<(), String> {
    use std::io::Write;
    let mut host = open(config)?;
    let mut sink: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut exporter = crate::audit::export::TrailExporter::new();
    while let Some(chunk) = exporter
        .next_chunk(&mut host.conn)
        .map_err(|e| format!("database error: {e}"))?
    {
        sink.write_all(chunk.as_bytes())
            .map_err(|e| format!("cannot write the export: {e}"))?;
    }
    sink.flush()
        .map_err(|e| format!("cannot write the export: {e}"))
}
