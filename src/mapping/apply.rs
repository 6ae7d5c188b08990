//! Applying a mapping to one payload: canonical fields, images, decision, confirmation response.
//!
//! Nothing here can fail but the payload: a required field that comes out empty is the only
//! error. Values that do not fit a field's `type` become null and leave a PII-free warning, so a
//! malformed optional value sends the submission through the rules (usually to review) instead
//! of refusing it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::super::decision::{Decision, Reason};
use super::dates::DateFormat;
use super::eval::{self, Scope};
use super::filters::{self, is_empty};
use super::spec::{FieldType, RespTemplate};
use super::{Mapping, MappingError};

/// One rule of an explanation (see [`Mapping::explain`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleTrace {
    /// The reason code it gives.
    pub reason: String,
    /// `reject` or `review`.
    pub decision: String,
    /// Its `when`, as written.
    pub when: String,
    /// Whether it matched.
    pub matched: bool,
    /// Each value it looked at: the macro as written (its path) and the value.
    pub values: Vec<(String, Value)>,
}

/// What a mapping produced from one payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped<'a> {
    /// The canonical fields, every declared field present (null when empty, "" included), JSON
    /// types kept.
    pub fields: Map<String, Value>,
    /// The names of the fields flagged `pii = true`.
    pub pii: BTreeSet<String>,
    /// The non-empty images, in file order.
    pub images: Vec<ImageRef<'a>>,
    /// The decision of the rules.
    pub decision: Decision,
    /// Problems that did not stop the mapping (a value that did not fit its field's type, an
    /// image that is not a string). They name fields and kinds only, never values.
    pub warnings: Vec<String>,
}

/// One image found in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The image kind from the mapping's `[images]` (e.g. `selfie`, `front`).
    pub kind: String,
    /// The image as sent (base64 text), borrowed from the payload unless a filter changed it.
    pub data: Cow<'a, str>,
}

/// What the `[response]` template can see besides the payload.
#[derive(Debug, Clone, Copy)]
pub struct ResponseContext<'a> {
    /// The submitted payload (after decryption).
    pub payload: &'a Value,
    /// The canonical fields (`Mapped::fields`, or as stored).
    pub fields: &'a Map<String, Value>,
    /// The decision (`decision.result`, `decision.status`, `decision.reasons`).
    pub decision: &'a Decision,
    /// Our reference for the submission (`submission.reference`).
    pub reference: &'a str,
    /// When the submission was received (`submission.received_at`, `now`, `today`).
    pub received_at: DateTime<Utc>,
}

impl Mapping {
    /// Maps `payload`: canonical fields, images, and the decision of the rules. `now` is the
    /// clock that `now`/`today` read, injected so tests control "today".
    pub fn apply<'a>(
        &self,
        payload: &'a Value,
        now: DateTime<Utc>,
    ) -> Result<Mapped<'a>, MappingError> {
        let scope = Scope::payload(payload, now);
        let mut fields = Map::new();
        let mut pii = BTreeSet::new();
        let mut warnings = Vec::new();
        for def in &self.spec.fields {
            let raw = eval::template(&def.template, &scope);
            let value = match coerce(def.ty, &raw, now) {
                // One spelling of "empty" in stored records: null.
                Some(Value::String(s)) if s.is_empty() => Value::Null,
                Some(v) => v,
                None => {
                    warnings.push(format!(
                        "field `{}`: value is not of type {}",
                        def.name,
                        def.ty.name()
                    ));
                    Value::Null
                }
            };
            if def.required && is_empty(&value) {
                return Err(MappingError::RequiredFieldMissing {
                    mapping: self.name.clone(),
                    field: def.name.clone(),
                    from: def.from.clone(),
                });
            }
            if def.pii {
                pii.insert(def.name.clone());
            }
            fields.insert(def.name.clone(), value);
        }
        let mut images = Vec::new();
        for (kind, template) in &self.spec.images {
            let data = match eval::template(template, &scope) {
                Cow::Borrowed(Value::String(s)) => Cow::Borrowed(s.as_str()),
                Cow::Owned(Value::String(s)) => Cow::Owned(s),
                Cow::Borrowed(Value::Null) | Cow::Owned(Value::Null) => continue,
                _ => {
                    warnings.push(format!("image `{kind}`: not a string, skipped"));
                    continue;
                }
            };
            if !data.trim().is_empty() {
                images.push(ImageRef {
                    kind: kind.clone(),
                    data,
                });
            }
        }
        let fields_value = Value::Object(fields);
        let rule_scope = Scope {
            fields: Some(&fields_value),
            ..Scope::payload(payload, now)
        };
        let matches: Vec<Reason> = self
            .spec
            .rules
            .iter()
            .filter(|(cond, _)| eval::condition(cond, &rule_scope))
            .map(|(_, reason)| reason.clone())
            .collect();
        let fields = match fields_value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Ok(Mapped {
            fields,
            pii,
            images,
            decision: Decision::from_matches(matches),
            warnings,
        })
    }

    /// Each rule of the mapping, whether it matched `payload` and the values it looked at (the canonical
    /// fields as mapped). For `mappings test --explain`; values may be personal data, so this is never logged.
    pub fn explain(
        &self,
        payload: &Value,
        now: DateTime<Utc>,
    ) -> Result<Vec<RuleTrace>, MappingError> {
        let mapped = self.apply(payload, now)?;
        let fields_value = Value::Object(mapped.fields);
        let scope = Scope {
            fields: Some(&fields_value),
            ..Scope::payload(payload, now)
        };
        Ok(self
            .spec
            .rules
            .iter()
            .zip(&self.spec.rule_texts)
            .map(|((cond, reason), when)| {
                let mut values = Vec::new();
                eval::looked_at(cond, &scope, &mut values);
                RuleTrace {
                    reason: reason.code.clone(),
                    decision: reason.decision.as_str().to_string(),
                    when: when.clone(),
                    matched: eval::condition(cond, &scope),
                    values,
                }
            })
            .collect())
    }

    /// Renders the confirmation response from the `[response]` template (or the default one,
    /// `{"result": …, "reference_number": …, "user_id": …}`).
    pub fn render_response(&self, ctx: &ResponseContext<'_>) -> Result<Value, MappingError> {
        let fields = Value::Object(ctx.fields.clone());
        let decision = json!({
            "result": ctx.decision.result(),
            "status": ctx.decision.status.as_str(),
            "reasons": ctx.decision.reason_codes(),
        });
        let submission = json!({
            "reference": ctx.reference,
            "received_at": ctx.received_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
        let scope = Scope {
            payload: ctx.payload,
            fields: Some(&fields),
            submission: Some(&submission),
            decision: Some(&decision),
            now: ctx.received_at,
        };
        Ok(render(&self.spec.response, &scope))
    }
}

fn render(t: &RespTemplate, scope: &Scope<'_>) -> Value {
    match t {
        RespTemplate::Text(t) => eval::template(t, scope).into_owned(),
        RespTemplate::Literal(v) => v.clone(),
        RespTemplate::List(items) => Value::Array(items.iter().map(|i| render(i, scope)).collect()),
        RespTemplate::Table(items) => Value::Object(
            items
                .iter()
                .map(|(k, v)| (k.clone(), render(v, scope)))
                .collect(),
        ),
    }
}

/// Converts a field value to its declared type; null stays null; `None` when it does not fit.
fn coerce(ty: FieldType, v: &Value, now: DateTime<Utc>) -> Option<Value> {
    if v.is_null() {
        return Some(Value::Null);
    }
    let out = match ty {
        FieldType::Any => v.clone(),
        FieldType::String => match v {
            Value::Array(_) | Value::Object(_) => return None,
            other => Value::String(filters::text(other).into_owned()),
        },
        FieldType::Number => filters::to_number(v),
        FieldType::Integer => match filters::to_number(v) {
            Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n),
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map_or(Value::Null, |f| Value::from(f as i64)),
            _ => Value::Null,
        },
        FieldType::Bool => filters::to_bool(v),
        FieldType::Date => match v {
            Value::String(s) if s.is_empty() => Value::Null,
            other => DateFormat::auto()
                .read(&filters::text(other), now.date_naive())
                .map_or(Value::Null, |d| {
                    Value::String(d.format("%Y-%m-%d").to_string())
                }),
        },
        FieldType::Array => return v.is_array().then(|| v.clone()),
        FieldType::Object => return v.is_object().then(|| v.clone()),
    };
    // An empty string is an empty value, not a conversion failure.
    if out.is_null() && v.as_str() != Some("") {
        return None;
    }
    Some(out)
}
