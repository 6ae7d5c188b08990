//! The compiled form of a mapping file, as `compile.rs` produces it and `apply.rs` runs it.

use serde_json::Value;

use super::super::decision::Reason;
use super::ast::{Cond, Template};

/// The checked content of a mapping file.
#[derive(Debug)]
pub(crate) struct Spec {
    /// Line and column of the `name` value, for "duplicate mapping name" errors.
    pub name_pos: (Option<usize>, Option<usize>),
    pub when: Option<Cond>,
    pub fields: Vec<FieldDef>,
    pub images: Vec<(String, Template)>,
    pub rules: Vec<(Cond, Reason)>,
    /// Each rule's `when` as written, in rule order (shown to reviewers beside the values it looked at).
    pub rule_texts: Vec<String>,
    pub response: RespTemplate,
}

/// One canonical field.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub name: String,
    pub template: Template,
    /// The macro text as written, named in "required field is empty" errors.
    pub from: String,
    pub required: bool,
    pub pii: bool,
    pub ty: FieldType,
}

/// The optional `type` of a canonical field; the value is converted to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Any,
    String,
    Number,
    Integer,
    Bool,
    Date,
    Array,
    Object,
}

impl FieldType {
    /// The name used in mapping files.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Any => "any",
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Array => "array",
            FieldType::Object => "object",
        }
    }
}

pub(crate) const TYPES: &str = "any, string, number, integer, bool, date, array, object";

/// The `[response]` template tree.
#[derive(Debug)]
pub(crate) enum RespTemplate {
    Text(Template),
    Literal(Value),
    List(Vec<RespTemplate>),
    Table(Vec<(String, RespTemplate)>),
}
