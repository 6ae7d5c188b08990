//! The `kyc-receiver` command line (clap). Every subcommand takes `--config FILE` (or `KYC_CONFIG`); without it
//! the shipped `kyc-receiver.toml` in the working directory is used if present.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::Application;
use crate::store;

mod clients;
mod data;
mod mapping_cases;
mod mapping_diff;
mod mappings;
mod quarantine;
mod records;
mod users;
mod webhooks;

/// Receiver for identity-verification (KYC) results pushed by an upstream IDV platform.
#[derive(Debug, Parser)]
#[command(name = "kyc-receiver", version, about)]
pub struct Cli {
    /// Configuration file (TOML); defaults to ./kyc-receiver.toml when present.
    #[arg(long, global = true, env = "KYC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load and validate the configuration and mapping files; exit non-zero with a precise message on error.
    CheckConfig,
    /// Erase one data subject: images and personal fields of every record of that user id (decisions,
    /// reasons and hashes stay); writes an audit receipt.
    Erase {
        /// The subject's user id as the upstream sent it.
        #[arg(long)]
        user_id: String,
        /// Why (kept in the receipt).
        #[arg(long)]
        reason: String,
    },
    /// Retention of images, records and audit events.
    Retention {
        /// What to do.
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// OAuth2 client credentials.
    Clients {
        /// What to do.
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// The tamper-evident audit trail.
    Audit {
        /// What to do.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Key material helpers.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Validate or try out mapping files.
    Mappings {
        /// What to do with them.
        #[command(subcommand)]
        command: MappingsCommand,
    },
    /// Auditor queries straight from the database: list, show, export.
    Records {
        /// What to do.
        #[command(subcommand)]
        command: records::RecordsCommand,
    },
    /// Local console accounts: add, list, disable, enable, reset.
    Users {
        /// What to do.
        #[command(subcommand)]
        command: users::UsersCommand,
    },
    /// Refused submissions kept for replay: list, show, replay, drop.
    Quarantine {
        /// What to do.
        #[command(subcommand)]
        command: quarantine::QuarantineCommand,
    },
    /// Webhook endpoints: list, redeliver, pause, resume.
    Webhooks {
        /// What to do.
        #[command(subcommand)]
        command: webhooks::WebhooksCommand,
    },
    /// Everything that happened to one push: refused, quarantined, replayed, stored, reviewed.
    Trace {
        /// The upstream's requester id.
        #[arg(long)]
        requester_id: String,
        /// Print the story as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `retention …`
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Delete what has expired now, in batches, each with an audit event.
    Run {
        /// Only count what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create credentials: prints the secret once and the config entry holding only its hash.
    Add {
        /// The client id.
        name: String,
        /// Comma-separated scopes, e.g. kyc:submit or kyc:read,kyc:read_pii.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Print one JSON object (client_id, client_secret, secret_hash, scopes).
        #[arg(long)]
        json: bool,
    },
}

/// `audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and check every submission's content hash; exit 1 naming the first broken event.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Signed heads (JSON Lines, e.g. an auditor's copy of `audit.heads_file`): the chain must still contain
        /// every one of them.
        #[arg(long, value_name = "FILE")]
        heads: Option<PathBuf>,
        /// The heads' Ed25519 public key (PEM); default: derived from `audit.head_key_file`.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Sign the chain's current head now, append it to `audit.heads_file`, and print it.
    SignHead,
    /// Print the public key (PEM) that verifies signed heads, to hand to auditors.
    PublicKey,
    /// Print the audit MAC keys (`ID=BASE64`, one per line, the active one first) that check keyed event hashes,
    /// for an auditor's own verifier.
    MacKey,
    /// Write the trail as JSON Lines (checkpoint, events, head) for `tools/verify_audit.py` or any verifier.
    Export {
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random AES-256 key (base64) for `encryption.*.key` (with key_encoding = "base64").
    Generate,
    /// Re-seal stored images and personal fields under `storage.active_key_id` (batches; resumable).
    RotateData {
        /// Rows per transaction.
        #[arg(long, default_value_t = 200)]
        batch: i64,
    },
}

/// `mappings …`
#[derive(Debug, Subcommand)]
pub enum MappingsCommand {
    /// Validate every mapping file; exit 1 listing all errors with file:line:column.
    Check {
        /// Directory (default: `mappings.dir` from the configuration).
        dir: Option<PathBuf>,
    },
    /// Show the record, images, decision and response a payload would produce (nothing is stored), or run
    /// a folder of golden cases (`--cases`).
    Test {
        /// Payload file (plaintext JSON).
        #[arg(long, required_unless_present = "cases", conflicts_with = "cases")]
        payload: Option<PathBuf>,
        /// A folder of cases: `NAME.json` payloads each with `NAME.expected.json` (decision, reasons, selected
        /// fields, or the error); exit 1 naming every case that differs.
        #[arg(long, value_name = "DIR")]
        cases: Option<PathBuf>,
        /// The clock of expiry rules (RFC 3339 or YYYY-MM-DD), so results stay reproducible.
        #[arg(long, value_name = "DATE")]
        now: Option<String>,
        /// Show each rule, the values it looked at and whether it matched.
        #[arg(long)]
        explain: bool,
        /// Mapping directory (default: `mappings.dir` from the configuration).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Use this mapping instead of selecting by its `when`.
        #[arg(long)]
        mapping: Option<String>,
        /// The payload file is encrypted: open it with `encryption.request` from the configuration first.
        #[arg(long)]
        encrypted: bool,
    },
    /// Print a mapping file exactly as it was activated, by its SHA-256 (as stored with every record); a
    /// unique prefix of at least 8 digits will do.
    Show {
        /// The hash.
        #[arg(long)]
        hash: String,
    },
    /// List every mapping version ever activated (hash, name, file, first activation).
    Versions,
    /// Run a candidate mapping set against the quarantine and the stored submissions whose raw payload is
    /// kept, and print the decisions and reasons that would change. Stores nothing.
    Diff {
        /// The candidate mapping directory.
        #[arg(long, value_name = "DIR")]
        candidate: PathBuf,
        /// Only what arrived at or after this instant (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Most records and most quarantine entries compared (each).
        #[arg(long, default_value_t = 10_000)]
        limit: i64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses arguments, runs the command, and turns failures into a message on stderr and exit code 1.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let result = match cli.command {
        Command::Serve => serve(cli.config),
        Command::Migrate => migrate(cli.config),
        Command::CheckConfig => check_config(cli.config),
        Command::Mappings { command } => run_mappings(cli.config, command),
        Command::Erase { user_id, reason } => data::erase(cli.config, &user_id, &reason),
        Command::Retention {
            command: RetentionCommand::Run { dry_run },
        } => data::retention_run(cli.config, dry_run),
        Command::Records { command } => records::run(cli.config, command),
        Command::Users { command } => users::run(cli.config, command),
        Command::Quarantine { command } => quarantine::run(cli.config, command),
        Command::Webhooks { command } => webhooks::run(cli.config, command),
        Command::Trace { requester_id, json } => records::trace(cli.config, &requester_id, json),
        Command::Clients {
            command: ClientsCommand::Add { name, scopes, json },
        } => clients::add(&name, &scopes, json),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    json,
                    heads,
                    public_key,
                },
        } => data::audit_verify(cli.config, json, heads.as_deref(), public_key.as_deref()),
        Command::Audit {
            command: AuditCommand::SignHead,
        } => data::sign_head(cli.config),
        Command::Audit {
            command: AuditCommand::PublicKey,
        } => data::head_public_key(cli.config),
        Command::Audit {
            command: AuditCommand::MacKey,
        } => data::audit_mac_key(cli.config),
        Command::Audit {
            command: AuditCommand::Export { output },
        } => data::audit_export(cli.config, output.as_deref()),
        Command::Keys {
            command: KeysCommand::Generate,
        } => {
            println!("{}", kyc_crypto::generate_key());
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::RotateData { batch },
        } => data::rotate_data(cli.config, batch),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load(config: Option<PathBuf>) -> Result<Settings, String> {
    Settings::load(config.as_deref()).map_err(|e| e.to_string())
}

/// A pooled connection to the configured database.
type Conn = diesel::r2d2::PooledConnection<store::ConnectionManager>;

/// The pool and a connection, migrated first: an operator command may run before `serve` ever did.
fn migrated(settings: &Settings) -> Result<(store::Pool, Conn), String> {
    let (pool, _) = store::make_pool(&settings.database).map_err(|e| e.to_string())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("database unavailable: {e}"))?;
    store::migrate(&mut conn).map_err(|e| e.to_string())?;
    Ok((pool, conn))
}

fn serve(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load(config)?;
    actix_web::rt::System::new().block_on(async move {
        print_dev_credentials(&settings);
        let app = Application::build(settings)
            .await
            .map_err(|e| e.to_string())?;
        log::info!("kyc-receiver listening on {}", app.base_url());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// The shipped configuration carries development credentials; show them on the terminal (never in the log)
/// so a newcomer can call the service at once.
fn print_dev_credentials(settings: &Settings) {
    use secrecy::ExposeSecret;
    for client in &settings.auth.clients {
        if let Some(secret) = &client.dev_secret {
            eprintln!(
                "DEVELOPMENT credentials (refused off loopback): client_id={} client_secret={} scopes={} token URL=https://{}{}",
                client.client_id,
                secret.expose_secret(),
                client.scopes.join(","),
                settings.server.bind,
                settings.auth.token_path
            );
        }
    }
}

fn migrate(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load(config)?;
    let (pool, url) = store::make_pool(&settings.database).map_err(|e| e.to_string())?;
    let mut conn = pool
        .get()
        .map_err(|e| format!("database unavailable: {e}"))?;
    let applied = store::migrate(&mut conn).map_err(|e| e.to_string())?;
    if applied.is_empty() {
        println!("{}: no pending migrations", url.backend());
    } else {
        println!("{}: applied {}", url.backend(), applied.join(", "));
    }
    Ok(())
}

fn run_mappings(config: Option<PathBuf>, command: MappingsCommand) -> Result<(), String> {
    let default_dir = || -> Result<PathBuf, String> { Ok(load(config.clone())?.mappings.dir) };
    match command {
        MappingsCommand::Check { dir } => mappings::check(&dir.map_or_else(default_dir, Ok)?),
        MappingsCommand::Show { hash } => mappings::show(&load(config)?, &hash),
        MappingsCommand::Versions => mappings::versions(&load(config)?),
        MappingsCommand::Diff {
            candidate,
            since,
            limit,
            json,
        } => mappings::diff(&load(config)?, &candidate, since.as_deref(), limit, json),
        MappingsCommand::Test {
            payload,
            cases,
            now,
            explain,
            dir,
            mapping,
            encrypted,
        } => {
            let now = now.as_deref().map(mappings::parse_now).transpose()?;
            let dir = dir.map_or_else(default_dir, Ok)?;
            let Some(payload) = payload else {
                let cases = cases.ok_or("give --payload FILE or --cases DIR")?;
                return mapping_cases::run(&dir, &cases, now);
            };
            let mut bytes = mappings::read_payload(&payload)?;
            if encrypted {
                let profiles = load(config.clone())?
                    .cipher_profiles()
                    .map_err(|e| e.to_string())?;
                bytes = profiles
                    .request
                    .open(&bytes)
                    .map_err(|e| format!("{}: {e} ({:?})", payload.display(), e.detail()))?
                    .plaintext;
            }
            mappings::test(&dir, &bytes, mapping.as_deref(), now, explain)
        }
    }
}

fn check_config(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load(config)?;
    crate::mapping::MappingSet::load_dir(&settings.mappings.dir).map_err(|e| e.to_string())?;
    crate::protect::Protection::from_settings(&settings.storage).map_err(|e| e.to_string())?;
    let profiles = settings.cipher_profiles().map_err(|e| e.to_string())?;
    for warning in &profiles.warnings {
        eprintln!("warning: {warning}");
    }
    if settings.server.tls && !settings.server.tls_self_signed {
        crate::tls::acceptor(
            &settings.server.tls_cert,
            &settings.server.tls_key,
            settings.server.client_ca_path(),
        )
        .map_err(|e| e.to_string())?;
    }
    println!("configuration OK");
    Ok(())
}
