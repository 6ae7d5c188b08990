//! `kyc-receiver records list|show|export`: auditor queries for operators on the host, straight from the
//! configured database, opened with the configured storage keys (`[storage]`). Personal fields are masked
//! unless `--pii` is given; such a read appends an audit event (actor `cli:<login>`) before anything is
//! printed, with `--purpose` (required when `audit.require_purpose = true`).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::protect::Protection;
use crate::records::export::{CsvCells, Exporter, Format, csv_header, csv_record};
use crate::records::{Cursor, FilterParams, SubmissionSummary, load_detail, parse_limit};
use crate::store::audit_log::{AuditDraft, append_alone};
use crate::store::{self, listing};
use crate::submission::Reference;

/// `records …`
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// List records matching the filters, a page at a time (ordered by received time, then reference).
    List {
        /// Filters.
        #[command(flatten)]
        filters: FilterParams,
        /// Page size (1 to 500).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Continue after the page that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Personal data access.
        #[command(flatten)]
        access: Access,
    },
    /// Show one record with its reasons, reviews, images and audit events (JSON).
    Show {
        /// The record's reference (`KYC-…`).
        reference: String,
        /// Personal data access.
        #[command(flatten)]
        access: Access,
    },
    /// Export every record matching the filters (progress on stderr).
    Export {
        /// Output format.
        #[arg(long, value_enum)]
        format: Format,
        /// Filters.
        #[command(flatten)]
        filters: FilterParams,
        /// Write here instead of stdout (written as FILE.partial, renamed when complete).
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// CSV: write every cell as stored; by default a cell that starts with `=`, `+`, `-`, `@`, a tab or
        /// a carriage return gets a leading `'` so spreadsheets do not run it as a formula.
        #[arg(long)]
        raw: bool,
        /// Personal data access.
        #[command(flatten)]
        access: Access,
    },
}

/// `records list --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON document with `items` and `next_cursor`.
    Json,
    /// CSV with the export's columns.
    Csv,
}

/// Whether to show personal data, and why.
#[derive(Debug, Clone, Args)]
pub struct Access {
    /// Show personal fields unmasked; appends an audit event naming you.
    #[arg(long)]
    pub pii: bool,
    /// Why you read personal data (kept in the audit event; required when audit.require_purpose = true).
    #[arg(long)]
    pub purpose: Option<String>,
}

struct Context {
    settings: Settings,
    protection: Protection,
    conn: diesel::r2d2::PooledConnection<store::ConnectionManager>,
    actor: String,
}

/// `trace --requester-id ID`: the story of one push, oldest first.
pub fn trace(config: Option<PathBuf>, requester_id: &str, json: bool) -> Result<(), String> {
    let settings = super::load(config)?;
    let (pool, _) = store::make_pool(&settings.database).map_err(|e| e.to_string())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("database unavailable: {e}"))?;
    let story = crate::records::trace::trace(&mut conn, requester_id)
        .map_err(|e| format!("database error: {e}"))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&story).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    if story.events.is_empty() && story.records.is_empty() && story.quarantine.is_empty() {
        return Err(format!("nothing is known of requester id {requester_id}"));
    }
    println!("requester id {requester_id}");
    for step in &story.events {
        let facts = step
            .details
            .as_object()
            .map(|m| {
                ["code", "status", "quarantine_id", "decision", "reasons"]
                    .iter()
                    .filter_map(|k| m.get(*k).map(|v| format!("{k}={v}")))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        println!(
            "  {}  #{:<6} {:<26} {:<38} by {}  {}",
            step.at,
            step.seq,
            step.kind,
            step.reference.as_deref().unwrap_or("-"),
            step.actor.as_deref().unwrap_or("-"),
            facts
        );
    }
    for r in &story.records {
        println!(
            "record {}  received {}  decision {}  now {}",
            r.reference, r.received_at, r.decision, r.status
        );
    }
    for q in &story.quarantine {
        println!(
            "quarantine {}  {}  {} {}{}",
            q.id,
            q.state,
            q.error.status,
            q.error.code,
            q.replayed_reference
                .as_deref()
                .map(|r| format!("  -> {r}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Runs a `records` subcommand.
pub fn run(config: Option<PathBuf>, command: RecordsCommand) -> Result<(), String> {
    let settings = super::load(config)?;
    let protection = Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?;
    let (pool, _) = store::make_pool(&settings.database).map_err(|e| e.to_string())?;
    let conn = pool
        .get()
        .map_err(|e| format!("database unavailable: {e}"))?;
    let mut ctx = Context {
        settings,
        protection,
        conn,
        actor: super::users::cli_actor(),
    };
    match command {
        RecordsCommand::List {
            filters,
            limit,
            cursor,
            format,
            access,
        } => list(
            &mut ctx,
            &filters,
            limit,
            cursor.as_deref(),
            format,
            &access,
        ),
        RecordsCommand::Show { reference, access } => show(&mut ctx, &reference, &access),
        RecordsCommand::Export {
            format,
            filters,
            output,
            raw,
            access,
        } => {
            let cells = if raw {
                CsvCells::Raw
            } else {
                CsvCells::Neutralized
            };
            export(
                &mut ctx,
                format,
                &filters,
                output.as_deref(),
                cells,
                &access,
            )
        }
    }
}

fn db_error(e: impl std::fmt::Display) -> String {
    format!("database error: {e}")
}

/// Checks the purpose and, for an unmasked read, appends its audit event before anything is shown.
fn audit_pii(
    ctx: &mut Context,
    access: &Access,
    kind: &str,
    reference: Option<Reference>,
    mut details: Value,
) -> Result<(), String> {
    if !access.pii {
        return Ok(());
    }
    let purpose = ctx
        .settings
        .audit
        .check_purpose(access.purpose.as_deref())
        .map_err(|e| format!("{e}; pass --purpose"))?;
    details["purpose"] = json!(purpose);
    details["via"] = json!("cli");
    let draft = AuditDraft {
        kind: kind.into(),
        actor: Some(ctx.actor.clone()),
        reference,
        requester_id: None,
        details,
    };
    append_alone(&mut ctx.conn, &ctx.protection.audit_key(), &draft)
        .map(|_| ())
        .map_err(|e| format!("the audit event could not be stored, nothing shown: {e}"))
}

fn list(
    ctx: &mut Context,
    filters: &FilterParams,
    limit: i64,
    cursor: Option<&str>,
    format: ListFormat,
    access: &Access,
) -> Result<(), String> {
    let filter = filters.parse(&ctx.protection).map_err(|e| e.to_string())?;
    let limit = parse_limit(Some(&limit.to_string())).map_err(|e| e.to_string())?;
    let cursor = cursor
        .map(Cursor::decode)
        .transpose()
        .map_err(|e| e.to_string())?;
    let (items, next) = crate::records::summary_page(
        &mut ctx.conn,
        &filter,
        cursor.as_ref(),
        limit,
        &ctx.protection,
        access.pii,
    )
    .map_err(|e| e.to_string())?;
    if !items.is_empty() {
        let references: Vec<&str> = items.iter().map(|i| i.reference.as_str()).collect();
        let details = json!({"endpoint": "list", "count": items.len(), "references": references});
        audit_pii(ctx, access, "personal_data_listed", None, details)?;
    }
    let mut out = std::io::stdout().lock();
    let io = |e: std::io::Error| e.to_string();
    match format {
        ListFormat::Json => {
            let page = json!({"items": items, "next_cursor": next, "masked": !access.pii});
            writeln!(out, "{page:#}").map_err(io)?;
        }
        ListFormat::Csv => {
            out.write_all(&csv_header().map_err(|e| e.to_string())?)
                .map_err(io)?;
            for item in &items {
                out.write_all(&csv_record(item, CsvCells::Neutralized).map_err(|e| e.to_string())?)
                    .map_err(io)?;
            }
        }
        ListFormat::Table => write_table(&mut out, &items).map_err(io)?,
    }
    if let Some(next) = next {
        eprintln!("more records: --cursor {next}");
    }
    Ok(())
}

fn write_table(out: &mut impl Write, items: &[SubmissionSummary]) -> std::io::Result<()> {
    let rows: Vec<[String; 6]> = items
        .iter()
        .map(|i| {
            [
                i.reference.to_string(),
                i.received_at.clone(),
                i.status.to_string(),
                i.decision.to_string(),
                i.document_status.clone().unwrap_or_default(),
                i.reasons.join(","),
            ]
        })
        .collect();
    let header = [
        "REFERENCE",
        "RECEIVED_AT",
        "STATUS",
        "DECISION",
        "DOCUMENT",
        "REASONS",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    writeln!(out, "({} record(s))", rows.len())
}

fn show(ctx: &mut Context, reference: &str, access: &Access) -> Result<(), String> {
    let reference =
        Reference::parse(reference).ok_or_else(|| format!("`{reference}` is not a reference"))?;
    let detail = load_detail(&mut ctx.conn, &reference, &ctx.protection, access.pii)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no record {reference}"))?;
    let details = json!({"endpoint": "show", "fields": detail.pii_fields});
    audit_pii(
        ctx,
        access,
        "personal_data_read",
        Some(reference.clone()),
        details,
    )?;
    let text = serde_json::to_string_pretty(&detail).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn export(
    ctx: &mut Context,
    format: Format,
    filters: &FilterParams,
    output: Option<&Path>,
    cells: CsvCells,
    access: &Access,
) -> Result<(), String> {
    let filter = filters.parse(&ctx.protection).map_err(|e| e.to_string())?;
    let mark = listing::snapshot_mark(&mut ctx.conn).map_err(db_error)?;
    let total = listing::count(&mut ctx.conn, &filter, mark).map_err(db_error)?;
    let details = json!({"endpoint": "export", "format": format, "mark": mark, "count": total,
        "filters": filters.audit_facts(&ctx.protection)});
    audit_pii(ctx, access, "personal_data_exported", None, details)?;
    let partial = output.map(|p| {
        let mut name = p.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    });
    let mut sink: Box<dyn Write> = match &partial {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(0)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, ETA {eta})",
    ) {
        bar.set_style(style);
    }
    let mut exporter = Exporter::new(filter, mark, format, access.pii).with_cells(cells);
    loop {
        let before = exporter.rows();
        let chunk = exporter
            .next_chunk(&mut ctx.conn, &ctx.protection)
            .map_err(|e| e.to_string())?;
        let Some(chunk) = chunk else { break };
        sink.write_all(&chunk).map_err(|e| e.to_string())?;
        bar.inc(exporter.rows() - before);
    }
    sink.flush().map_err(|e| e.to_string())?;
    drop(sink);
    bar.finish_and_clear();
    if let (Some(partial), Some(output)) = (partial, output) {
        std::fs::rename(&partial, output).map_err(|e| format!("{}: {e}", output.display()))?;
        eprintln!(
            "exported {} record(s) to {}",
            exporter.rows(),
            output.display()
        );
    } else {
        eprintln!("exported {} record(s)", exporter.rows());
    }
    Ok(())
}
