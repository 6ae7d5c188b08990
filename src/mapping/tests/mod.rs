//! Tests of the mapping engine: the language, load errors, the shipped mappings, and a property
//! test that no input makes the parser or the evaluator panic.
//!
//! Tests return `Result` instead of unwrapping, because the crate's clippy settings deny
//! `unwrap`/`expect` in tests too.

mod errors;
mod fuzz;
mod language;
mod shipped;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use super::eval::{self, Scope};
use super::parser::{parse_condition, parse_template};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The clock of every test: 2026-11-22 12:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Reads a fixture payload from tests/fixtures.
fn fixture(name: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// Renders a template against a payload (and canonical fields, as the rules see them).
fn render_with(src: &str, payload: &Value, fields: Option<&Value>) -> Result<Value, String> {
    let t = parse_template(src).map_err(|e| format!("at {}: {}", e.pos, e.message))?;
    let scope = Scope {
        fields,
        ..Scope::payload(payload, now())
    };
    Ok(eval::template(&t, &scope).into_owned())
}

fn render(src: &str, payload: &Value) -> Result<Value, String> {
    render_with(src, payload, None)
}

/// Evaluates a condition against a payload and canonical fields.
fn holds_with(src: &str, payload: &Value, fields: Option<&Value>) -> Result<bool, String> {
    let c = parse_condition(src).map_err(|e| format!("at {}: {}", e.pos, e.message))?;
    let scope = Scope {
        fields,
        ..Scope::payload(payload, now())
    };
    Ok(eval::condition(&c, &scope))
}

fn holds(src: &str, payload: &Value) -> Result<bool, String> {
    holds_with(src, payload, None)
}
