//! Property tests: no input makes the parser, the file loader or the evaluator panic, and
//! nesting never overflows the stack.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use super::super::eval::{self, Scope};
use super::super::parser::{parse_condition, parse_template};
use super::super::{MAX_DEPTH, Mapping};
use super::now;

/// Text made mostly of the language's own characters, so the parser gets deep before failing.
fn grammar_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "${",
        "}",
        "$${",
        "$",
        "|",
        "(",
        ")",
        "[",
        "]",
        "[*]",
        "[-1]",
        ".",
        ",",
        "'",
        "\"",
        "\\",
        " ",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "and",
        "or",
        "not",
        "exists",
        "missing",
        "contains",
        "in",
        "true",
        "false",
        "null",
        "now",
        "today",
        "fields",
        "payload",
        "decision",
        "submission",
        "kyc_info",
        "document",
        "version",
        "score",
        "0",
        "1.6",
        "-3",
        "2e9",
        "é",
        "\u{0}",
        "upper",
        "lower",
        "trim",
        "number",
        "bool",
        "date",
        "date('auto')",
        "default(1)",
        "mask",
        "sha256",
        "first",
        "last",
        "join(',')",
        "digits",
        "length",
        "string",
        "\"Given name\"",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~é]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "2002-09-04",
            "020904",
            "04.09.2002",
            "3.0",
            "OK",
            "1,5"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "kyc_info",
                    "document",
                    "version",
                    "score",
                    "fields",
                    "0",
                    "Given name",
                    "a"
                ]),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

fn exercise(src: &str, payload: &Value) {
    let fields = payload.clone();
    let scope = Scope {
        fields: Some(&fields),
        decision: Some(payload),
        submission: Some(payload),
        ..Scope::payload(payload, now())
    };
    if let Ok(t) = parse_template(src) {
        let _ = eval::template(&t, &scope);
    }
    if let Ok(c) = parse_condition(src) {
        let _ = eval::condition(&c, &scope);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn grammar_like_text_never_panics(src in grammar_text(), payload in json_value()) {
        exercise(&src, &payload);
        exercise(&format!("${{{src}}}"), &payload);
    }

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>(), payload in json_value()) {
        exercise(&src, &payload);
    }

    #[test]
    fn arbitrary_mapping_files_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Mapping::from_bytes(Path::new("f.toml"), &bytes);
    }

    #[test]
    fn mutated_shipped_mapping_never_panics_and_applies(
        at in any::<prop::sample::Index>(),
        insert in grammar_text(),
        payload in json_value(),
    ) {
        let text = include_str!("../../../mappings/ditto-v3.toml");
        let mut cut = at.index(text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mutated = format!("{}{insert}{}", &text[..cut], &text[cut..]);
        if let Ok(m) = Mapping::from_bytes(Path::new("ditto-v3.toml"), mutated.as_bytes()) {
            let _ = m.apply(&payload, now());
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for src in [
        "(".repeat(100_000),
        "not ".repeat(100_000),
        format!("${{{}", "[".repeat(100_000)),
        "[".repeat(100_000),
    ] {
        assert!(parse_condition(&src).is_err());
        assert!(parse_template(&src).is_ok() || parse_template(&src).is_err());
    }
}

#[test]
fn deeply_nested_toml_is_refused_with_a_message() {
    for depth in [MAX_DEPTH + 2, 10_000] {
        let text = format!(
            "name = \"n\"\n[response]\na = {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let err = Mapping::from_bytes(Path::new("deep.toml"), text.as_bytes()).err();
        assert!(
            err.is_some_and(|e| e.errors.iter().all(|e| e.line.is_some())),
            "depth {depth}"
        );
    }
}
