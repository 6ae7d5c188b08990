//! Mappings (admin): the loaded set with names, files and hashes, the last refused reload, and a dry run: a
//! pasted payload through `mapping::dry_run` (the same function as `kyc-receiver mappings test`) showing the
//! canonical record, the decision with its reasons, the images found and the confirmation that would be sent.
//! Nothing is stored but an audit event naming the mapping, the payload's SHA-256 and the decision. Without
//! the pii role, personal fields show as present with their length, and so does every text of the rendered
//! confirmation that is not a known non-personal value.

use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::session::{self, Person, Role};
use super::{ConsoleError, Nav, page, read_form};
use crate::api::AppState;
use crate::api::reads::audit_read;
use crate::mapping::dry_run::{DRY_RUN_REFERENCE, DryRun, dry_run};

/// Largest payload a dry run takes (urlencoded, a form is up to three times larger).
pub const MAX_PAYLOAD: usize = 2 * 1024 * 1024;

/// Mounts the mappings pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/mappings", web::get().to(show))
        .route("/admin/mappings/dry-run", web::post().to(run));
}

struct MappingRow {
    name: String,
    file: String,
    sha256: String,
    short: String,
    fields: usize,
    rules: usize,
}

struct FieldRow {
    name: String,
    value: String,
    personal: bool,
}

struct ResultView {
    mapping: String,
    sha256: String,
    status: String,
    status_text: String,
    reasons: Vec<(String, &'static str)>,
    fields: Vec<FieldRow>,
    images: Vec<String>,
    warnings: Vec<String>,
    response: String,
}

#[derive(Template)]
#[template(path = "mappings.html", config = "src/console/askama.toml")]
struct MappingsPage {
    nav: Option<Nav>,
    csrf: String,
    mappings: Vec<MappingRow>,
    reload_error: Option<String>,
    selected: String,
    payload: String,
    error: Option<String>,
    result: Option<ResultView>,
    masked: bool,
    max_kib: usize,
}

fn listing(state: &AppState, person: &Person) -> MappingsPage {
    let set = state.mappings.current();
    MappingsPage {
        nav: Some(Nav::of(person, "mappings")),
        csrf: person.csrf.clone(),
        mappings: set
            .iter()
            .map(|m| MappingRow {
                name: m.name.clone(),
                file: m
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: m.sha256.clone(),
                short: m.sha256.chars().take(12).collect(),
                fields: m.field_names().len(),
                rules: m.rule_reasons().len(),
            })
            .collect(),
        reload_error: state.mappings.last_error(),
        selected: String::new(),
        payload: String::new(),
        error: None,
        result: None,
        masked: !person.has(Role::Pii),
        max_kib: MAX_PAYLOAD / 1024,
    }
}

async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Admin)?;
    page(&listing(&state, &person))
}

#[derive(Deserialize)]
struct DryRunForm {
    #[serde(default)]
    mapping: String,
    payload: String,
}

/// How a value shows when personal data is masked: that it is there, and its shape.
fn presence(value: &Value) -> String {
    match value {
        Value::Null => "absent".into(),
        Value::String(s) => format!("present · {} characters", s.chars().count()),
        Value::Bool(_) => "present · yes/no".into(),
        Value::Number(_) => "present · number".into(),
        Value::Array(a) => format!("present · {} item(s)", a.len()),
        Value::Object(_) => "present · object".into(),
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "absent".into(),
        other => other.to_string(),
    }
}

/// The rendered confirmation with every text replaced by its shape unless it is one of `known` (values
/// that are not personal), so a template that echoes a personal field shows nothing of it.
pub fn mask_texts(value: &Value, known: &BTreeSet<String>) -> Value {
    match value {
        Value::String(s) if !known.contains(s) => {
            Value::String(format!("‹{} characters›", s.chars().count()))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| mask_texts(v, known)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_texts(v, known)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn view(run: DryRun, masked: bool) -> ResultView {
    let status = run.decision.status.as_str();
    let mut known: BTreeSet<String> = run
        .fields
        .iter()
        .filter(|(name, _)| !run.pii.contains(*name))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect();
    known.extend([
        status.to_string(),
        DRY_RUN_REFERENCE.to_string(),
        run.mapping_name.clone(),
    ]);
    known.extend(run.decision.reason_codes().into_iter().map(String::from));
    let response = if masked {
        mask_texts(&run.response, &known)
    } else {
        run.response.clone()
    };
    ResultView {
        status: status.to_string(),
        status_text: status.replace('_', " "),
        reasons: run
            .decision
            .reasons
            .iter()
            .map(|r| {
                let kind = match r.decision {
                    crate::decision::RuleDecision::Reject => "reject",
                    crate::decision::RuleDecision::Review => "review",
                };
                (r.code.clone(), kind)
            })
            .collect(),
        fields: run
            .fields
            .iter()
            .map(|(name, value)| {
                let personal = run.pii.contains(name);
                FieldRow {
                    name: name.clone(),
                    value: if personal && masked {
                        presence(value)
                    } else {
                        shown(value)
                    },
                    personal,
                }
            })
            .collect(),
        images: run
            .images
            .iter()
            .map(|(kind, _, bytes)| format!("{kind} · about {} KiB", bytes.div_ceil(1024)))
            .collect(),
        warnings: run.warnings,
        response: serde_json::to_string_pretty(&response).unwrap_or_default(),
        mapping: run.mapping_name,
        sha256: run.mapping_sha256,
    }
}

async fn run(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let person = session::require(&req, &state).await?;
    person.require(Role::Admin)?;
    let form: DryRunForm =
        read_form(&req, payload, &state, &person, 3 * MAX_PAYLOAD + 4096).await?;
    let mut view_page = listing(&state, &person);
    view_page.selected = form.mapping.clone();
    if form.payload.len() > MAX_PAYLOAD {
        view_page.error = Some(format!(
            "The payload is {} KiB; a dry run takes at most {} KiB.",
            form.payload.len() / 1024,
            MAX_PAYLOAD / 1024
        ));
        return page(&view_page);
    }
    let set = state.mappings.current();
    let mapping = Some(form.mapping.trim()).filter(|m| !m.is_empty());
    match dry_run(&set, form.payload.as_bytes(), mapping, Utc::now()) {
        Ok(run) => {
            audit_read(
                &state,
                &person.principal(),
                "mapping_dry_run",
                None,
                json!({
                    "mapping": run.mapping_name,
                    "mapping_sha256": run.mapping_sha256,
                    "payload_sha256": hex::encode(Sha256::digest(form.payload.as_bytes())),
                    "decision": run.decision.status.as_str(),
                }),
            )
            .await?;
            view_page.result = Some(view(run, view_page.masked));
        }
        Err(e) => view_page.error = Some(e),
    }
    // The payload goes back into the form only for people who may see personal values.
    if !view_page.masked {
        view_page.payload = form.payload;
    }
    page(&view_page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_confirmations_keep_only_known_texts() {
        let known: BTreeSet<String> = ["approved".to_string()].into();
        let masked = mask_texts(
            &json!({"result": "approved", "name": "Jane Doe", "score": 0.9, "list": ["x1"]}),
            &known,
        );
        assert_eq!(
            masked,
            json!({"result": "approved", "name": "‹8 characters›", "score": 0.9, "list": ["‹2 characters›"]})
        );
        assert_eq!(presence(&json!("Jane")), "present · 4 characters");
    }
}
