//! The audit trail: events newest first with the `/v1/audit/events` filters, paged backwards by sequence
//! number, and "verify the trail", the same walk as `GET /v1/audit/verify` and `kyc-receiver audit verify`
//! (one at a time, retention checkpoints' MACs included). Event details never hold personal values.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::case::event_detail;
use super::queue::utc;
use super::session::{self, Person};
use super::{ConsoleError, Nav, page, read_form};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::auth::scopes;
use crate::records::{AuditFilterParams, decode_audit_cursor};
use crate::store::listing;

/// Events per page.
const PAGE: i64 = 100;

/// Mounts the audit pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(events))
        .route("/audit/verify", web::post().to(verify));
}

/// The filters as typed, for the form and the paging link.
#[derive(Debug, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<String>,
}

impl Filters {
    fn params(&self) -> AuditFilterParams {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        AuditFilterParams {
            since: given(&self.since),
            until: given(&self.until),
            kind: given(&self.kind),
            reference: given(&self.reference),
            actor: given(&self.actor),
        }
    }

    fn query(&self) -> String {
        super::query_string(&[
            ("kind", &self.kind),
            ("actor", &self.actor),
            ("reference", &self.reference),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

struct EventRow {
    seq: i64,
    time: String,
    kind: String,
    actor: String,
    reference: Option<String>,
    summary: String,
    hash: String,
    prev_hash: String,
}

/// The verification result as shown.
struct Verified {
    ok: bool,
    events: u64,
    records: u64,
    problem: String,
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/console/askama.toml")]
struct AuditPage {
    nav: Option<Nav>,
    csrf: String,
    verify: Option<Verified>,
    f: Filters,
    error: Option<String>,
    events: Vec<EventRow>,
    before: Option<i64>,
    query: String,
}

fn allowed(person: &Person) -> Result<(), ConsoleError> {
    if person.principal().has(scopes::KYC_READ) {
        Ok(())
    } else {
        Err(ConsoleError::Forbidden(session::Role::Auditor))
    }
}

async fn render(
    state: &AppState,
    person: &Person,
    f: Filters,
    verify: Option<Verified>,
) -> Result<HttpResponse, ConsoleError> {
    let before = match f.before.as_deref().filter(|b| !b.is_empty()) {
        Some(b) => Some(decode_audit_cursor(b).map_err(|e| ConsoleError::BadRequest(e.0))?),
        None => None,
    };
    let (events, error) = match f.params().parse() {
        Ok(filter) => {
            let events = with_db(state, move |conn| {
                Ok(listing::audit_page_newest(conn, &filter, before, PAGE)?)
            })
            .await?;
            (events, None)
        }
        Err(e) => (Vec::new(), Some(e.0)),
    };
    let older = (events.len() as i64 == PAGE)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    let rows = events
        .into_iter()
        .map(|e| {
            let details = serde_json::from_str(&e.details).unwrap_or_default();
            EventRow {
                seq: e.seq,
                time: utc(e.occurred_at),
                kind: e.kind,
                actor: e.actor.unwrap_or_default(),
                reference: e.reference.map(|r| r.to_string()),
                summary: event_detail(&details),
                hash: e.hash,
                prev_hash: e.prev_hash,
            }
        })
        .collect();
    page(&AuditPage {
        nav: Some(Nav::of(person, "audit")),
        csrf: person.csrf.clone(),
        verify,
        query: f.query(),
        f,
        error,
        events: rows,
        before: older,
    })
}

async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    allowed(&person)?;
    let f = web::Query::<Filters>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::BadRequest(format!("the filters could not be read: {e}")))?;
    render(&state, &person, f, None).await
}

/// Walks the chain and shows the result above the newest events.
async fn verify(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    allowed(&person)?;
    let _: super::Button = read_form(&req, payload, &state, &person, 4096).await?;
    // The same walk as `GET /v1/audit/verify`: one at a time, never a cached report.
    let report = crate::api::trail::verify_report(&state).await?;
    let problem = match (
        &report.first_broken_event,
        report.changed_submissions.first(),
        report.record_problems.first(),
        &report.heads_error,
    ) {
        (Some(p), ..) => format!(
            "Chain broken at event #{} ({}): {}.",
            p.seq, p.kind, p.detail
        ),
        (None, Some(first), ..) => format!(
            "{} record(s) no longer match their content hash, the first being {first}.",
            report.changed_submissions.len()
        ),
        (None, None, Some(p), _) => format!(
            "{} record(s) do not match their history, the first being {} ({}): {}.",
            report.record_problems.len(),
            p.reference,
            p.kind,
            p.detail
        ),
        (None, None, None, Some(e)) => format!("The signed heads could not be used: {e}."),
        (None, None, None, None) => String::new(),
    };
    let verified = Verified {
        ok: report.ok,
        events: report.events_checked,
        records: report.submissions_checked,
        problem,
    };
    render(&state, &person, Filters::default(), Some(verified)).await
}
