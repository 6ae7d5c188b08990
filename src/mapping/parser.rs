//! The whole grammar of the mapping language: templates, macros, paths, filters and conditions.
//!
//! ```text
//! template   := ( text | "$${" | "${" pipeline "}" )*          -- "$${" is a literal "${"
//! pipeline   := source ( "|" filter )*
//! source     := path | "[" pipeline ( "," pipeline )* "]"
//! path       := key ( "." key | "[" index "]" )*
//! key        := word | quoted                                  -- word: letters, digits, _ and -
//! index      := integer | "*" | quoted                         -- negative integers count from the end
//! filter     := word [ "(" [ arg ( "," arg )* ] ")" ]
//! arg        := quoted | number | true | false | null | word    -- a bare word is a string
//! condition  := and_expr ( "or" and_expr )*
//! and_expr   := unary ( "and" unary )*
//! unary      := "not" unary | "(" condition ")" | test
//! test       := operand [ cmp_op operand | "exists" | "missing" ]
//! cmp_op     := "==" | "!=" | "<=" | "<" | ">=" | ">" | "contains" | "in"
//! operand    := "${" pipeline "}" | quoted | number | true | false | null | now | today
//!             | "[" operand ( "," operand )* "]"
//! quoted     := "'" … "'" | '"' … '"'                          -- "\" escapes the next character
//! ```
//!
//! The first unquoted key of a path may be a reserved root word (`payload`, `fields`,
//! `submission`, `decision`, `now`, `today`); any other first key walks the payload. Nesting
//! (parentheses, `not`, lists) is limited to [`MAX_DEPTH`] so no input drives unbounded recursion.

use serde_json::Value;

use super::ast::{
    CmpOp, Cond, Filter, Operand, Part, Path, Pipeline, Root, Segment, Source, Template,
};
use super::filters;
use super::lexer::{Scanner, SyntaxError};

/// The deepest nesting of parentheses, `not` and lists an expression may have.
pub const MAX_DEPTH: usize = 32;

/// Parses a template string such as `"${a.b | upper} and text"`.
pub(crate) fn parse_template(src: &str) -> Result<Template, SyntaxError> {
    let mut p = Parser::new(src);
    let mut parts = Vec::new();
    let mut text = String::new();
    while let Some(c) = p.s.peek() {
        if p.s.eat("$${") {
            text.push_str("${");
        } else if p.s.eat("${") {
            let open = p.s.pos() - 2;
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            let pipeline = p.pipeline()?;
            p.close_macro(open)?;
            parts.push(Part::Macro(pipeline));
        } else {
            p.s.bump();
            text.push(c);
        }
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(Template { parts })
}

/// Parses a condition such as `${fields.score} < 1.6 and not (${x} missing)`.
pub(crate) fn parse_condition(src: &str) -> Result<Cond, SyntaxError> {
    let mut p = Parser::new(src);
    p.s.skip_ws();
    if p.s.at_end() {
        return Err(p.s.expected("a condition"));
    }
    let cond = p.condition()?;
    p.s.skip_ws();
    if !p.s.at_end() {
        let mut err = p.s.expected("`and`, `or` or the end of the condition");
        if ["&&", "||", "!", "="]
            .iter()
            .any(|op| p.s.rest().starts_with(op))
        {
            err.message
                .push_str(" (the operators are `and`, `or`, `not`, `==`, `!=`)");
        }
        return Err(err);
    }
    Ok(cond)
}

struct Parser<'s> {
    s: Scanner<'s>,
    depth: usize,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Parser<'s> {
        Parser {
            s: Scanner::new(src),
            depth: 0,
        }
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(SyntaxError::new(
                self.s.pos(),
                format!("expression nested too deeply (the limit is {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn close_macro(&mut self, open: usize) -> Result<(), SyntaxError> {
        self.s.skip_ws();
        if self.s.eat("}") {
            return Ok(());
        }
        let mut err = self.s.expected("`|` or `}`");
        if self.s.at_end() {
            err.message = "expected `}` to close the macro `${` opened here".to_owned();
            err.pos = open;
        }
        Err(err)
    }

    fn pipeline(&mut self) -> Result<Pipeline, SyntaxError> {
        self.s.skip_ws();
        let source = if self.s.eat("[") {
            let items = self.nested(|p| p.list(Self::pipeline, "a path"))?;
            Source::List(items)
        } else {
            Source::Path(self.path()?)
        };
        let mut filters = Vec::new();
        loop {
            self.s.skip_ws();
            if !self.s.eat("|") {
                break;
            }
            self.s.skip_ws();
            filters.push(self.filter()?);
        }
        Ok(Pipeline { source, filters })
    }

    /// The items of a `[…]` list after its opening bracket, up to and including `]`.
    fn list<T>(
        &mut self,
        item: fn(&mut Self) -> Result<T, SyntaxError>,
        what: &str,
    ) -> Result<Vec<T>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.s.skip_ws();
            if items.is_empty() && self.s.eat("]") {
                return Err(self.s.expected(what));
            }
            items.push(item(self)?);
            self.s.skip_ws();
            if self.s.eat("]") {
                return Ok(items);
            }
            if !self.s.eat(",") {
                return Err(self.s.expected("`,` or `]`"));
            }
        }
    }

    /// An unquoted word or a quoted key.
    fn key(&mut self) -> Result<Option<String>, SyntaxError> {
        match self.s.word() {
            Some(w) => Ok(Some(w.to_owned())),
            None => self.s.string(),
        }
    }

    fn path(&mut self) -> Result<Path, SyntaxError> {
        let pos = self.s.pos();
        let quoted = matches!(self.s.peek(), Some('\'' | '"'));
        let first = self
            .key()?
            .ok_or_else(|| self.s.expected("a path (a name or a quoted key)"))?;
        // Only an unquoted first key can be a reserved root; `"fields"` is a payload key.
        let (root, mut segments) = match Root::from_word(&first).filter(|_| !quoted) {
            Some(root) => (root, Vec::new()),
            None => (Root::Payload, vec![Segment::Key(first)]),
        };
        loop {
            if self.s.eat(".") {
                let key = self
                    .key()?
                    .ok_or_else(|| self.s.expected("a key after `.`"))?;
                segments.push(Segment::Key(key));
            } else if self.s.eat("[") {
                self.s.skip_ws();
                let seg = if self.s.eat("*") {
                    Segment::Wildcard
                } else if let Some(key) = self.s.string()? {
                    Segment::Key(key)
                } else {
                    match self.s.number() {
                        Some(n) => Segment::Index(
                            n.as_i64()
                                .ok_or_else(|| self.s.expected("an integer index"))?,
                        ),
                        None => return Err(self.s.expected("an index, `*` or a quoted key")),
                    }
                };
                self.s.skip_ws();
                if !self.s.eat("]") {
                    return Err(self.s.expected("`]`"));
                }
                segments.push(seg);
            } else {
                return Ok(Path {
                    root,
                    segments,
                    pos,
                });
            }
        }
    }

    fn filter(&mut self) -> Result<Filter, SyntaxError> {
        let pos = self.s.pos();
        let name = self
            .s
            .word()
            .ok_or_else(|| self.s.expected("a filter name"))?;
        let mut args = Vec::new();
        self.s.skip_ws();
        if self.s.eat("(") {
            self.s.skip_ws();
            if !self.s.eat(")") {
                loop {
                    self.s.skip_ws();
                    args.push(self.filter_arg()?);
                    self.s.skip_ws();
                    if self.s.eat(")") {
                        break;
                    }
                    if !self.s.eat(",") {
                        return Err(self.s.expected("`,` or `)`"));
                    }
                }
            }
        }
        let kind = filters::resolve(name, args).map_err(|m| SyntaxError::new(pos, m))?;
        Ok(Filter { kind, pos })
    }

    fn filter_arg(&mut self) -> Result<Value, SyntaxError> {
        if let Some(v) = self.literal()? {
            return Ok(v);
        }
        match self.s.word() {
            Some(w) => Ok(Value::String(w.to_owned())),
            None => Err(self
                .s
                .expected("an argument (a quoted string, a number, true, false or null)")),
        }
    }

    /// A quoted string, number, `true`, `false` or `null`, if one comes next.
    fn literal(&mut self) -> Result<Option<Value>, SyntaxError> {
        if let Some(s) = self.s.string()? {
            return Ok(Some(Value::String(s)));
        }
        if let Some(n) = self.s.number() {
            return Ok(Some(n));
        }
        for (word, value) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if self.s.eat_keyword(word) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn condition(&mut self) -> Result<Cond, SyntaxError> {
        let mut left = self.and_expr()?;
        loop {
            self.s.skip_ws();
            if !self.s.eat_keyword("or") {
                return Ok(left);
            }
            let right = self.and_expr()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
    }

    fn and_expr(&mut self) -> Result<Cond, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            self.s.skip_ws();
            if !self.s.eat_keyword("and") {
                return Ok(left);
            }
            let right = self.unary()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Cond, SyntaxError> {
        self.s.skip_ws();
        if self.s.eat_keyword("not") {
            return self.nested(|p| Ok(Cond::Not(Box::new(p.unary()?))));
        }
        if self.s.eat("(") {
            let open = self.s.pos() - 1;
            let inner = self.nested(Self::condition)?;
            self.s.skip_ws();
            if !self.s.eat(")") {
                let mut err = self.s.expected("`)`, `and` or `or`");
                if self.s.at_end() {
                    err = SyntaxError::new(open, "expected `)` to close the `(` opened here");
                }
                return Err(err);
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        self.s.skip_ws();
        if self.s.eat_keyword("exists") {
            return Ok(Cond::Exists(left));
        }
        if self.s.eat_keyword("missing") {
            return Ok(Cond::Missing(left));
        }
        let op = match self.cmp_op() {
            Some(op) => op,
            None => return Ok(Cond::Truthy(left)),
        };
        self.s.skip_ws();
        let right = self.operand()?;
        Ok(Cond::Compare(left, op, right))
    }

    fn cmp_op(&mut self) -> Option<CmpOp> {
        // Two-character operators first so `<=` is not read as `<`.
        let ops = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
        ];
        for (text, op) in ops {
            if self.s.eat(text) {
                return Some(op);
            }
        }
        if self.s.eat_keyword("contains") {
            return Some(CmpOp::Contains);
        }
        if self.s.eat_keyword("in") {
            return Some(CmpOp::In);
        }
        None
    }

    fn operand(&mut self) -> Result<Operand, SyntaxError> {
        self.s.skip_ws();
        if self.s.eat("${") {
            let open = self.s.pos() - 2;
            let pipeline = self.pipeline()?;
            self.close_macro(open)?;
            return Ok(Operand::Macro(pipeline));
        }
        if self.s.eat("[") {
            return Ok(Operand::List(
                self.nested(|p| p.list(Self::operand, "a value"))?,
            ));
        }
        if let Some(v) = self.literal()? {
            return Ok(Operand::Literal(v));
        }
        if self.s.eat_keyword("now") {
            return Ok(Operand::Now);
        }
        if self.s.eat_keyword("today") {
            return Ok(Operand::Today);
        }
        Err(self.s.expected(
            "a value (`${…}`, a quoted string, a number, true, false, null, now or today)",
        ))
    }
}
