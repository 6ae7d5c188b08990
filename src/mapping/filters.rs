//! The filters of the macro language (`${path | filter | filter(arg)}`).
//!
//! Filters are checked when the mapping file loads (`resolve`: known name, right arguments), so
//! applying one can never fail: a value a filter cannot convert (`"abc" | number`) becomes null,
//! the "empty" value that `default` and `required` then decide about. Text filters applied to
//! an array work on each element, which makes `${list[*] | upper}` do the obvious thing.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

use super::dates::{self, DateFormat};

/// A filter with its checked arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FilterKind {
    Upper,
    Lower,
    Trim,
    Number,
    Bool,
    Date(DateFormat),
    Default(Value),
    Mask,
    Sha256,
    First,
    Last,
    Join(String),
    Digits,
    Length,
    String,
}

/// The filter names, for error messages and docs.
pub(crate) const NAMES: &str = "upper, lower, trim, number, bool, date(FORMAT), default(VALUE), mask, sha256, first, last, join(SEP), digits, length, string";

/// Checks a filter name and its arguments; the error says what was expected.
pub(crate) fn resolve(name: &str, args: Vec<Value>) -> Result<FilterKind, String> {
    let simple = match name {
        "upper" => Some(FilterKind::Upper),
        "lower" => Some(FilterKind::Lower),
        "trim" => Some(FilterKind::Trim),
        "number" => Some(FilterKind::Number),
        "bool" => Some(FilterKind::Bool),
        "mask" => Some(FilterKind::Mask),
        "sha256" => Some(FilterKind::Sha256),
        "first" => Some(FilterKind::First),
        "last" => Some(FilterKind::Last),
        "digits" => Some(FilterKind::Digits),
        "length" => Some(FilterKind::Length),
        "string" => Some(FilterKind::String),
        _ => None,
    };
    if let Some(kind) = simple {
        if !args.is_empty() {
            return Err(format!("filter `{name}` takes no arguments"));
        }
        return Ok(kind);
    }
    let mut args = args.into_iter();
    let (first, extra) = (args.next(), args.next().is_some());
    if extra {
        return Err(format!("filter `{name}` takes at most one argument"));
    }
    match (name, first) {
        ("date", None) => Ok(FilterKind::Date(DateFormat::auto())),
        ("date", Some(Value::String(hint))) => DateFormat::parse(&hint)
            .map(FilterKind::Date)
            .ok_or_else(|| {
                format!(
                    "unknown date format `{hint}`; expected one of: {}",
                    dates::FORMATS
                )
            }),
        ("date", Some(_)) => {
            Err("filter `date` expects a format string, e.g. date('auto')".to_owned())
        }
        ("default", Some(v)) => Ok(FilterKind::Default(v)),
        ("default", None) => Err("filter `default` needs a value, e.g. default('n/a')".to_owned()),
        ("join", None) => Ok(FilterKind::Join(", ".to_owned())),
        ("join", Some(Value::String(sep))) => Ok(FilterKind::Join(sep)),
        ("join", Some(_)) => {
            Err("filter `join` expects a separator string, e.g. join(', ')".to_owned())
        }
        _ => Err(format!("unknown filter `{name}`; expected one of: {NAMES}")),
    }
}

/// "Empty" is missing, null or the empty string: what `default`, `missing` and `required` see.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The text form used when a value is spliced into surrounding text. Null is empty text.
pub(crate) fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Null => Cow::Borrowed(""),
        Value::String(s) => Cow::Borrowed(s),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Array(_) | Value::Object(_) => Cow::Owned(v.to_string()),
    }
}

/// Applies one filter. `today` resolves two-digit years in `date`.
pub(crate) fn apply<'a>(kind: &FilterKind, v: Cow<'a, Value>, today: NaiveDate) -> Cow<'a, Value> {
    match kind {
        FilterKind::Default(d) => {
            if is_empty(&v) {
                Cow::Owned(d.clone())
            } else {
                v
            }
        }
        FilterKind::First | FilterKind::Last => pick(v, matches!(kind, FilterKind::First)),
        FilterKind::Join(sep) => match &*v {
            Value::Array(items) => {
                let parts: Vec<Cow<'_, str>> =
                    items.iter().filter(|i| !is_empty(i)).map(text).collect();
                Cow::Owned(Value::String(parts.join(sep)))
            }
            Value::Null => v,
            other => Cow::Owned(Value::String(text(other).into_owned())),
        },
        FilterKind::Length => Cow::Owned(Value::from(match &*v {
            Value::Null => 0,
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            other => text(other).chars().count(),
        })),
        _ => match v {
            Cow::Borrowed(Value::Array(items)) => Cow::Owned(Value::Array(
                items.iter().map(|i| scalar(kind, i, today)).collect(),
            )),
            Cow::Owned(Value::Array(items)) => Cow::Owned(Value::Array(
                items.iter().map(|i| scalar(kind, i, today)).collect(),
            )),
            other => Cow::Owned(scalar(kind, &other, today)),
        },
    }
}

/// `first`/`last`: the first (last) non-empty element of an array; other values pass through.
fn pick(v: Cow<'_, Value>, first: bool) -> Cow<'_, Value> {
    let found = |items: &[Value]| {
        if first {
            items.iter().position(|i| !is_empty(i))
        } else {
            items.iter().rposition(|i| !is_empty(i))
        }
    };
    match v {
        Cow::Borrowed(Value::Array(items)) => match found(items) {
            Some(i) => Cow::Borrowed(&items[i]),
            None => Cow::Owned(Value::Null),
        },
        Cow::Owned(Value::Array(mut items)) => match found(&items) {
            Some(i) => Cow::Owned(items.swap_remove(i)),
            None => Cow::Owned(Value::Null),
        },
        other => other,
    }
}

/// A filter on one non-array value. Null stays null; nested arrays and objects pass through
/// the text filters unchanged rather than being turned into JSON text.
fn scalar(kind: &FilterKind, v: &Value, today: NaiveDate) -> Value {
    if v.is_null() || ((v.is_array() || v.is_object()) && !matches!(kind, FilterKind::String)) {
        return v.clone();
    }
    let t = text(v);
    match kind {
        FilterKind::Upper => Value::String(t.to_uppercase()),
        FilterKind::Lower => Value::String(t.to_lowercase()),
        FilterKind::Trim => Value::String(t.trim().to_owned()),
        FilterKind::Digits => Value::String(t.chars().filter(char::is_ascii_digit).collect()),
        FilterKind::String => Value::String(t.into_owned()),
        FilterKind::Sha256 => Value::String(hex::encode(Sha256::digest(t.as_bytes()))),
        FilterKind::Mask => Value::String(mask(&t)),
        FilterKind::Number => to_number(v),
        FilterKind::Bool => to_bool(v),
        FilterKind::Date(format) => format.read(&t, today).map_or(Value::Null, |d| {
            Value::String(d.format("%Y-%m-%d").to_string())
        }),
        // Handled in `apply`; listed so the match stays exhaustive without a wildcard.
        FilterKind::Default(_)
        | FilterKind::First
        | FilterKind::Last
        | FilterKind::Join(_)
        | FilterKind::Length => v.clone(),
    }
}

/// Keeps the first and last character; two characters or fewer are masked entirely, since
/// keeping both would reveal the whole value.
fn mask(t: &str) -> String {
    let n = t.chars().count();
    if n <= 2 {
        return "*".repeat(n);
    }
    let mut chars = t.chars();
    let (first, last) = (
        chars.next().unwrap_or('*'),
        chars.next_back().unwrap_or('*'),
    );
    format!("{first}{}{last}", "*".repeat(n - 2))
}

/// Numbers pass; numeric text (a lone decimal comma allowed) becomes a number, whole values an
/// integer; booleans become 1/0; anything else null.
pub(crate) fn to_number(v: &Value) -> Value {
    match v {
        Value::Number(_) => v.clone(),
        Value::Bool(b) => Value::from(u8::from(*b)),
        Value::String(s) => {
            let s = s.trim();
            let s: Cow<'_, str> =
                if s.contains(',') && !s.contains('.') && s.matches(',').count() == 1 {
                    Cow::Owned(s.replace(',', "."))
                } else {
                    Cow::Borrowed(s)
                };
            if let Ok(i) = s.parse::<i64>() {
                return Value::from(i);
            }
            match s.parse::<f64>() {
                Ok(f) if f.is_finite() && s.bytes().any(|b| b.is_ascii_digit()) => {
                    Number::from_f64(f).map_or(Value::Null, Value::Number)
                }
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

/// Booleans pass; `true/yes/y/1` and `false/no/n/0` (any case) and numbers convert; else null.
pub(crate) fn to_bool(v: &Value) -> Value {
    match v {
        Value::Bool(_) => v.clone(),
        Value::Number(n) => Value::Bool(n.as_f64().is_some_and(|f| f != 0.0)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Value::Bool(true),
            "false" | "no" | "n" | "0" => Value::Bool(false),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}
