//! Local console accounts, for `kyc-receiver users add|list|disable|enable|reset` and the sign-in pages: a
//! one-time password (argon2id) that must be changed at the first sign-in, roles, and a TOTP second factor
//! that is required for roles revealing personal data or images ([`needs_totp`]).

use chrono::Utc;
use serde_json::json;

use super::session::{Role, parse_roles, roles_text};
use crate::auth::{generate_client_secret, hash_secret};
use crate::store::DbConnection;
use crate::store::audit_log::{AuditDraft, AuditKey, append_alone};
use crate::store::console::{self, UserRow};

/// Shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// An account could not be made or changed; the message says why (never a password).
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A name, role or password that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// No such account.
    #[error("no console user `{0}`")]
    Unknown(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
}

/// Whether a person with these roles must use a TOTP second factor: anyone who can reveal personal data or
/// images, or administer.
pub fn needs_totp(roles: &[Role]) -> bool {
    roles
        .iter()
        .any(|r| matches!(r, Role::Pii | Role::Images | Role::Admin))
}

/// Checks a user name: 1 to 64 of `a-z 0-9 . _ -`.
pub fn check_username(name: &str) -> Result<(), AccountError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AccountError::Invalid(
            "a user name is 1 to 64 characters of a-z, 0-9, `.`, `_` and `-`".into(),
        ))
    }
}

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] characters, not only spaces.
pub fn check_new_password(password: &str) -> Result<(), AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.trim().is_empty() {
        return Err(AccountError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Records an account change in the audit trail (names and roles, never a password).
fn record(
    conn: &mut DbConnection,
    key: &AuditKey,
    kind: &str,
    actor: &str,
    details: serde_json::Value,
) -> Result<(), AccountError> {
    append_alone(
        conn,
        key,
        &AuditDraft {
            kind: kind.into(),
            actor: Some(actor.into()),
            reference: None,
            requester_id: None,
            details,
        },
    )?;
    Ok(())
}

/// Adds an account; returns its one-time password (shown once, stored only as a hash). `actor` is who did
/// it (`cli:LOGIN`), named in the audit event.
pub fn add(
    conn: &mut DbConnection,
    key: &AuditKey,
    username: &str,
    display_name: Option<&str>,
    roles: &str,
    actor: &str,
) -> Result<String, AccountError> {
    check_username(username)?;
    let roles = parse_roles(roles).map_err(AccountError::Invalid)?;
    if roles.is_empty() {
        return Err(AccountError::Invalid("give at least one role".into()));
    }
    if console::find_user(conn, username)?.is_some() {
        return Err(AccountError::Invalid(format!(
            "console user `{username}` exists; use `users reset`"
        )));
    }
    let password = generate_client_secret();
    let hash = hash_secret(&password).map_err(|e| AccountError::Invalid(e.to_string()))?;
    console::insert_user(
        conn,
        &UserRow {
            username: username.into(),
            display_name: display_name.unwrap_or(username).into(),
            password_hash: hash,
            must_change_password: true,
            roles: roles_text(&roles),
            totp_key_id: None,
            totp_nonce: None,
            totp_ciphertext: None,
            totp_enrolled: false,
            totp_last_step: None,
            disabled: false,
            created_at: Utc::now().naive_utc(),
        },
    )?;
    record(
        conn,
        key,
        "console_user_added",
        actor,
        json!({"username": username, "roles": roles_text(&roles)}),
    )?;
    Ok(password)
}

/// Gives an account a new one-time password, forgets its TOTP secret (a lost device) and ends its sessions.
pub fn reset(
    conn: &mut DbConnection,
    key: &AuditKey,
    username: &str,
    actor: &str,
) -> Result<String, AccountError> {
    if console::find_user(conn, username)?.is_none() {
        return Err(AccountError::Unknown(username.into()));
    }
    let password = generate_client_secret();
    let hash = hash_secret(&password).map_err(|e| AccountError::Invalid(e.to_string()))?;
    console::set_password(conn, username, &hash, true)?;
    console::set_totp(conn, username, None, false)?;
    console::end_sessions_of(conn, &format!("user:{username}"))?;
    record(
        conn,
        key,
        "console_user_reset",
        actor,
        json!({"username": username}),
    )?;
    Ok(password)
}

/// Disables (`true`) or enables an account; disabling ends its sessions.
pub fn set_disabled(
    conn: &mut DbConnection,
    key: &AuditKey,
    username: &str,
    disabled: bool,
    actor: &str,
) -> Result<(), AccountError> {
    if console::set_disabled(conn, username, disabled)? == 0 {
        return Err(AccountError::Unknown(username.into()));
    }
    let kind = if disabled {
        "console_user_disabled"
    } else {
        "console_user_enabled"
    };
    record(conn, key, kind, actor, json!({"username": username}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_username("alice.smith-2").is_ok());
        for bad in ["", "Alice", "a b", "al:ice", &"a".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("            ").is_err());
        assert!(check_new_password("correct horse battery").is_ok());
    }

    #[test]
    fn totp_is_required_for_roles_that_reveal() {
        assert!(!needs_totp(&[Role::Reviewer, Role::Auditor]));
        assert!(needs_totp(&[Role::Reviewer, Role::Pii]));
        assert!(needs_totp(&[Role::Images]));
        assert!(needs_totp(&[Role::Admin]));
    }
}
