//! `kyc-receiver quarantine list|show|replay|drop`: refused submissions kept for replay, straight from the
//! database with the configured keys and the mapping files on disk (the same replay as
//! `POST /v1/quarantine/{id}/replay`). Every change is an audit event naming `cli:LOGIN`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;

use crate::mapping::MappingSet;
use crate::protect::Protection;
use crate::quarantine::{self, EntryView, QuarantineFilterParams, ReplayEnv, ReplayReport};
use crate::store::Pool;
use crate::store::quarantine as rows;
use crate::store::writer::Writer;

/// `quarantine …`
#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// List entries, oldest first (never their bodies).
    List {
        /// Filters.
        #[command(flatten)]
        filters: QuarantineFilterParams,
        /// Most entries to list.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry; `--body` opens it (a read of personal data, audited).
    Show {
        /// The entry's id (`Q-…`).
        id: String,
        /// Print the body too (decrypted when today's request keys open it).
        #[arg(long)]
        body: bool,
        /// Why the body is read (required with `--body` when `audit.require_purpose`).
        #[arg(long)]
        purpose: Option<String>,
    },
    /// Replay entries through today's keys and mappings: the ids given, or `--all` matching the filters.
    Replay {
        /// Entry ids (`Q-…`).
        ids: Vec<String>,
        /// Every quarantined entry matching the filters (oldest first, at most `--limit`).
        #[arg(long)]
        all: bool,
        /// Filters (with `--all`).
        #[command(flatten)]
        filters: QuarantineFilterParams,
        /// Most entries replayed with `--all`.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        /// Show the outcome (decision, reasons, error) without storing anything.
        #[arg(long)]
        dry_run: bool,
        /// One JSON array of reports.
        #[arg(long)]
        json: bool,
    },
    /// Delete one entry and its body.
    Drop {
        /// The entry's id (`Q-…`).
        id: String,
    },
}

/// Runs one `quarantine` command.
pub fn run(config: Option<PathBuf>, command: QuarantineCommand) -> Result<(), String> {
    let settings = super::load(config)?;
    let protection =
        Arc::new(Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?);
    let (pool, mut conn) = super::migrated(&settings)?;
    let actor = super::users::cli_actor();
    match command {
        QuarantineCommand::List {
            filters,
            limit,
            json,
        } => {
            let filter = filters.parse().map_err(|e| e.to_string())?;
            let items: Vec<EntryView> =
                rows::list(&mut conn, &filter, None, limit.clamp(1, 100_000))
                    .map_err(|e| format!("database error: {e}"))?
                    .into_iter()
                    .map(EntryView::from)
                    .collect();
            if json {
                return print_json(&items);
            }
            for e in &items {
                println!(
                    "{}  {}  {:<12} {} {:<20} {:>9} B  requester={}  {}",
                    e.id,
                    e.received_at,
                    e.state,
                    e.error.status,
                    e.error.code,
                    e.body_bytes,
                    e.requester_id.as_deref().unwrap_or("-"),
                    e.replayed_reference.as_deref().unwrap_or(""),
                );
            }
            println!(
                "{} entr{}",
                items.len(),
                if items.len() == 1 { "y" } else { "ies" }
            );
            Ok(())
        }
        QuarantineCommand::Show { id, body, purpose } => {
            let row = rows::get(&mut conn, &id)
                .map_err(|e| format!("database error: {e}"))?
                .ok_or_else(|| format!("no quarantine entry {id}"))?;
            let mut out = serde_json::to_value(EntryView::from(&row)).map_err(|e| e.to_string())?;
            if body {
                let purpose = settings
                    .audit
                    .check_purpose(purpose.as_deref())
                    .map_err(|e| e.to_string())?;
                let opened = quarantine::open_body(&protection, &row).map_err(|e| e.to_string())?;
                if let Some(bytes) = opened {
                    quarantine::audit_body_read(
                        &mut conn,
                        &protection.audit_key(),
                        &row,
                        &actor,
                        purpose.as_deref(),
                    )
                    .map_err(|e| e.to_string())?;
                    let profiles = settings.cipher_profiles().map_err(|e| e.to_string())?;
                    out["body"] =
                        serde_json::to_value(quarantine::display_body(&bytes, &profiles.request))
                            .map_err(|e| e.to_string())?;
                }
            }
            print_json(&out)
        }
        QuarantineCommand::Drop { id } => {
            if quarantine::drop_entry(&mut conn, &protection.audit_key(), &id, &actor)
                .map_err(|e| e.to_string())?
            {
                println!("dropped {id}");
                Ok(())
            } else {
                Err(format!("no quarantine entry {id}"))
            }
        }
        QuarantineCommand::Replay {
            ids,
            all,
            filters,
            limit,
            dry_run,
            json,
        } => {
            let ids = match (all, ids.is_empty()) {
                (true, true) => {
                    let filter = filters.parse().map_err(|e| e.to_string())?;
                    quarantine::ids_matching(&mut conn, &filter, limit.clamp(1, 100_000))
                        .map_err(|e| e.to_string())?
                }
                (false, false) => ids,
                (true, false) => return Err("give entry ids or --all, not both".into()),
                (false, true) => return Err("give entry ids, or --all (with filters)".into()),
            };
            drop(conn);
            let mappings =
                MappingSet::load_dir(&settings.mappings.dir).map_err(|e| e.to_string())?;
            let profiles = settings.cipher_profiles().map_err(|e| e.to_string())?;
            let reports = replay_all(
                pool,
                crate::startup::writer_limits(&settings, protection.audit_key()),
                Arc::new(profiles.request),
                Arc::new(mappings),
                protection,
                &ids,
                &actor,
                dry_run,
            )?;
            if json {
                print_json(&reports)?;
            } else {
                for r in &reports {
                    print_report(r);
                }
            }
            let refused = reports
                .iter()
                .filter(|r| r.outcome == "refused" || r.outcome == "would_refuse")
                .count();
            if refused > 0 {
                return Err(format!(
                    "{refused} of {} entr(y/ies) still refused",
                    reports.len()
                ));
            }
            Ok(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn replay_all(
    pool: Pool,
    limits: crate::store::writer::WriterLimits,
    cipher: Arc<kyc_crypto::CipherProfile>,
    mappings: Arc<MappingSet>,
    protection: Arc<Protection>,
    ids: &[String],
    actor: &str,
    dry_run: bool,
) -> Result<Vec<ReplayReport>, String> {
    actix_web::rt::System::new().block_on(async move {
        let (writer, threads) = Writer::start(pool.clone(), limits);
        let env = ReplayEnv {
            pool,
            writer,
            cipher,
            mappings,
            protection,
        };
        let mut reports = Vec::with_capacity(ids.len());
        let mut failure = None;
        for id in ids {
            match quarantine::replay(&env, id, actor, dry_run).await {
                Ok(report) => reports.push(report),
                Err(quarantine::ReplayError::NotFound) => {
                    failure = Some(format!("no quarantine entry {id}"));
                    break;
                }
                Err(e) => {
                    failure = Some(format!("{id}: {e}"));
                    break;
                }
            }
        }
        drop(env);
        for t in threads {
            let _ = t.join();
        }
        match failure {
            Some(f) if reports.is_empty() => Err(f),
            Some(f) => {
                for r in &reports {
                    print_report(r);
                }
                Err(f)
            }
            None => Ok(reports),
        }
    })
}

fn print_report(r: &ReplayReport) {
    let error = r
        .error
        .as_ref()
        .map(|e| format!("  {} {}: {}", e.status, e.code, e.message))
        .unwrap_or_default();
    println!(
        "{}  {:<16} {}  {}  [{}]  {}{}",
        r.id,
        r.outcome,
        r.reference.as_deref().unwrap_or("-"),
        r.decision.as_deref().unwrap_or("-"),
        r.reasons.join(","),
        r.mapping.as_deref().unwrap_or("-"),
        error
    );
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())?
    );
    Ok(())
}
