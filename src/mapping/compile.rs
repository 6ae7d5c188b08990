//! Turning one mapping file into a checked [`Mapping`], collecting every error with its position.
//!
//! All checks that can be done without a payload happen here, so a file that loads cannot fail at
//! run time for any reason but the payload itself: syntax, filter names and arguments, which roots
//! each section may use (e.g. `fields` only after the fields exist), references to undefined
//! canonical fields, rule decisions and reason codes, response nesting.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::super::decision::{Reason, RuleDecision};
use super::ast::{self, Cond, Template};
use super::check::{Section, path_problem};
use super::file::{RawField, RawFile, RespNode, SourceFile};
use super::parser::{MAX_DEPTH, parse_condition, parse_template};
use super::spec::{FieldDef, FieldType, RespTemplate, Spec, TYPES};
use super::{LoadError, Mapping};

/// Reads, checks and compiles one mapping file.
pub(crate) fn compile(path: &Path, bytes: &[u8]) -> Result<Mapping, Vec<LoadError>> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default();
            let src = SourceFile { path, text: valid };
            return Err(vec![src.error_at(valid.len(), "expected UTF-8 text")]);
        }
    };
    let src = SourceFile { path, text };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let message = e.message().trim_end().to_owned();
        vec![match e.span() {
            Some(span) => src.error_at(span.start, message),
            None => LoadError {
                file: path.to_path_buf(),
                line: None,
                column: None,
                message,
            },
        }]
    })?;
    let mut c = Compiler {
        src: &src,
        errors: Vec::new(),
        fields: BTreeSet::new(),
    };
    let name = raw.name.get_ref().clone();
    let at_name = src.error_at(raw.name.span().start, "");
    let name_pos = (at_name.line, at_name.column);
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    {
        c.error(
            raw.name.span().start,
            "expected a mapping name of 1 to 64 letters, digits, `.`, `_` or `-`",
        );
    }
    for (key, _) in &raw.fields.0 {
        c.check_ident(key, "canonical field name");
        c.fields.insert(key.get_ref().clone());
    }
    let when = raw
        .when
        .as_ref()
        .and_then(|w| c.condition(w, Section::When));
    let fields = raw
        .fields
        .0
        .iter()
        .filter_map(|(key, spec)| c.field(key.get_ref(), spec))
        .collect();
    let mut images = Vec::new();
    for (key, value) in &raw.images.0 {
        c.check_ident(key, "image kind");
        if let Some(t) = c.template(value.span(), value.get_ref(), Section::Fields) {
            images.push((key.get_ref().clone(), t));
        }
    }
    let mut rules = Vec::new();
    let mut rule_texts = Vec::new();
    for rule in &raw.rules {
        let cond = c.condition(&rule.when, Section::Rules);
        let decision = match rule.decision.get_ref().as_str() {
            "reject" => Some(RuleDecision::Reject),
            "review" => Some(RuleDecision::Review),
            _ => {
                c.error(rule.decision.span().start, "expected `reject` or `review`");
                None
            }
        };
        c.check_ident(&rule.reason, "reason code");
        if let (Some(cond), Some(decision)) = (cond, decision) {
            rules.push((cond, Reason::new(rule.reason.get_ref().clone(), decision)));
            rule_texts.push(rule.when.get_ref().trim().to_string());
        }
    }
    let response = match &raw.response {
        Some(node) if !matches!(node.get_ref(), RespNode::Table(_)) => {
            c.error(node.span().start, "expected [response] to be a table");
            None
        }
        Some(node) => c.response(node, 0),
        None => Some(default_response()),
    };
    match (c.errors.is_empty(), response) {
        (true, Some(response)) => Ok(Mapping {
            name,
            description: raw.description.unwrap_or_default(),
            file: path.to_path_buf(),
            sha256,
            source: text.to_string(),
            spec: Spec {
                name_pos,
                when,
                fields,
                images,
                rules,
                rule_texts,
                response,
            },
        }),
        _ => {
            let mut errors = c.errors;
            errors.sort_by_key(|e| (e.line, e.column));
            Err(errors)
        }
    }
}

/// `{"result": ${decision.result}, "reference_number": "${submission.reference}",
/// "user_id": "${request_info.user_id}"}` (docs/ditto-protocol.md §0.5, §7.1).
pub(crate) fn default_response() -> RespTemplate {
    let text =
        |s: &str| parse_template(s).map_or(RespTemplate::Literal(Value::Null), RespTemplate::Text);
    RespTemplate::Table(vec![
        ("result".to_owned(), text("${decision.result}")),
        (
            "reference_number".to_owned(),
            text("${submission.reference}"),
        ),
        ("user_id".to_owned(), text("${request_info.user_id}")),
    ])
}

struct Compiler<'f> {
    src: &'f SourceFile<'f>,
    errors: Vec<LoadError>,
    fields: BTreeSet<String>,
}

impl Compiler<'_> {
    fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.errors.push(self.src.error_at(offset, message));
    }

    fn check_ident(&mut self, key: &Spanned<String>, what: &str) {
        let k = key.get_ref();
        let ok = k.len() <= 64
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            self.error(key.span().start, format!("expected a {what} of lowercase letters, digits and `_` (starting with a letter)"));
        }
    }

    fn field(&mut self, name: &str, spec: &Spanned<RawField>) -> Option<FieldDef> {
        let (span, from, required, pii, ty) = match spec.get_ref() {
            RawField::Short(s) => (spec.span(), s, false, false, FieldType::Any),
            RawField::Full(t) => {
                let ty = match &t.ty {
                    None => FieldType::Any,
                    Some(ty) => self.field_type(ty)?,
                };
                (t.from.span(), t.from.get_ref(), t.required, t.pii, ty)
            }
        };
        let template = self.template(span, from, Section::Fields)?;
        Some(FieldDef {
            name: name.to_owned(),
            template,
            from: from.clone(),
            required,
            pii,
            ty,
        })
    }

    fn field_type(&mut self, ty: &Spanned<String>) -> Option<FieldType> {
        let t = match ty.get_ref().as_str() {
            "any" => FieldType::Any,
            "string" => FieldType::String,
            "number" => FieldType::Number,
            "integer" => FieldType::Integer,
            "bool" => FieldType::Bool,
            "date" => FieldType::Date,
            "array" => FieldType::Array,
            "object" => FieldType::Object,
            _ => {
                self.error(ty.span().start, format!("expected a type: {TYPES}"));
                return None;
            }
        };
        Some(t)
    }

    fn template(&mut self, span: Range<usize>, value: &str, section: Section) -> Option<Template> {
        match parse_template(value) {
            Ok(t) => {
                let mut problems = Vec::new();
                ast::template_paths(&t, &mut |p| {
                    problems.extend(path_problem(&self.fields, p, section))
                });
                self.report(&span, value, problems).then_some(t)
            }
            Err(e) => {
                self.errors
                    .push(self.src.error_in_string(&span, value, e.pos, e.message));
                None
            }
        }
    }

    fn condition(&mut self, s: &Spanned<String>, section: Section) -> Option<Cond> {
        match parse_condition(s.get_ref()) {
            Ok(cond) => {
                let mut problems = Vec::new();
                ast::cond_paths(&cond, &mut |p| {
                    problems.extend(path_problem(&self.fields, p, section))
                });
                self.report(&s.span(), s.get_ref(), problems)
                    .then_some(cond)
            }
            Err(e) => {
                self.errors.push(self.src.error_in_string(
                    &s.span(),
                    s.get_ref(),
                    e.pos,
                    e.message,
                ));
                None
            }
        }
    }

    /// Records problems found in one string; true when there were none.
    fn report(&mut self, span: &Range<usize>, value: &str, problems: Vec<(usize, String)>) -> bool {
        let ok = problems.is_empty();
        for (pos, message) in problems {
            self.errors
                .push(self.src.error_in_string(span, value, pos, message));
        }
        ok
    }

    fn response(&mut self, node: &Spanned<RespNode>, depth: usize) -> Option<RespTemplate> {
        if depth > MAX_DEPTH {
            self.error(
                node.span().start,
                format!("[response] nested too deeply (the limit is {MAX_DEPTH} levels)"),
            );
            return None;
        }
        Some(match node.get_ref() {
            RespNode::Text(s) => {
                RespTemplate::Text(self.template(node.span(), s, Section::Response)?)
            }
            RespNode::Literal(v) => RespTemplate::Literal(v.clone()),
            RespNode::List(items) => {
                let out: Vec<_> = items.iter().map(|i| self.response(i, depth + 1)).collect();
                RespTemplate::List(out.into_iter().collect::<Option<_>>()?)
            }
            RespNode::Table(items) => {
                let out: Vec<_> = items
                    .iter()
                    .map(|(k, v)| Some((k.clone(), self.response(v, depth + 1)?)))
                    .collect();
                RespTemplate::Table(out.into_iter().collect::<Option<_>>()?)
            }
        })
    }
}
