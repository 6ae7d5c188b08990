//! Console sessions: an opaque `__Host-` cookie whose SHA-256 names a row of `console_sessions`, so several
//! instances share sessions and the database never holds a usable id. A session ends after
//! `console.idle_minutes` without a request, `console.max_hours` after sign-in, or at sign-out. Every
//! state-changing form carries the session's CSRF token, compared in constant time.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine as _;
use chrono::{Duration, NaiveDateTime, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use super::ConsoleError;
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::auth::{AuthMethod, Principal, scopes};
use crate::store::console::{self, SessionRow};

/// The session cookie: `__Host-` pins it to this origin, path `/`, Secure.
pub const COOKIE: &str = "__Host-kyc-session";

/// Where a session is in signing in.
pub mod stage {
    /// A one-time password must be replaced first.
    pub const PASSWORD_CHANGE: &str = "password_change";
    /// The TOTP code is next.
    pub const TOTP: &str = "totp";
    /// A TOTP secret must be enrolled first.
    pub const TOTP_ENROL: &str = "totp_enrol";
    /// Signed in.
    pub const ACTIVE: &str = "active";
}

/// A console role; several may be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads records (masked), the audit trail, exports.
    Auditor,
    /// Works the review queue and decides cases.
    Reviewer,
    /// Sees personal fields (after stating a purpose).
    Pii,
    /// Views images.
    Images,
    /// Mappings, users, claims.
    Admin,
}

impl Role {
    /// The name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Reviewer => "reviewer",
            Role::Pii => "pii",
            Role::Images => "images",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Role> {
        [
            Role::Auditor,
            Role::Reviewer,
            Role::Pii,
            Role::Images,
            Role::Admin,
        ]
        .into_iter()
        .find(|r| r.as_str() == name.trim())
    }

    /// The API scopes the role stands for, so the console goes through the same checks as `/v1`.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Role::Auditor => &[scopes::KYC_READ],
            Role::Reviewer => &[scopes::KYC_READ, scopes::KYC_REVIEW],
            Role::Pii => &[scopes::KYC_READ_PII],
            Role::Images => &[scopes::KYC_IMAGES],
            Role::Admin => &[scopes::KYC_READ, scopes::KYC_ADMIN],
        }
    }
}

/// Parses a comma-separated role list, refusing unknown names.
pub fn parse_roles(text: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let role = Role::parse(name).ok_or_else(|| {
            format!(
                "`{name}` is not a role; roles are {}",
                crate::config::CONSOLE_ROLES.join(", ")
            )
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    Ok(roles)
}

/// The roles as stored (`auditor,pii`).
pub fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A signed-in person (or one part-way through signing in).
#[derive(Debug, Clone)]
pub struct Person {
    /// `user:NAME` or `oidc:SUB@ISSUER`: the actor of every audit event they cause.
    pub subject: String,
    /// Their name.
    pub display_name: String,
    /// Their roles.
    pub roles: Vec<Role>,
    /// The CSRF token of their session.
    pub csrf: String,
    /// Where they are in signing in.
    pub stage: String,
    id_hash: String,
}

impl Person {
    /// Whether they hold `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses unless they hold `role`.
    pub fn require(&self, role: Role) -> Result<(), ConsoleError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(role))
        }
    }

    /// The principal the shared `/v1` functions check scopes against and name in audit events.
    pub fn principal(&self) -> Principal {
        Principal {
            client_id: self.subject.clone(),
            scopes: self
                .roles
                .iter()
                .flat_map(|r| r.scopes().iter().map(|s| s.to_string()))
                .collect(),
            method: AuthMethod::Console,
        }
    }
}

/// A fresh random token (256 bits, base64url).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session; returns the cookie to set.
pub async fn start(
    state: &AppState,
    subject: String,
    display_name: String,
    roles: &[Role],
    stage: &str,
) -> Result<Cookie<'static>, ConsoleError> {
    let token = random_token();
    let now = Utc::now().naive_utc();
    let row = SessionRow {
        id_hash: hash(&token),
        subject,
        display_name,
        roles: roles_text(roles),
        csrf: random_token(),
        stage: stage.into(),
        created_at: now,
        last_seen_at: now,
    };
    with_db(state, move |conn| Ok(console::insert_session(conn, &row)?)).await?;
    Ok(cookie(token))
}

fn cookie(value: String) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

/// A cookie that removes the session cookie.
pub fn cleared() -> Cookie<'static> {
    let mut c = cookie(String::new());
    c.make_removal();
    c
}

/// The session of this request, in any stage; `None` without a live one. Ends sessions that timed out and
/// records activity on live ones.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<Person>, ConsoleError> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    let id_hash = hash(&token);
    let settings = &state.settings.console;
    let idle = Duration::milliseconds((settings.idle_minutes * 60_000.0) as i64);
    let max = Duration::milliseconds((settings.max_hours * 3_600_000.0) as i64);
    with_db(state, move |conn| {
        let Some(row) = console::find_session(conn, &id_hash)? else {
            return Ok(None);
        };
        let now = Utc::now().naive_utc();
        if expired(&row, now, idle, max) {
            console::end_session(conn, &id_hash)?;
            return Ok(None);
        }
        // Activity is written at most every `touch_every`, not on every request: a case page's four image
        // requests would otherwise be four concurrent writes of one row (on SQLite, four waits for the lock).
        if now - row.last_seen_at >= touch_every(idle) {
            console::touch_session(conn, &id_hash, now)?;
        }
        Ok(Some(Person {
            roles: parse_roles(&row.roles).unwrap_or_default(),
            subject: row.subject,
            display_name: row.display_name,
            csrf: row.csrf,
            stage: row.stage,
            id_hash,
        }))
    })
    .await
    .map_err(ConsoleError::from)
}

/// How often a session's activity is recorded: a tenth of the idle timeout, at most 30 seconds (so a session
/// may end up to that much before its idle timeout, never after).
fn touch_every(idle: Duration) -> Duration {
    (idle / 10).min(Duration::seconds(30))
}

fn expired(row: &SessionRow, now: NaiveDateTime, idle: Duration, max: Duration) -> bool {
    now - row.last_seen_at > idle || now - row.created_at > max
}

/// The signed-in person of this request, or a redirect to sign in (back to this page afterwards).
pub async fn require(req: &HttpRequest, state: &AppState) -> Result<Person, ConsoleError> {
    match current(req, state).await? {
        Some(person) if person.stage == stage::ACTIVE => Ok(person),
        Some(person) => Err(ConsoleError::Redirect(next_step(&person.stage).into())),
        None => Err(ConsoleError::SignIn {
            next: sign_in_target(req),
        }),
    }
}

/// Where a session in `stage` goes next.
pub fn next_step(stage: &str) -> &'static str {
    match stage {
        stage::PASSWORD_CHANGE => "/console/password",
        stage::TOTP => "/console/totp",
        stage::TOTP_ENROL => "/console/totp/enrol",
        _ => "/console/",
    }
}

/// The console page to come back to after signing in (never an outside URL).
fn sign_in_target(req: &HttpRequest) -> String {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/console/");
    if path.starts_with("/console/")
        && !path.starts_with("//")
        && req.method() == actix_web::http::Method::GET
    {
        path.to_string()
    } else {
        "/console/".into()
    }
}

/// Checks a form's CSRF token against the session's, in constant time.
pub fn check_csrf(person: &Person, given: &str) -> Result<(), ConsoleError> {
    use subtle::ConstantTimeEq;
    if bool::from(person.csrf.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(ConsoleError::Csrf)
    }
}

/// Moves a session to the next sign-in stage.
pub async fn advance(
    state: &AppState,
    person: &Person,
    to: &'static str,
) -> Result<(), ConsoleError> {
    let id_hash = person.id_hash.clone();
    with_db(state, move |conn| {
        Ok(console::set_session_stage(conn, &id_hash, to)?)
    })
    .await?;
    Ok(())
}

/// Ends a session.
pub async fn end(state: &AppState, person: &Person) -> Result<(), ConsoleError> {
    let id_hash = person.id_hash.clone();
    with_db(state, move |conn| Ok(console::end_session(conn, &id_hash)?)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_map_onto_scopes() {
        let roles = parse_roles("reviewer, pii,reviewer").expect("roles");
        assert_eq!(roles, [Role::Reviewer, Role::Pii]);
        assert!(parse_roles("reviewer,boss").is_err());
        let person = Person {
            subject: "user:alice".into(),
            display_name: "Alice".into(),
            roles,
            csrf: String::new(),
            stage: stage::ACTIVE.into(),
            id_hash: String::new(),
        };
        let p = person.principal();
        assert!(
            p.has(scopes::KYC_REVIEW) && p.has(scopes::KYC_READ_PII) && p.has(scopes::KYC_READ)
        );
        assert!(!p.has(scopes::KYC_IMAGES));
    }

    #[test]
    fn sessions_end_when_idle_or_too_old() {
        let t0: NaiveDateTime = "2026-11-30T10:00:00".parse().expect("time");
        let row = SessionRow {
            id_hash: String::new(),
            subject: String::new(),
            display_name: String::new(),
            roles: String::new(),
            csrf: String::new(),
            stage: stage::ACTIVE.into(),
            created_at: t0,
            last_seen_at: t0 + Duration::hours(7),
        };
        let (idle, max) = (Duration::minutes(15), Duration::hours(8));
        assert!(!expired(
            &row,
            t0 + Duration::hours(7) + Duration::minutes(10),
            idle,
            max
        ));
        assert!(expired(
            &row,
            t0 + Duration::hours(7) + Duration::minutes(16),
            idle,
            max
        ));
        let busy = SessionRow {
            last_seen_at: t0 + Duration::hours(8),
            ..row
        };
        assert!(expired(
            &busy,
            t0 + Duration::hours(8) + Duration::minutes(1),
            idle,
            max
        ));
    }
}
