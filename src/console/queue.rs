//! The review queue: pending cases oldest first, with their age, reasons, mapping, and who has claimed each
//! (a claim lapses after `console.claim_minutes`). "Claim next" claims the oldest unclaimed case and opens it.
//! No personal field appears in any queue view.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Deserialize;

use super::session::{self, Role};
use super::{ConsoleError, Nav, page, read_form, see_other};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::store::console::{self, ClaimOutcome};
use crate::submission::Reference;

/// Cases per queue page.
const PAGE: i64 = 50;

/// Mounts the queue.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/queue", web::get().to(queue))
        .route("/queue/claim-next", web::post().to(claim_next));
}

/// One row.
struct Row {
    age: String,
    reference: Reference,
    received: String,
    received_iso: String,
    reasons: Vec<String>,
    mapping: String,
    claim: Option<String>,
    proposal: Option<String>,
}

#[derive(Template)]
#[template(path = "queue.html", config = "src/console/askama.toml")]
struct QueuePage {
    nav: Option<Nav>,
    csrf: String,
    total: i64,
    oldest: Option<String>,
    oldest_age: String,
    message: Option<String>,
    items: Vec<Row>,
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct QueueQuery {
    after: Option<String>,
    message: Option<String>,
}

/// "26 h", "3 h 12 min", "40 min", "2 d 4 h".
pub fn age(since: NaiveDateTime, now: NaiveDateTime) -> String {
    let d = now - since;
    let minutes = d.num_minutes().max(0);
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / (24 * 60), (m / 60) % 24),
    }
}

/// The display form of an instant: `2026-11-30 09:42 UTC`.
pub fn utc(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The `datetime` attribute form.
pub fn iso(t: NaiveDateTime) -> String {
    crate::store::audit_log::format_timestamp(t)
}

fn parse_after(text: &str) -> Option<(NaiveDateTime, Reference)> {
    let (micros, reference) = text.split_once('.')?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    Some((at, Reference::parse(reference)?))
}

async fn queue(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Reviewer)?;
    let q = web::Query::<QueueQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ConsoleError::BadRequest("the queue's parameters could not be read".into()))?;
    let after = q.after.as_deref().and_then(parse_after);
    let now = Utc::now().naive_utc();
    let (items, (total, oldest)) = with_db(&state, move |conn| {
        let items = console::queue(conn, after.as_ref().map(|(t, r)| (*t, r)), PAGE, now)?;
        Ok((items, console::queue_size(conn)?))
    })
    .await?;
    let next_page = (items.len() as i64 == PAGE)
        .then(|| items.last())
        .flatten()
        .map(|last| {
            format!(
                "{}.{}",
                last.received_at.and_utc().timestamp_micros(),
                last.reference
            )
        });
    let rows = items
        .into_iter()
        .map(|item| Row {
            age: age(item.received_at, now),
            received: utc(item.received_at),
            received_iso: iso(item.received_at),
            reasons: serde_json::from_str(&item.reasons).unwrap_or_default(),
            mapping: item.mapping_name,
            claim: item
                .claim
                .map(|c| format!("{} until {}", c.display_name, c.until.format("%H:%M UTC"))),
            proposal: item
                .proposal
                .map(|p| format!("proposed by {}", p.display_name)),
            reference: item.reference,
        })
        .collect();
    page(&QueuePage {
        nav: Some(Nav::of(&person, "queue")),
        csrf: person.csrf.clone(),
        total,
        oldest_age: oldest.map(|o| age(o, now)).unwrap_or_default(),
        oldest: oldest.map(utc),
        message: q.message.filter(|m| m.len() < 200),
        items: rows,
        next_page,
    })
}

/// Claims the oldest case nobody holds and opens it.
async fn claim_next(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Reviewer)?;
    let _: super::Button = read_form(&req, payload, &state, &person, 4096).await?;
    let minutes = state.settings.console.claim_minutes;
    let (subject, name) = (person.subject.clone(), person.display_name.clone());
    let key = state.protection.audit_key();
    let claimed = with_db(&state, move |conn| {
        let now = Utc::now().naive_utc();
        let until = now + Duration::milliseconds((minutes * 60_000.0) as i64);
        let mut after: Option<(NaiveDateTime, Reference)> = None;
        loop {
            let items = console::queue(conn, after.as_ref().map(|(t, r)| (*t, r)), PAGE, now)?;
            if items.is_empty() {
                return Ok(None);
            }
            for item in &items {
                let free = item.claim.as_ref().is_none_or(|c| c.subject == subject)
                    && item.proposal.as_ref().is_none_or(|p| p.subject != subject);
                if free
                    && let ClaimOutcome::Claimed(_) =
                        console::claim(conn, &key, &item.reference, &subject, &name, now, until)?
                {
                    return Ok(Some(item.reference.clone()));
                }
            }
            after = items.last().map(|i| (i.received_at, i.reference.clone()));
        }
    })
    .await?;
    Ok(match claimed {
        Some(reference) => see_other(&format!("/console/cases/{reference}")),
        None => see_other("/console/queue?message=No%20case%20is%20free%20to%20claim."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        let t0: NaiveDateTime = "2026-11-30T00:00:00".parse().expect("time");
        assert_eq!(age(t0, t0 + Duration::minutes(40)), "40 min");
        assert_eq!(age(t0, t0 + Duration::minutes(192)), "3 h 12 min");
        assert_eq!(age(t0, t0 + Duration::hours(52)), "2 d 4 h");
    }
}
