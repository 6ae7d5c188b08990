//! Quarantine (admin): refused submissions kept for replay — state, error, size, requester id — with a dry run,
//! a replay and a drop for each, the same functions as `/v1/quarantine` and `kyc-receiver quarantine`. Bodies are
//! not shown here (the API and the command line open them for `kyc:read_pii`, audited). And, for everyone who
//! reads records, any mapping version by its hash, as it was activated.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, Person, Role};
use super::{Button, ConsoleError, Nav, page, read_form, see_other};
use crate::api::AppState;
use crate::api::reads::with_db;
use crate::quarantine::{self, EntryView, ReplayReport};
use crate::store::quarantine::{self as rows, QUARANTINED, QuarantineFilter};

/// Entries one page shows.
const PAGE: i64 = 200;

/// Mounts the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/quarantine", web::get().to(list))
        .route("/admin/quarantine/{id}/{action}", web::post().to(act))
        .route("/mappings/{sha256}", web::get().to(version));
}

#[derive(Template)]
#[template(path = "quarantine.html", config = "src/console/askama.toml")]
struct QuarantinePage {
    nav: Option<Nav>,
    csrf: String,
    state: String,
    items: Vec<EntryView>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    message: Option<String>,
}

async fn list(
    req: HttpRequest,
    q: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Admin)?;
    let q = q.into_inner();
    let wanted = match q.state.as_deref() {
        Some("replayed") => "replayed",
        Some("all") => "all",
        _ => QUARANTINED,
    };
    let filter = QuarantineFilter {
        state: (wanted != "all").then(|| wanted.to_string()),
        ..QuarantineFilter::default()
    };
    let items = with_db(&state, move |conn| {
        Ok(rows::list(conn, &filter, None, PAGE)?)
    })
    .await?;
    page(&QuarantinePage {
        nav: Some(Nav::of(&person, "quarantine")),
        csrf: person.csrf.clone(),
        state: wanted.to_string(),
        items: items.into_iter().map(EntryView::from).collect(),
        message: q.message.filter(|m| m.len() < 400),
    })
}

async fn act(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Admin)?;
    let _: Button = read_form(&req, payload, &state, &person, 4096).await?;
    let (id, action) = path.into_inner();
    if !quarantine::valid_id(&id) {
        return Err(ConsoleError::NotFound);
    }
    let actor = format!("console:{}", person.subject);
    let message = match action.as_str() {
        "dry-run" | "replay" => {
            let env = crate::api::quarantine::env(&state);
            let report = quarantine::replay(&env, &id, &actor, action == "dry-run")
                .await
                .map_err(crate::api::ApiError::from)?;
            describe(&report)
        }
        "drop" => {
            let wanted = id.clone();
            let key = state.protection.audit_key();
            let dropped = with_db(&state, move |conn| {
                Ok(quarantine::drop_entry(conn, &key, &wanted, &actor)?)
            })
            .await?;
            if !dropped {
                return Err(ConsoleError::NotFound);
            }
            format!("{id} dropped.")
        }
        _ => return Err(ConsoleError::NotFound),
    };
    Ok(see_other(&format!(
        "/console/admin/quarantine?message={}",
        super::percent_encode(&message)
    )))
}

/// One sentence about a replay's outcome.
fn describe(r: &ReplayReport) -> String {
    let decision = r.decision.as_deref().unwrap_or("-").replace('_', " ");
    let reasons = if r.reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", r.reasons.join(", "))
    };
    let error = r
        .error
        .as_ref()
        .map(|e| format!("{} {}: {}", e.status, e.code, e.message))
        .unwrap_or_default();
    let reference = r.reference.as_deref().unwrap_or("-");
    match r.outcome.as_str() {
        "would_store" => format!(
            "Dry run of {}: would be stored as {decision}{reasons} by mapping {}.",
            r.id,
            r.mapping.as_deref().unwrap_or("-")
        ),
        "would_refuse" => format!("Dry run of {}: still refused, {error}.", r.id),
        "stored" => format!("{} stored as {reference}, {decision}{reasons}.", r.id),
        "already_stored" => format!(
            "{}: the same submission was already stored as {reference}; the entry is marked replayed.",
            r.id
        ),
        "already_replayed" => format!("{} was already replayed as {reference}.", r.id),
        _ => format!("{} is still refused: {error}.", r.id),
    }
}

#[derive(Template)]
#[template(path = "mapping_version.html", config = "src/console/askama.toml")]
struct VersionPage {
    nav: Option<Nav>,
    name: String,
    file_name: String,
    sha256: String,
    first_seen: String,
    content: String,
}

async fn version(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person: Person = session::require(&req, &state).await?;
    let hash = path.into_inner();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ConsoleError::NotFound);
    }
    let found = with_db(&state, move |conn| {
        Ok(crate::store::mapping_versions::find(conn, &hash)?)
    })
    .await?;
    let v = found.into_iter().next().ok_or(ConsoleError::NotFound)?;
    page(&VersionPage {
        nav: Some(Nav::of(&person, "search")),
        name: v.name,
        file_name: v.file_name,
        first_seen: super::queue::utc(v.first_seen_at),
        sha256: v.sha256,
        content: v.content,
    })
}
