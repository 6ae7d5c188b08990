//! The case page: why the case is here (each reason with the rule that gave it and the values it looked at),
//! the evidence (images side by side, loaded only when asked, each view audited), the canonical fields
//! (masked; revealed for a stated purpose, audited), claim and release, the review form (with four eyes: a
//! proposal a second reviewer confirms), and the case's history. It reads through `records::load_detail`,
//! reviews through the writer, and records reads with `audit_read`: the same paths as `/v1`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::queue::{age, iso, utc};
use super::session::{self, Person, Role};
use super::{ConsoleError, Nav, page, read_form, see_other};
use crate::api::AppState;
use crate::api::reads::{audit_read, with_db};
use crate::decision::{ReviewDecision, Status};
use crate::records::view::MASK;
use crate::records::{SubmissionDetail, load_detail};
use crate::store::console::{self, ClaimOutcome, ClaimRow, ProposalRow, ProposeOutcome};
use crate::store::images;
use crate::store::review::{ReviewOutcome, ReviewRequest};
use crate::submission::Reference;

/// Largest case form (a note of 4000 characters, urlencoded).
const MAX_FORM: usize = 64 * 1024;

/// Mounts the case routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/cases/{reference}", web::get().to(show))
        .route("/cases/{reference}/reveal", web::post().to(reveal))
        .route("/cases/{reference}/images/{kind}", web::get().to(image))
        .route("/cases/{reference}/claim", web::post().to(claim))
        .route("/cases/{reference}/release", web::post().to(release))
        .route("/cases/{reference}/review", web::post().to(review))
        .route("/cases/{reference}/confirm", web::post().to(confirm))
        .route("/cases/{reference}/return", web::post().to(give_back));
}

struct ReasonView {
    code: String,
    kind: &'static str,
    rule: Option<String>,
    values: Vec<(String, String)>,
}

struct ImageView {
    kind: String,
    label: String,
    content_type: String,
    size: String,
}

struct ProposalView {
    decision: String,
    by: String,
    at: String,
    note: String,
    mine: bool,
}

struct EventView {
    seq: i64,
    time: String,
    kind: String,
    actor: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "case.html", config = "src/console/askama.toml")]
struct CasePage {
    nav: Option<Nav>,
    csrf: String,
    reference: Reference,
    status: String,
    status_text: String,
    status_icon: &'static str,
    message: Option<String>,
    revealed: bool,
    purpose: String,
    erased: Option<String>,
    received: String,
    received_iso: String,
    age: String,
    decision: String,
    requester_id: String,
    client: String,
    mapping: String,
    mapping_hash: String,
    mapping_hash_full: String,
    mapping_changed: bool,
    content_ok: bool,
    claim: Option<String>,
    can_claim: bool,
    claimed_by_me: bool,
    reasons: Vec<ReasonView>,
    can_images: bool,
    show_images: bool,
    images: Vec<ImageView>,
    fields: Vec<(String, String, bool)>,
    can_reveal: bool,
    proposal: Option<ProposalView>,
    can_review: bool,
    four_eyes: bool,
    reviews: Vec<(String, String, String, String)>,
    events: Vec<EventView>,
    events_truncated: bool,
}

#[derive(Deserialize)]
struct ShowQuery {
    show: Option<String>,
    message: Option<String>,
}

fn reference_of(path: &str) -> Result<Reference, ConsoleError> {
    Reference::parse(path).ok_or(ConsoleError::NotFound)
}

/// Everything the page shows, read in one blocking call.
struct Loaded {
    detail: SubmissionDetail,
    claim: Option<ClaimRow>,
    proposal: Option<ProposalRow>,
}

async fn load(
    state: &AppState,
    reference: &Reference,
    unmask: bool,
) -> Result<Loaded, ConsoleError> {
    let (protection, wanted) = (state.protection.clone(), reference.clone());
    with_db(state, move |conn| {
        let detail = load_detail(conn, &wanted, &protection, unmask)?
            .ok_or(crate::api::ApiError::NotFound)?;
        let now = Utc::now().naive_utc();
        Ok(Loaded {
            claim: console::claim_of(conn, &wanted, now)?,
            proposal: console::proposal_of(conn, &wanted)?,
            detail,
        })
    })
    .await
    .map_err(ConsoleError::from)
}

async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    let reference = reference_of(&path)?;
    let q = web::Query::<ShowQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ConsoleError::BadRequest("the page's parameters could not be read".into()))?;
    let loaded = load(&state, &reference, false).await?;
    let show_images = q.show.as_deref() == Some("images");
    render(&state, &person, loaded, show_images, None, q.message)
}

#[derive(Deserialize)]
struct RevealForm {
    purpose: String,
    ticket: Option<String>,
}

/// Shows the case with its personal fields, after recording who, why and which fields.
async fn reveal(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Pii)?;
    let reference = reference_of(&path)?;
    let form: RevealForm = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    let purpose = match form
        .ticket
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(ticket) => format!("{} ({ticket})", form.purpose.trim()),
        None => form.purpose.trim().to_string(),
    };
    let purpose = state
        .settings
        .audit
        .check_purpose(Some(&purpose))
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?
        .ok_or_else(|| ConsoleError::BadRequest("say why you reveal personal data".into()))?;
    let loaded = load(&state, &reference, true).await?;
    let details =
        json!({"endpoint": "console", "fields": loaded.detail.pii_fields, "purpose": purpose});
    audit_read(
        &state,
        &person.principal(),
        "personal_data_read",
        Some(reference.clone()),
        details,
    )
    .await?;
    render(&state, &person, loaded, false, Some(purpose), None)
}

fn status_view(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Approved => ("Approved", "check"),
        Status::Rejected => ("Rejected", "x"),
        Status::PendingReview => ("Pending review", "clock"),
    }
}

/// Names of the canonical fields a rule's `when` looks at (`${fields.NAME}`).
fn rule_fields(rule: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = rule;
    while let Some(i) = rest.find("${fields.") {
        rest = &rest[i + 9..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..end].to_string();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn show_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(missing)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn render(
    state: &AppState,
    person: &Person,
    loaded: Loaded,
    show_images: bool,
    purpose: Option<String>,
    message: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let Loaded {
        detail,
        claim,
        proposal,
    } = loaded;
    let s = &detail.summary;
    let now = Utc::now().naive_utc();
    let received_at = chrono::DateTime::parse_from_rfc3339(&s.received_at)
        .map(|t| t.naive_utc())
        .unwrap_or(now);
    let mappings = state.mappings.current();
    let mapping = mappings.get(&s.mapping_name);
    let mapping_changed = mapping.is_none_or(|m| m.sha256 != s.mapping_hash);
    let reasons = detail
        .summary
        .reasons
        .iter()
        .map(|code| {
            let rule = mapping.and_then(|m| m.rule_text(code)).map(str::to_string);
            let kind = mapping
                .and_then(|m| m.rule_reasons().into_iter().find(|r| &r.code == code))
                .map_or("review", |r| r.decision.as_str());
            let values = rule
                .as_deref()
                .map(rule_fields)
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    let v = show_value(s.fields.get(&f));
                    (f, v)
                })
                .collect();
            ReasonView {
                code: code.clone(),
                kind,
                rule: rule.map(|r| r.split_whitespace().collect::<Vec<_>>().join(" ")),
                values,
            }
        })
        .collect();
    let label = |kind: &str| match kind {
        "selfie" => "Selfie".to_string(),
        "portrait" => "Document portrait".to_string(),
        "front" => "Document front".to_string(),
        "back" => "Document back".to_string(),
        other => other.to_string(),
    };
    // Fixed order: selfie beside the portrait, then front and back.
    let order = |kind: &str| {
        ["selfie", "portrait", "front", "back"]
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(9)
    };
    let mut images: Vec<ImageView> = detail
        .images
        .iter()
        .filter(|i| i.kind != "raw_payload")
        .map(|i| ImageView {
            kind: i.kind.clone(),
            label: label(&i.kind),
            content_type: i.content_type.clone(),
            size: format!("{} KB", i.byte_len / 1024),
        })
        .collect();
    images.sort_by_key(|i| order(&i.kind));
    let fields = s
        .fields
        .iter()
        .map(|(name, value)| {
            let masked = value.as_str() == Some(MASK) && detail.pii_fields.contains(name);
            (name.clone(), show_value(Some(value)), masked)
        })
        .collect();
    let pending = s.status == Status::PendingReview;
    let claimed_by_me = claim.as_ref().is_some_and(|c| c.subject == person.subject);
    let claimed_by_other = claim.as_ref().is_some_and(|c| c.subject != person.subject);
    let reviewer = person.has(Role::Reviewer);
    let (status_text, status_icon) = status_view(s.status);
    let revealed = purpose.is_some();
    let page_view = CasePage {
        nav: Some(Nav::of(person, "queue")),
        csrf: person.csrf.clone(),
        reference: s.reference.clone(),
        status: if proposal.is_some() {
            "proposed".into()
        } else {
            s.status.to_string()
        },
        status_text: if proposal.is_some() {
            "Awaiting confirmation".into()
        } else {
            status_text.into()
        },
        status_icon: if proposal.is_some() {
            "eyes"
        } else {
            status_icon
        },
        message: message.filter(|m| m.len() < 200),
        revealed,
        purpose: purpose.unwrap_or_default(),
        erased: s.erased_at.clone(),
        received: utc(received_at),
        received_iso: iso(received_at),
        age: age(received_at, now),
        decision: status_view(s.decision).0.into(),
        requester_id: s.requester_id.clone(),
        client: s.client_id.clone().unwrap_or_else(|| "—".into()),
        mapping: s.mapping_name.clone(),
        mapping_hash: s.mapping_hash.chars().take(12).collect(),
        mapping_hash_full: s.mapping_hash.clone(),
        mapping_changed,
        content_ok: detail.content_hash_ok,
        claim: claim
            .as_ref()
            .map(|c| format!("{} until {}", c.display_name, utc(c.until))),
        can_claim: reviewer && pending && !claimed_by_other,
        claimed_by_me,
        reasons,
        can_images: person.has(Role::Images),
        show_images: show_images && person.has(Role::Images),
        images,
        fields,
        can_reveal: person.has(Role::Pii),
        proposal: proposal.map(|p| ProposalView {
            decision: p.decision.to_string(),
            mine: p.subject == person.subject,
            by: p.display_name,
            at: utc(p.created_at),
            note: p.note,
        }),
        can_review: reviewer && pending && !claimed_by_other,
        four_eyes: state.settings.console.four_eyes,
        reviews: detail
            .reviews
            .iter()
            .map(|r| {
                (
                    r.created_at.clone(),
                    r.reviewer.clone(),
                    r.decision.to_string(),
                    r.note.clone(),
                )
            })
            .collect(),
        events: detail
            .audit_events
            .iter()
            .map(|e| EventView {
                seq: e.seq,
                time: e
                    .occurred_at
                    .chars()
                    .take(19)
                    .collect::<String>()
                    .replace('T', " "),
                kind: e.kind.clone(),
                actor: e.actor.clone().unwrap_or_else(|| "—".into()),
                detail: event_detail(&e.details),
            })
            .collect(),
        events_truncated: detail.audit_events_truncated,
    };
    page(&page_view)
}

/// A one-line summary of an event's details for the history table (they never hold personal values).
pub(super) fn event_detail(details: &Value) -> String {
    let Some(map) = details.as_object() else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| !k.ends_with("hash") && !k.ends_with("hmac") && *k != "payload_digest")
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One stored image of a case, audited before it is sent.
async fn image(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Images)?;
    let (reference, kind) = path.into_inner();
    let reference = reference_of(&reference)?;
    if kind == "raw_payload" {
        return Err(ConsoleError::NotFound);
    }
    let (protection, wanted, wanted_kind) =
        (state.protection.clone(), reference.clone(), kind.clone());
    let (content_type, bytes) = with_db(&state, move |conn| {
        let Some(image) = images::find(conn, &wanted, &wanted_kind)? else {
            return Err(crate::api::ApiError::NotFound);
        };
        let bytes = protection
            .open_image(&wanted, &image)
            .map_err(|e| crate::api::ApiError::internal(&e))?;
        Ok((image.content_type, bytes))
    })
    .await?;
    let details = json!({"kind": kind, "byte_len": bytes.len(), "via": "console"});
    audit_read(
        &state,
        &person.principal(),
        "image_read",
        Some(reference),
        details,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{kind}\""),
        ))
        .body(bytes))
}

fn case_url(reference: &Reference, message: &str) -> String {
    format!(
        "/console/cases/{reference}?message={}",
        super::percent_encode(message)
    )
}

async fn claim(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (person, reference) = reviewer_post(&req, &path, payload, &state).await?;
    let minutes = state.settings.console.claim_minutes;
    let (wanted, subject, name) = (
        reference.clone(),
        person.subject.clone(),
        person.display_name.clone(),
    );
    let key = state.protection.audit_key();
    let outcome = with_db(&state, move |conn| {
        let now = Utc::now().naive_utc();
        let until = now + Duration::milliseconds((minutes * 60_000.0) as i64);
        Ok(console::claim(
            conn, &key, &wanted, &subject, &name, now, until,
        )?)
    })
    .await?;
    match outcome {
        ClaimOutcome::Claimed(until) => Ok(see_other(&case_url(
            &reference,
            &format!("Claimed until {}.", utc(until)),
        ))),
        ClaimOutcome::Taken { by, until } => Err(ConsoleError::Conflict(format!(
            "{by} has claimed this case until {}.",
            utc(until)
        ))),
        ClaimOutcome::NotPending => Err(ConsoleError::Conflict(
            "The case is no longer pending review.".into(),
        )),
    }
}

async fn release(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (person, reference) = reviewer_post(&req, &path, payload, &state).await?;
    let (wanted, subject) = (reference.clone(), person.subject.clone());
    let key = state.protection.audit_key();
    with_db(&state, move |conn| {
        Ok(console::release(
            conn,
            &key,
            &wanted,
            &subject,
            Utc::now().naive_utc(),
        )?)
    })
    .await?;
    Ok(see_other(&case_url(&reference, "Released.")))
}

#[derive(Deserialize)]
struct ReviewForm {
    decision: String,
    note: String,
}

/// A reviewer's decision: recorded at once, or, with four eyes, proposed for a second reviewer.
async fn review(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Reviewer)?;
    let reference = reference_of(&path)?;
    let form: ReviewForm = read_form(&req, payload, &state, &person, MAX_FORM).await?;
    let decision = ReviewDecision::parse(&form.decision)
        .ok_or_else(|| ConsoleError::BadRequest("choose Approve or Reject".into()))?;
    let note = form.note.trim().to_string();
    if note.is_empty() || form.note.chars().count() > crate::api::review::MAX_NOTE_CHARS {
        return Err(ConsoleError::BadRequest(
            "a note of 1 to 4000 characters says why".into(),
        ));
    }
    ensure_not_claimed_by_other(&state, &reference, &person).await?;
    let note_hmac = state.protection.note_hmac(&note);
    if state.settings.console.four_eyes {
        let proposal = ProposalRow {
            reference: reference.clone(),
            subject: person.subject.clone(),
            display_name: person.display_name.clone(),
            decision,
            note,
            note_hmac,
            created_at: crate::store::audit_log::truncate_to_micros(Utc::now().naive_utc()),
        };
        let key = state.protection.audit_key();
        let outcome = with_db(&state, move |conn| {
            Ok(console::propose(
                conn,
                &key,
                &proposal,
                Utc::now().naive_utc(),
            )?)
        })
        .await?;
        return match outcome {
            ProposeOutcome::Proposed => Ok(see_other(&case_url(
                &reference,
                "Proposed; a second reviewer must confirm it.",
            ))),
            ProposeOutcome::NotPending => Err(ConsoleError::Conflict(
                "The case is no longer pending, or already has a proposal.".into(),
            )),
        };
    }
    decide(&state, &person, &reference, decision, note, note_hmac, None).await
}

async fn ensure_not_claimed_by_other(
    state: &AppState,
    reference: &Reference,
    person: &Person,
) -> Result<(), ConsoleError> {
    let wanted = reference.clone();
    let claim = with_db(state, move |conn| {
        Ok(console::claim_of(conn, &wanted, Utc::now().naive_utc())?)
    })
    .await?;
    match claim {
        Some(c) if c.subject != person.subject => Err(ConsoleError::Conflict(format!(
            "{} has claimed this case until {}.",
            c.display_name,
            utc(c.until)
        ))),
        _ => Ok(()),
    }
}

/// Records the decision through the writer (review row, new status, content hash, audit event).
async fn decide(
    state: &AppState,
    person: &Person,
    reference: &Reference,
    decision: ReviewDecision,
    note: String,
    note_hmac: String,
    proposed_by: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    let request = ReviewRequest {
        reference: reference.clone(),
        reviewer: person.subject.clone(),
        decision,
        note,
        note_hmac,
        proposed_by,
    };
    match state
        .writer
        .review(request)
        .await
        .map_err(crate::api::ApiError::from)?
    {
        ReviewOutcome::Reviewed(_) => Ok(see_other(&case_url(
            reference,
            &format!("Decided: {decision}."),
        ))),
        ReviewOutcome::NotFound => Err(ConsoleError::NotFound),
        ReviewOutcome::NotPending { status } => Err(ConsoleError::Conflict(format!(
            "The case is no longer pending review (it is {status})."
        ))),
        ReviewOutcome::IntegrityMismatch => Err(crate::api::ApiError::IntegrityCheckFailed.into()),
    }
}

/// The checks of every reviewer button on a case (claim, release, confirm, return): a signed-in reviewer, a
/// reference, and the session's CSRF token in the form.
async fn reviewer_post(
    req: &HttpRequest,
    path: &str,
    payload: web::Payload,
    state: &AppState,
) -> Result<(Person, Reference), ConsoleError> {
    let person = session::require(req, state).await?;
    person.require(Role::Reviewer)?;
    let reference = reference_of(path)?;
    let _: super::Button = read_form(req, payload, state, &person, MAX_FORM).await?;
    Ok((person, reference))
}

/// A second reviewer confirms a four-eyes proposal; the proposer cannot.
async fn confirm(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (person, reference) = reviewer_post(&req, &path, payload, &state).await?;
    let wanted = reference.clone();
    let proposal = with_db(&state, move |conn| Ok(console::proposal_of(conn, &wanted)?))
        .await?
        .ok_or_else(|| ConsoleError::Conflict("There is no proposal to confirm.".into()))?;
    if proposal.subject == person.subject {
        return Err(ConsoleError::Conflict(
            "You proposed this decision; a second, different reviewer must confirm it.".into(),
        ));
    }
    decide(
        &state,
        &person,
        &reference,
        proposal.decision,
        proposal.note,
        proposal.note_hmac,
        Some(proposal.subject),
    )
    .await
}

/// A second reviewer returns a proposal to its proposer (it is dropped; the case stays pending).
async fn give_back(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let (person, reference) = reviewer_post(&req, &path, payload, &state).await?;
    let wanted = reference.clone();
    with_db(&state, move |conn| {
        Ok(console::drop_proposal(conn, &wanted)?)
    })
    .await?;
    audit_read(
        &state,
        &person.principal(),
        "review_returned",
        Some(reference.clone()),
        json!({}),
    )
    .await?;
    Ok(see_other(&case_url(
        &reference,
        "Returned to the proposer.",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_a_rule_looks_at_are_found() {
        assert_eq!(
            rule_fields("${fields.face_match_score} < 1.6"),
            ["face_match_score"]
        );
        assert_eq!(
            rule_fields(
                "${fields.document_number} missing or ${fields.date_of_birth} missing or ${fields.document_number} x"
            ),
            ["document_number", "date_of_birth"]
        );
        assert!(rule_fields("${request_info.user_id} == 1").is_empty());
    }
}
