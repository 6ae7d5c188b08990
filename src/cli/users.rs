//! `kyc-receiver users add|list|disable|enable|reset`: local console accounts, straight in the configured
//! database (migrated first, so the first account can be made before the service ever ran). Passwords are
//! printed once and stored only as argon2id hashes; every change is an audit event naming `cli:LOGIN`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::console::accounts::{self, AccountError};
use crate::store::console;

/// `users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add an account; prints a one-time password that must be changed at the first sign-in.
    Add {
        /// Sign-in name: 1 to 64 of a-z, 0-9, `.`, `_`, `-`.
        name: String,
        /// Comma-separated roles: auditor, reviewer, pii, images, admin.
        #[arg(long, required = true)]
        roles: String,
        /// The name shown in the console and audit views (default: the sign-in name).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List accounts: name, roles, second factor, state.
    List,
    /// Refuse sign-in for an account and end its sessions.
    Disable {
        /// The account.
        name: String,
    },
    /// Allow sign-in again.
    Enable {
        /// The account.
        name: String,
    },
    /// A new one-time password, the TOTP second factor forgotten (re-enrolled at the next sign-in), sessions
    /// ended: for a forgotten password or a lost device.
    Reset {
        /// The account.
        name: String,
    },
}

/// Runs a `users` command against the configured database.
pub fn run(config: Option<PathBuf>, command: UsersCommand) -> Result<(), String> {
    let settings = super::load(config)?;
    let (_, mut conn) = super::migrated(&settings)?;
    let actor = cli_actor();
    let key = crate::protect::Protection::from_settings(&settings.storage)
        .map_err(|e| e.to_string())?
        .audit_key();
    let failed = |e: AccountError| e.to_string();
    match command {
        UsersCommand::Add {
            name,
            roles,
            display_name,
        } => {
            let password = accounts::add(
                &mut conn,
                &key,
                &name,
                display_name.as_deref(),
                &roles,
                &actor,
            )
            .map_err(failed)?;
            println!("console user `{name}` added with roles {roles}");
            println!("one-time password (shown once; it must be changed at the first sign-in):");
            println!("{password}");
        }
        UsersCommand::List => {
            let users =
                console::list_users(&mut conn).map_err(|e| format!("database error: {e}"))?;
            println!("{:<24} {:<36} {:<10} STATE", "NAME", "ROLES", "TOTP");
            for u in users {
                let state = match (u.disabled, u.must_change_password) {
                    (true, _) => "disabled",
                    (false, true) => "one-time password",
                    (false, false) => "active",
                };
                let totp = if u.totp_enrolled { "enrolled" } else { "-" };
                println!("{:<24} {:<36} {:<10} {state}", u.username, u.roles, totp);
            }
        }
        UsersCommand::Disable { name } => {
            accounts::set_disabled(&mut conn, &key, &name, true, &actor).map_err(failed)?;
            println!("console user `{name}` disabled; their sessions ended");
        }
        UsersCommand::Enable { name } => {
            accounts::set_disabled(&mut conn, &key, &name, false, &actor).map_err(failed)?;
            println!("console user `{name}` enabled");
        }
        UsersCommand::Reset { name } => {
            let password = accounts::reset(&mut conn, &key, &name, &actor).map_err(failed)?;
            println!("console user `{name}` reset: sessions ended, TOTP to be enrolled again");
            println!("one-time password (shown once; it must be changed at the first sign-in):");
            println!("{password}");
        }
    }
    Ok(())
}

/// `cli:LOGIN`: who ran an operator command, for its audit events.
pub fn cli_actor() -> String {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{login}")
}
