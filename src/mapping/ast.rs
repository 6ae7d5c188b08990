//! The parsed form of macro templates and conditions (see `parser.rs` for the grammar).
//!
//! Everything here is produced by the parser and only read afterwards; positions are byte offsets
//! into the string the expression came from, so `file.rs` can turn them into file line:column.

use serde_json::Value;

use super::filters::FilterKind;

/// A string with `${…}` macros: literal text kept around the macros.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub parts: Vec<Part>,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    Macro(Pipeline),
}

impl Template {
    /// A template that is exactly one macro keeps the JSON type of its value.
    pub fn single_macro(&self) -> Option<&Pipeline> {
        match self.parts.as_slice() {
            [Part::Macro(p)] => Some(p),
            _ => None,
        }
    }
}

/// `source | filter | filter(arg)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pipeline {
    pub source: Source,
    pub filters: Vec<Filter>,
}

/// Where a pipeline's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Path(Path),
    /// `[a, b]`: a list of pipelines, e.g. `[given, surname] | join(' ')`.
    List(Vec<Pipeline>),
}

/// A filter with its arguments already checked (`filters::resolve`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub kind: FilterKind,
    pub pos: usize,
}

/// The value a path starts from. Reserved first words pick a root; anything else walks the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Payload,
    Fields,
    Submission,
    Decision,
    Now,
    Today,
}

impl Root {
    /// The reserved word for this root.
    pub fn word(self) -> &'static str {
        match self {
            Root::Payload => "payload",
            Root::Fields => "fields",
            Root::Submission => "submission",
            Root::Decision => "decision",
            Root::Now => "now",
            Root::Today => "today",
        }
    }

    /// The root named by an unquoted first segment, if it is a reserved word.
    pub fn from_word(word: &str) -> Option<Root> {
        [
            Root::Payload,
            Root::Fields,
            Root::Submission,
            Root::Decision,
            Root::Now,
            Root::Today,
        ]
        .into_iter()
        .find(|r| r.word() == word)
    }
}

/// A path: a root and the steps below it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub root: Root,
    pub segments: Vec<Segment>,
    pub pos: usize,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Key(String),
    Index(i64),
    Wildcard,
}

/// A condition (`when` of a mapping or a rule).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Compare(Operand, CmpOp, Operand),
    Exists(Operand),
    Missing(Operand),
    /// A bare operand: true when it is truthy.
    Truthy(Operand),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    In,
}

/// A value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Macro(Pipeline),
    Literal(Value),
    List(Vec<Operand>),
    Now,
    Today,
}

/// Calls `f` on every path in a template (used by load-time validation).
pub(crate) fn template_paths<'t>(t: &'t Template, f: &mut dyn FnMut(&'t Path)) {
    for part in &t.parts {
        if let Part::Macro(p) = part {
            pipeline_paths(p, f);
        }
    }
}

fn pipeline_paths<'t>(p: &'t Pipeline, f: &mut dyn FnMut(&'t Path)) {
    match &p.source {
        Source::Path(path) => f(path),
        Source::List(items) => items.iter().for_each(|i| pipeline_paths(i, f)),
    }
}

/// Calls `f` on every path in a condition (depth is bounded by the parser).
pub(crate) fn cond_paths<'t>(c: &'t Cond, f: &mut dyn FnMut(&'t Path)) {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_paths(a, f);
            cond_paths(b, f);
        }
        Cond::Not(a) => cond_paths(a, f),
        Cond::Compare(a, _, b) => {
            operand_paths(a, f);
            operand_paths(b, f);
        }
        Cond::Exists(a) | Cond::Missing(a) | Cond::Truthy(a) => operand_paths(a, f),
    }
}

fn operand_paths<'t>(o: &'t Operand, f: &mut dyn FnMut(&'t Path)) {
    match o {
        Operand::Macro(p) => pipeline_paths(p, f),
        Operand::List(items) => items.iter().for_each(|i| operand_paths(i, f)),
        Operand::Literal(_) | Operand::Now | Operand::Today => {}
    }
}
