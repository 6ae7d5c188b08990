//! Evaluating templates and conditions against a submission.
//!
//! A [`Scope`] holds the values the reserved roots name: the payload, the canonical `fields`,
//! `submission`, `decision` and the injected clock (`now`, `today`). Which roots a file section
//! may use is checked at load time (`file.rs`); here an unavailable root is simply null.
//! Comparisons follow one rule set, documented in docs/mappings.md: numbers compare as numbers
//! (numeric text too, when the other side is a number), text compares as text, so ISO dates
//! compare correctly; any ordering against a missing value or a mismatched type is false.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use super::ast::{CmpOp, Cond, Operand, Part, Pipeline, Root, Source, Template};
use super::filters::{self, is_empty, text};
use super::path::walk;

/// The values a template or condition can reach.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub payload: &'a Value,
    pub fields: Option<&'a Value>,
    pub submission: Option<&'a Value>,
    pub decision: Option<&'a Value>,
    pub now: DateTime<Utc>,
}

impl<'a> Scope<'a> {
    /// A scope with only the payload and the clock.
    pub fn payload(payload: &'a Value, now: DateTime<Utc>) -> Scope<'a> {
        Scope {
            payload,
            fields: None,
            submission: None,
            decision: None,
            now,
        }
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn now_text(&self) -> Value {
        Value::String(self.now.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    fn today_text(&self) -> Value {
        Value::String(self.today().format("%Y-%m-%d").to_string())
    }
}

/// Renders a template. Exactly one macro keeps its value's JSON type; otherwise the text forms
/// of the macros are spliced into the literal text.
pub(crate) fn template<'a>(t: &Template, scope: &Scope<'a>) -> Cow<'a, Value> {
    if let Some(p) = t.single_macro() {
        return pipeline(p, scope);
    }
    let mut out = String::new();
    for part in &t.parts {
        match part {
            Part::Text(s) => out.push_str(s),
            Part::Macro(p) => out.push_str(&text(&pipeline(p, scope))),
        }
    }
    Cow::Owned(Value::String(out))
}

/// Evaluates `source | filters…`.
pub(crate) fn pipeline<'a>(p: &Pipeline, scope: &Scope<'a>) -> Cow<'a, Value> {
    let mut v = match &p.source {
        Source::Path(path) => {
            let root: Cow<'a, Value> = match path.root {
                Root::Payload => Cow::Borrowed(scope.payload),
                Root::Fields => scope.fields.map_or(Cow::Owned(Value::Null), Cow::Borrowed),
                Root::Submission => scope
                    .submission
                    .map_or(Cow::Owned(Value::Null), Cow::Borrowed),
                Root::Decision => scope
                    .decision
                    .map_or(Cow::Owned(Value::Null), Cow::Borrowed),
                Root::Now => Cow::Owned(scope.now_text()),
                Root::Today => Cow::Owned(scope.today_text()),
            };
            match root {
                Cow::Borrowed(r) => walk(r, &path.segments),
                Cow::Owned(r) if path.segments.is_empty() => Cow::Owned(r),
                Cow::Owned(_) => Cow::Owned(Value::Null),
            }
        }
        Source::List(items) => Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| pipeline(i, scope).into_owned())
                .collect(),
        )),
    };
    for f in &p.filters {
        v = filters::apply(&f.kind, v, scope.today());
    }
    v
}

/// Evaluates a condition.
pub(crate) fn condition(c: &Cond, scope: &Scope<'_>) -> bool {
    match c {
        Cond::And(a, b) => condition(a, scope) && condition(b, scope),
        Cond::Or(a, b) => condition(a, scope) || condition(b, scope),
        Cond::Not(a) => !condition(a, scope),
        Cond::Exists(o) => !is_empty(&operand(o, scope)),
        Cond::Missing(o) => is_empty(&operand(o, scope)),
        Cond::Truthy(o) => truthy(&operand(o, scope)),
        Cond::Compare(a, op, b) => compare(&operand(a, scope), *op, &operand(b, scope)),
    }
}

/// The values a condition looks at: each macro operand as written (its path) with its value after filters,
/// in the order they appear. For `mappings test --explain`.
pub(crate) fn looked_at(c: &Cond, scope: &Scope<'_>, out: &mut Vec<(String, Value)>) {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            looked_at(a, scope, out);
            looked_at(b, scope, out);
        }
        Cond::Not(a) => looked_at(a, scope, out),
        Cond::Exists(o) | Cond::Missing(o) | Cond::Truthy(o) => operand_values(o, scope, out),
        Cond::Compare(a, _, b) => {
            operand_values(a, scope, out);
            operand_values(b, scope, out);
        }
    }
}

fn operand_values(o: &Operand, scope: &Scope<'_>, out: &mut Vec<(String, Value)>) {
    match o {
        Operand::Macro(p) => out.push((pipeline_label(p), pipeline(p, scope).into_owned())),
        Operand::List(items) => items.iter().for_each(|i| operand_values(i, scope, out)),
        Operand::Literal(_) | Operand::Now | Operand::Today => {}
    }
}

/// `root.a.b[0] | filter…` of a macro, for display.
fn pipeline_label(p: &Pipeline) -> String {
    let mut label = match &p.source {
        Source::Path(path) => {
            let mut text = path.root.word().to_string();
            for s in &path.segments {
                match s {
                    super::ast::Segment::Key(k) => {
                        text.push('.');
                        text.push_str(k);
                    }
                    super::ast::Segment::Index(i) => text.push_str(&format!("[{i}]")),
                    super::ast::Segment::Wildcard => text.push_str("[*]"),
                }
            }
            text
        }
        Source::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(pipeline_label)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    if !p.filters.is_empty() {
        label.push_str(&format!(" | {} filter(s)", p.filters.len()));
    }
    label
}

fn operand<'a>(o: &Operand, scope: &Scope<'a>) -> Cow<'a, Value> {
    match o {
        Operand::Macro(p) => pipeline(p, scope),
        Operand::Literal(v) => Cow::Owned(v.clone()),
        Operand::List(items) => Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| operand(i, scope).into_owned())
                .collect(),
        )),
        Operand::Now => Cow::Owned(scope.now_text()),
        Operand::Today => Cow::Owned(scope.today_text()),
    }
}

/// Null, false, 0, "" and empty lists/objects are false; everything else is true.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    match op {
        CmpOp::Eq => loose_eq(a, b),
        CmpOp::Ne => !loose_eq(a, b),
        CmpOp::Lt => order(a, b) == Some(Ordering::Less),
        CmpOp::Le => matches!(order(a, b), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => order(a, b) == Some(Ordering::Greater),
        CmpOp::Ge => matches!(order(a, b), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Contains => contains(a, b),
        CmpOp::In => contains_element(b, a),
    }
}

/// `a contains b`: an array holding `b`, or text holding `b` as a substring.
fn contains(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(hay), Value::String(needle)) => hay.contains(needle.as_str()),
        (Value::Array(_), _) => contains_element(a, b),
        _ => false,
    }
}

fn contains_element(list: &Value, item: &Value) -> bool {
    matches!(list, Value::Array(items) if items.iter().any(|i| loose_eq(i, item)))
}

/// The number a value stands for in a numeric comparison.
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(_) => filters::to_number(v).as_f64(),
        _ => None,
    }
}

/// Equality where numbers compare by value (`1 == 1.0`, `100 == "100"`); otherwise JSON equality.
fn loose_eq(a: &Value, b: &Value) -> bool {
    if (a.is_number() || b.is_number())
        && let (Some(x), Some(y)) = (as_number(a), as_number(b))
    {
        return x == y;
    }
    a == b
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ if a.is_number() || b.is_number() => as_number(a)?.partial_cmp(&as_number(b)?),
        _ => None,
    }
}
