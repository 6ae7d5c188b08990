//! Character-level scanning for the macro and condition language.
//!
//! The grammar is context sensitive in small ways (`0` is a key after a dot but a number after
//! `==`), so instead of a token stream the parser asks this scanner for the next piece it
//! expects. Positions are byte offsets into the scanned string and always on char boundaries.

use serde_json::Value;

/// A syntax error at a byte offset of the scanned string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: usize,
    pub message: String,
}

impl SyntaxError {
    pub fn new(pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos,
            message: message.into(),
        }
    }
}

/// A cursor over one expression string.
pub(crate) struct Scanner<'s> {
    src: &'s str,
    pos: usize,
}

impl<'s> Scanner<'s> {
    pub fn new(src: &'s str) -> Scanner<'s> {
        Scanner { src, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn rest(&self) -> &'s str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes `text` if the input continues with it.
    pub fn eat(&mut self, text: &str) -> bool {
        if self.rest().starts_with(text) {
            self.pos += text.len();
            true
        } else {
            false
        }
    }

    /// Consumes the keyword `word` only when it is not the start of a longer word.
    pub fn eat_keyword(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.starts_with(word) && !rest[word.len()..].starts_with(is_word_char) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// A description of what comes next, for "expected …, found …" messages.
    pub fn found(&self) -> String {
        match self.peek() {
            None => "end of text".to_owned(),
            Some(c) => format!("`{}`", c.escape_debug()),
        }
    }

    /// An error at the current position saying what was expected.
    pub fn expected(&self, what: &str) -> SyntaxError {
        SyntaxError::new(self.pos, format!("expected {what}, found {}", self.found()))
    }

    /// A word: letters, digits, `_` and `-` (path keys such as `request_info`, `0`, `M`).
    pub fn word(&mut self) -> Option<&'s str> {
        let rest = self.rest();
        let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    /// A quoted string, `'…'` or `"…"`; `\` escapes the next character (`\'`, `\"`, `\\`).
    /// Returns `Ok(None)` when the input does not start with a quote.
    pub fn string(&mut self) -> Result<Option<String>, SyntaxError> {
        let start = self.pos;
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Ok(None),
        };
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(SyntaxError::new(
                        start,
                        format!("expected closing {quote} for the string that starts here"),
                    ));
                }
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(self.expected("a character after `\\`")),
                },
                Some(c) if c == quote => return Ok(Some(out)),
                Some(c) => out.push(c),
            }
        }
    }

    /// A JSON-style number literal (`-12`, `1.6`, `2e3`). Returns `None` without consuming
    /// anything when the input does not start with one.
    pub fn number(&mut self) -> Option<Value> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = usize::from(bytes.first() == Some(&b'-'));
        let digits_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits_start {
            return None;
        }
        let mut is_float = false;
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            is_float = true;
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                is_float = true;
                i = j;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
        }
        // A number glued to letters (`12ab`) is not a number; let the caller report it.
        if rest[i..].starts_with(|c: char| c.is_alphabetic() || c == '_') {
            return None;
        }
        let text = &rest[..i];
        let value = if is_float {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        } else {
            text.parse::<i64>().ok().map(Value::from).or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
        }?;
        self.pos += i;
        Some(value)
    }
}

/// Characters allowed in an unquoted path key or filter name.
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_take_either_quote_and_backslash_escapes() {
        let mut s = Scanner::new(r#"'it\'s' "a \"b\"" rest"#);
        assert_eq!(s.string(), Ok(Some("it's".to_owned())));
        s.skip_ws();
        assert_eq!(s.string(), Ok(Some("a \"b\"".to_owned())));
        s.skip_ws();
        assert_eq!(s.string(), Ok(None));
        assert_eq!(s.word(), Some("rest"));
    }

    #[test]
    fn unterminated_string_points_at_its_start() {
        let mut s = Scanner::new("x 'abc");
        s.word();
        s.skip_ws();
        let err = s.string().err();
        assert_eq!(err.map(|e| e.pos), Some(2));
    }

    #[test]
    fn numbers_parse_ints_floats_and_refuse_glued_letters() {
        assert_eq!(Scanner::new("1.6").number(), Some(serde_json::json!(1.6)));
        assert_eq!(Scanner::new("-3 ").number(), Some(serde_json::json!(-3)));
        assert_eq!(
            Scanner::new("2e3").number(),
            Some(serde_json::json!(2000.0))
        );
        assert_eq!(Scanner::new("12ab").number(), None);
        assert_eq!(Scanner::new("-").number(), None);
        assert_eq!(Scanner::new("1.").number(), Some(serde_json::json!(1)));
    }

    #[test]
    fn keywords_need_a_word_boundary() {
        assert!(!Scanner::new("android").eat_keyword("and"));
        assert!(Scanner::new("and(").eat_keyword("and"));
    }
}
