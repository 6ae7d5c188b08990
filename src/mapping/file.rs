//! The TOML shape of a mapping file, read with byte spans so every error can name a file position.
//!
//! `toml::Spanned` gives the span of each value as written (quotes and escapes included). A macro
//! error is found at a byte offset of the *decoded* string, so [`string_offset`] re-reads the raw
//! TOML string to map that offset back into the file; the issue asks for the line and column in
//! the file, not inside the string.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use super::LoadError;

/// A mapping file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub fields: Ordered<Spanned<RawField>>,
    #[serde(default)]
    pub images: Ordered<Spanned<String>>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub response: Option<Spanned<RespNode>>,
}

/// A table read in document order, keys with their spans.
#[derive(Debug)]
pub(crate) struct Ordered<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    out.push((k, map.next_value::<V>()?));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// A canonical field: a macro string, or a table with options.
#[derive(Debug)]
pub(crate) enum RawField {
    Short(String),
    Full(RawFieldTable),
}

/// The table form of a canonical field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFieldTable {
    pub from: Spanned<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub pii: bool,
    #[serde(default, rename = "type")]
    pub ty: Option<Spanned<String>>,
    /// Accepted so admins can document it in the file; not used at run time.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a macro string or a table with `from`, `required`, `pii`, `type`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawField, E> {
                Ok(RawField::Short(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                RawFieldTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawField::Full)
            }
        }
        d.deserialize_any(V)
    }
}

/// One `[[rules]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub when: Spanned<String>,
    pub decision: Spanned<String>,
    pub reason: Spanned<String>,
    /// Accepted so admins can document it in the file; not used at run time.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
}

/// A node of the `[response]` template.
#[derive(Debug)]
pub(crate) enum RespNode {
    Text(String),
    Literal(serde_json::Value),
    List(Vec<Spanned<RespNode>>),
    Table(Vec<(String, Spanned<RespNode>)>),
}

impl<'de> Deserialize<'de> for RespNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RespNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean, array or table")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<RespNode, E> {
                Ok(RespNode::Literal(b.into()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RespNode, E> {
                Ok(RespNode::Literal(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RespNode, E> {
                Ok(RespNode::Literal(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<RespNode, E> {
                serde_json::Number::from_f64(n)
                    .map(|n| RespNode::Literal(serde_json::Value::Number(n)))
                    .ok_or_else(|| E::custom("expected a finite number (JSON has no inf or nan)"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RespNode, E> {
                Ok(RespNode::Text(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RespNode, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<RespNode>>()? {
                    out.push(item);
                }
                Ok(RespNode::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RespNode, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<Spanned<RespNode>>()?));
                }
                Ok(RespNode::Table(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The text of one mapping file, for turning byte offsets into `path:line:col` errors.
pub(crate) struct SourceFile<'f> {
    pub path: &'f Path,
    pub text: &'f str,
}

impl SourceFile<'_> {
    /// An error at a byte offset of the file.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> LoadError {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        LoadError {
            file: self.path.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    /// An error at byte `pos` of the decoded string `value` whose TOML value spans `span`.
    pub fn error_in_string(
        &self,
        span: &Range<usize>,
        value: &str,
        pos: usize,
        message: impl Into<String>,
    ) -> LoadError {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let offset = string_offset(raw, value, pos).unwrap_or(0);
        self.error_at(span.start + offset, message)
    }
}

/// The offset inside `raw` (a TOML string token, quotes included) of byte `pos` of its decoded
/// `value`. `None` when `raw` does not decode to `value` (then the caller points at the start).
pub(crate) fn string_offset(raw: &str, value: &str, pos: usize) -> Option<usize> {
    let (delim, basic) = if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with("'''") {
        ("'''", false)
    } else if raw.starts_with('"') {
        ("\"", true)
    } else if raw.starts_with('\'') {
        ("'", false)
    } else {
        return None;
    };
    let multi = delim.len() == 3;
    let mut start = delim.len();
    let body_end = raw.len().checked_sub(delim.len())?;
    if multi {
        // TOML trims a newline right after the opening delimiter.
        let body = raw.get(start..body_end)?;
        start += if body.starts_with("\r\n") {
            2
        } else {
            usize::from(body.starts_with('\n'))
        };
    }
    let body = raw.get(start..body_end)?;
    let mut decoded = String::new();
    let mut map = Vec::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = start + i;
        if !(basic && c == '\\') {
            decoded.push(c);
            map.extend(std::iter::repeat_n(at, c.len_utf8()));
            continue;
        }
        let (_, e) = chars.next()?;
        let ch = match e {
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'f' => '\u{c}',
            'r' => '\r',
            '"' => '"',
            '\\' => '\\',
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let hex: String = (0..n)
                    .filter_map(|_| chars.next().map(|(_, h)| h))
                    .collect();
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            // A line-ending backslash (multi-line strings) swallows the following whitespace.
            w if w.is_whitespace() && multi => {
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
                continue;
            }
            _ => return None,
        };
        decoded.push(ch);
        map.extend(std::iter::repeat_n(at, ch.len_utf8()));
    }
    map.push(body_end);
    if decoded != value {
        return None;
    }
    map.get(pos).copied()
}

#[cfg(test)]
mod tests {
    use super::string_offset;

    #[test]
    fn offsets_map_through_every_kind_of_toml_string() {
        assert_eq!(string_offset("'a${x'", "a${x", 1), Some(2));
        assert_eq!(string_offset(r#""\"q\" ${x""#, "\"q\" ${x", 4), Some(7));
        assert_eq!(string_offset(r#""\u00e9${""#, "é${", 2), Some(7));
        assert_eq!(string_offset("'''\nab'''", "ab", 1), Some(5));
        assert_eq!(string_offset("\"\"\"a \\\n   b\"\"\"", "a b", 2), Some(10));
        assert_eq!(
            string_offset("\"abc\"", "abc", 3),
            Some(4),
            "one past the end"
        );
    }

    #[test]
    fn a_token_that_does_not_decode_to_the_value_gives_none() {
        assert_eq!(string_offset("'abc'", "abd", 1), None);
        assert_eq!(string_offset("abc", "abc", 1), None);
        assert_eq!(string_offset(r#""\q""#, "q", 0), None);
    }
}
