//! `kyc-receiver webhooks list|redeliver|pause|resume`: the webhook endpoints of the configuration, their
//! delivery state and dead letters, straight from the database (the same functions as `/v1/webhooks`). A
//! running service picks a change up at its next pass. Every change is an audit event naming `cli:LOGIN`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::events::admin;

/// `webhooks …`
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Every endpoint: cursor, how far behind, retry state, dead letters.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver again: one event (`--seq`, a dead letter or one already delivered), or every dead letter.
    Redeliver {
        /// The endpoint's name.
        #[arg(long)]
        endpoint: String,
        /// The event's sequence number (default: every dead letter of the endpoint).
        #[arg(long)]
        seq: Option<i64>,
    },
    /// Stop delivering to an endpoint (events keep being written; nothing is lost).
    Pause {
        /// The endpoint's name.
        #[arg(long)]
        endpoint: String,
    },
    /// Deliver again, from where it stopped.
    Resume {
        /// The endpoint's name.
        #[arg(long)]
        endpoint: String,
    },
}

/// Runs one `webhooks` command.
pub fn run(config: Option<PathBuf>, command: WebhooksCommand) -> Result<(), String> {
    let settings = super::load(config)?;
    let (_, mut conn) = super::migrated(&settings)?;
    let actor = super::users::cli_actor();
    let w = &settings.webhooks;
    let key = crate::protect::Protection::from_settings(&settings.storage)
        .map_err(|e| e.to_string())?
        .audit_key();
    match command {
        WebhooksCommand::List { json } => {
            let all = admin::list(&mut conn, w).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            for e in &all {
                println!(
                    "{}  {}  {}  cursor {}  behind {}  delivered {}  dead {}{}",
                    e.name,
                    e.url,
                    if e.paused { "PAUSED" } else { "active" },
                    e.cursor,
                    e.behind,
                    e.delivered,
                    e.dead_letters.len(),
                    e.last_error
                        .as_deref()
                        .map(|why| format!(
                            "  failing ({} attempt(s), next {}): {why}",
                            e.attempts,
                            e.next_attempt_at.as_deref().unwrap_or("now")
                        ))
                        .unwrap_or_default()
                );
                for d in &e.dead_letters {
                    println!(
                        "    dead letter: event {} after {} attempt(s) ({}), {}{}",
                        d.seq,
                        d.attempts,
                        d.last_error,
                        d.dead_at,
                        if d.redeliver {
                            ", redelivery waiting"
                        } else {
                            ""
                        }
                    );
                }
            }
            if all.is_empty() {
                println!("no webhook endpoints are configured");
            }
            Ok(())
        }
        WebhooksCommand::Redeliver { endpoint, seq } => {
            let n = admin::redeliver(&mut conn, &key, w, &endpoint, seq, &actor)
                .map_err(|e| e.to_string())?;
            println!("{n} event(s) will be delivered again to {endpoint}");
            Ok(())
        }
        WebhooksCommand::Pause { endpoint } => {
            admin::set_paused(&mut conn, &key, w, &endpoint, true, &actor)
                .map_err(|e| e.to_string())?;
            println!("{endpoint} paused");
            Ok(())
        }
        WebhooksCommand::Resume { endpoint } => {
            admin::set_paused(&mut conn, &key, w, &endpoint, false, &actor)
                .map_err(|e| e.to_string())?;
            println!("{endpoint} resumed");
            Ok(())
        }
    }
}
