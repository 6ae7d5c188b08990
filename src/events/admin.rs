//! What operators do with webhook endpoints, for `/v1/webhooks` and `kyc-receiver webhooks`: list them with
//! their delivery state and dead letters, pause and resume one, ask for redeliveries. Every change is an audit
//! event naming who asked.

use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use crate::config::WebhooksSettings;
use crate::store::audit_log::{AuditDraft, AuditKey, format_timestamp};
use crate::store::events::{self, DeadLetter};
use crate::store::{DbConnection, StoreError};

/// One endpoint as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    /// Its name.
    pub name: String,
    /// Scheme, host and path of its URL (the query is left out: it may hold a token).
    pub url: String,
    /// The kinds it takes (empty: all).
    pub events: Vec<String>,
    /// Paused by an operator.
    pub paused: bool,
    /// The last event handled.
    pub cursor: i64,
    /// Events written after it (not all of them are for this endpoint).
    pub behind: i64,
    /// Failed attempts at the next event.
    pub attempts: i32,
    /// When the next attempt is due (RFC 3339), when one failed.
    pub next_attempt_at: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Events delivered in all.
    pub delivered: i64,
    /// Dead letters (and redeliveries asked for).
    pub dead_letters: Vec<DeadLetterView>,
}

/// A dead letter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    /// The event's sequence number.
    pub seq: i64,
    /// Attempts made.
    pub attempts: i32,
    /// The last failure.
    pub last_error: String,
    /// When it was given up.
    pub dead_at: String,
    /// A redelivery is waiting.
    pub redeliver: bool,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> Self {
        DeadLetterView {
            seq: d.seq,
            attempts: d.attempts,
            last_error: d.last_error,
            dead_at: format_timestamp(d.dead_at),
            redeliver: d.redeliver,
        }
    }
}

/// Why an operator's request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No endpoint of that name is configured.
    #[error("no webhook endpoint named `{0}` is configured")]
    Unknown(String),
    /// No event with that sequence number.
    #[error("no event {0}")]
    NoEvent(i64),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        AdminError::Store(e.into())
    }
}

/// Every configured endpoint with its state.
pub fn list(
    conn: &mut DbConnection,
    settings: &WebhooksSettings,
) -> Result<Vec<EndpointView>, AdminError> {
    let head = events::head(conn)?;
    let mut out = Vec::with_capacity(settings.endpoints.len());
    for e in &settings.endpoints {
        events::ensure_endpoint(conn, &e.name, e.from_start)?;
        let Some(state) = events::state(conn, &e.name)? else {
            continue;
        };
        let url = reqwest::Url::parse(&e.url)
            .map(|mut u| {
                u.set_query(None);
                u.to_string()
            })
            .unwrap_or_default();
        out.push(EndpointView {
            name: e.name.clone(),
            url,
            events: e.events.clone(),
            paused: state.paused,
            cursor: state.cursor,
            behind: head - state.cursor,
            attempts: state.attempts,
            next_attempt_at: state.next_attempt_at.map(format_timestamp),
            last_error: state.last_error,
            delivered: state.delivered,
            dead_letters: events::dead_letters(conn, Some(&e.name))?
                .into_iter()
                .map(DeadLetterView::from)
                .collect(),
        });
    }
    Ok(out)
}

fn known(settings: &WebhooksSettings, name: &str) -> Result<(), AdminError> {
    if settings.endpoints.iter().any(|e| e.name == name) {
        Ok(())
    } else {
        Err(AdminError::Unknown(name.chars().take(64).collect()))
    }
}

/// Pauses or resumes an endpoint.
pub fn set_paused(
    conn: &mut DbConnection,
    key: &AuditKey,
    settings: &WebhooksSettings,
    name: &str,
    paused: bool,
    actor: &str,
) -> Result<(), AdminError> {
    known(settings, name)?;
    let kind = if paused {
        "webhook_paused"
    } else {
        "webhook_resumed"
    };
    crate::store::audit_log::in_chain(conn, key, |c, cursor| {
        events::set_paused(c, name, paused)?;
        let draft = AuditDraft {
            kind: kind.into(),
            actor: Some(actor.to_string()),
            reference: None,
            requester_id: None,
            details: json!({"endpoint": name}),
        };
        cursor.append(c, &draft, Utc::now().naive_utc())?;
        Ok(())
    })?;
    Ok(())
}

/// Asks for another delivery of event `seq` (a dead letter or any event already handled) or, without one, of
/// every dead letter of the endpoint. Returns how many.
pub fn redeliver(
    conn: &mut DbConnection,
    key: &AuditKey,
    settings: &WebhooksSettings,
    name: &str,
    seq: Option<i64>,
    actor: &str,
) -> Result<usize, AdminError> {
    known(settings, name)?;
    let now = Utc::now().naive_utc();
    let asked = crate::store::audit_log::in_chain(conn, key, |c, cursor| {
        events::ensure_endpoint(c, name, false)?;
        let n = events::request_redelivery(c, name, seq, now)?;
        if n > 0 {
            let draft = AuditDraft {
                kind: "webhook_redelivery_requested".into(),
                actor: Some(actor.to_string()),
                reference: None,
                requester_id: None,
                details: json!({"endpoint": name, "seq": seq, "count": n}),
            };
            cursor.append(c, &draft, now)?;
        }
        Ok(n)
    })?;
    if asked == 0
        && let Some(seq) = seq
    {
        return Err(AdminError::NoEvent(seq));
    }
    Ok(asked)
}
