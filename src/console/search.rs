//! Search: every filter of `/v1/submissions` with keyset paging (the same `records::summary_page`), an exact
//! reference that opens its case, a user-id search sent in a form body (never in an address), and export of
//! the current filter as CSV or JSON Lines through the shared exporter (audited when unmasked). The result
//! list shows no personal field for any role.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::queue::utc;
use super::session::{self, Person};
use super::{ConsoleError, Nav, page, read_form, see_other};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::decision::Status;
use crate::records::export::{CsvCells, Format};
use crate::records::{Cursor, FilterParams, SubmissionSummary};
use crate::submission::Reference;

/// Rows per page.
const PAGE: i64 = 50;

/// Mounts search and export.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/search", web::get().to(search))
        .route("/search", web::post().to(search_user))
        .route("/export", web::get().to(export));
}

/// The filters as given, for the form and the paging links.
#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    document_status: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    cursor: Option<String>,
    format: Option<String>,
}

impl SearchQuery {
    fn filters(&self, user_id: Option<String>) -> FilterParams {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        FilterParams {
            since: given(&self.since),
            until: given(&self.until),
            user_id,
            decision: given(&self.decision),
            status: given(&self.status),
            document_status: given(&self.document_status),
            reason: given(&self.reason),
            requester_id: None,
            document_number: None,
        }
    }

    /// The non-personal filters as a query string (for paging and export links).
    fn query(&self) -> String {
        super::query_string(&[
            ("decision", &self.decision),
            ("status", &self.status),
            ("reason", &self.reason),
            ("document_status", &self.document_status),
            ("since", &self.since),
            ("until", &self.until),
        ])
    }
}

struct Item {
    reference: Reference,
    received: String,
    decision: String,
    status: String,
    status_text: String,
    overridden: bool,
    reasons: Vec<String>,
    mapping: String,
}

#[derive(Template)]
#[template(path = "search.html", config = "src/console/askama.toml")]
struct SearchPage {
    nav: Option<Nav>,
    csrf: String,
    f: SearchQuery,
    statuses: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    query: String,
    masked: bool,
    items: Vec<Item>,
    next_cursor: Option<String>,
}

fn statuses() -> Vec<(&'static str, &'static str)> {
    let mut options = vec![("", "any")];
    options.extend(Status::ALL.iter().map(|s| (s.as_str(), label(*s))));
    options
}

fn label(status: Status) -> &'static str {
    match status {
        Status::Approved => "Approved",
        Status::Rejected => "Rejected",
        Status::PendingReview => "Pending review",
    }
}

fn item(s: SubmissionSummary) -> Item {
    Item {
        received: chrono::DateTime::parse_from_rfc3339(&s.received_at)
            .map(|t| utc(t.naive_utc()))
            .unwrap_or(s.received_at),
        decision: label(s.decision).into(),
        status: s.status.to_string(),
        status_text: label(s.status).into(),
        overridden: s.status != s.decision,
        reasons: s.reasons,
        mapping: s.mapping_name,
        reference: s.reference,
    }
}

async fn run(
    state: &AppState,
    person: &Person,
    q: SearchQuery,
    user_id: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let query = q.query();
    let parsed = q.filters(user_id).parse(&state.protection);
    let cursor = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(Cursor::decode(c).map_err(|e| ConsoleError::BadRequest(e.0))?),
        None => None,
    };
    let (items, next_cursor, error) = match parsed {
        Ok(filter) => {
            let protection = state.protection.clone();
            let (items, next) = with_db(state, move |conn| {
                Ok(crate::records::summary_page(
                    conn,
                    &filter,
                    cursor.as_ref(),
                    PAGE,
                    &protection,
                    false,
                )?)
            })
            .await?;
            (items.into_iter().map(item).collect(), next, None)
        }
        Err(e) => (Vec::new(), None, Some(e.0)),
    };
    page(&SearchPage {
        nav: Some(Nav::of(person, "search")),
        csrf: person.csrf.clone(),
        f: q,
        statuses: statuses(),
        error,
        query,
        masked: !person.has(session::Role::Pii),
        items,
        next_cursor,
    })
}

async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    let q = web::Query::<SearchQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::BadRequest(format!("the search could not be read: {e}")))?;
    // An exact reference opens its case.
    if let Some(reference) = Reference::parse(q.reference.trim()) {
        return Ok(see_other(&format!("/console/cases/{reference}")));
    }
    run(&state, &person, q, None).await
}

#[derive(Deserialize)]
struct UserForm {
    user_id: String,
}

async fn search_user(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    let form: UserForm = read_form(&req, payload, &state, &person, 8 * 1024).await?;
    run(&state, &person, SearchQuery::default(), Some(form.user_id)).await
}

/// The current filter's records as CSV or JSON Lines (personal fields masked unless the pii role).
async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    let q = web::Query::<SearchQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| ConsoleError::BadRequest(format!("the export could not be read: {e}")))?;
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("csv")
        .parse()
        .map_err(|e: crate::records::QueryError| ConsoleError::BadRequest(e.0))?;
    let purpose = person.has(session::Role::Pii).then_some("console export");
    crate::api::export::stream_export(
        &state,
        &person.principal(),
        q.filters(None),
        format,
        CsvCells::Neutralized,
        purpose,
    )
    .await
    .map_err(ConsoleError::from)
}
