//! The macro and condition language: paths, quoting, type preservation, every filter, operators.

use serde_json::{Value, json};

use super::super::MAX_DEPTH;
use super::super::parser::{parse_condition, parse_template};
use super::{TestResult, holds, holds_with, render, render_with};

fn doc() -> Value {
    json!({
        "request_info": {"user_id": "u1"},
        "id": {"Given name": "  Anna ", "Surname": "Berg", "a.b": "dotted", "n": 7, "f": 2.5, "ok": true,
               "dates": {"iso": "2002-09-04", "dmy": "04.09.2002", "slash": "04/09/2002",
                         "compact": "20020904", "mrz": "020904", "mrz_old": "520101", "bad": "soon"}},
        "list": ["x", "", null, "z"],
        "nums": [3, "4", "x"],
        "people": [{"name": "a", "age": 30}, {"name": "b"}, {"age": 5}],
        "fields": {"shadow": "payload key named like a root"},
        "empty": "",
        "nul": null,
        "num_text": " 0,6723 ",
        "flag_text": "Yes"
    })
}

#[test]
fn text_around_macros_is_kept_and_dollar_brace_can_be_escaped() -> TestResult {
    let d = doc();
    assert_eq!(render("Hi ${id.Surname}!", &d)?, json!("Hi Berg!"));
    assert_eq!(
        render("cost $5, $${literal}", &d)?,
        json!("cost $5, ${literal}")
    );
    assert_eq!(render("", &d)?, json!(""));
    assert_eq!(
        render("n=${id.n}, f=${id.f}, ok=${id.ok}, none=[${nope}]", &d)?,
        json!("n=7, f=2.5, ok=true, none=[]")
    );
    Ok(())
}

#[test]
fn a_string_that_is_exactly_one_macro_keeps_the_json_type() -> TestResult {
    let d = doc();
    assert_eq!(render("${id.n}", &d)?, json!(7));
    assert_eq!(render("${id.f}", &d)?, json!(2.5));
    assert_eq!(render("${id.ok}", &d)?, json!(true));
    assert_eq!(render("${list}", &d)?, json!(["x", "", null, "z"]));
    assert!(
        render("${ id . dates . iso }", &d).is_err(),
        "no spaces inside a path"
    );
    assert_eq!(
        render("${ id.n }", &d)?,
        json!(7),
        "spaces around the pipeline are fine"
    );
    assert_eq!(
        render("${nope.deeper[3]}", &d)?,
        Value::Null,
        "missing is null, never a panic"
    );
    assert_eq!(
        render(" ${id.n}", &d)?,
        json!(" 7"),
        "surrounding text makes it a string"
    );
    assert_eq!(
        render("${id.n | string}", &d)?,
        json!("7"),
        "a filter may convert"
    );
    Ok(())
}

#[test]
fn quoted_segments_indices_and_wildcards() -> TestResult {
    let d = doc();
    assert_eq!(render(r#"${id."Given name"}"#, &d)?, json!("  Anna "));
    assert_eq!(render("${id.'Given name' | trim}", &d)?, json!("Anna"));
    assert_eq!(render(r#"${id."a.b"}"#, &d)?, json!("dotted"));
    assert_eq!(render(r#"${"id"["a.b"]}"#, &d)?, json!("dotted"));
    assert_eq!(render("${list[0]}", &d)?, json!("x"));
    assert_eq!(render("${list[-1]}", &d)?, json!("z"));
    assert_eq!(
        render("${list.3}", &d)?,
        json!("z"),
        "a numeric key indexes an array"
    );
    assert_eq!(render("${list[9]}", &d)?, Value::Null);
    assert_eq!(render("${people[*].name}", &d)?, json!(["a", "b"]));
    assert_eq!(render("${people[*].age | first}", &d)?, json!(30));
    assert_eq!(render("${people[ * ]}", &d)?, d["people"]);
    Ok(())
}

#[test]
fn reserved_roots_are_unambiguous_and_payload_reaches_shadowed_keys() -> TestResult {
    let d = doc();
    let fields = json!({"score": 1.2});
    assert_eq!(
        render_with("${fields.score}", &d, Some(&fields))?,
        json!(1.2)
    );
    assert_eq!(
        render("${payload.fields.shadow}", &d)?,
        json!("payload key named like a root")
    );
    assert_eq!(
        render(r#"${"fields".shadow}"#, &d)?,
        json!("payload key named like a root"),
        "quoted = payload"
    );
    assert_eq!(render("${payload.request_info.user_id}", &d)?, json!("u1"));
    assert_eq!(render("${today}", &d)?, json!("2026-11-22"));
    assert_eq!(render("${now}", &d)?, json!("2026-11-22T12:00:00Z"));
    Ok(())
}

#[test]
fn text_filters_upper_lower_trim_digits_string_mask_sha256() -> TestResult {
    let d = doc();
    assert_eq!(render("${id.Surname | upper}", &d)?, json!("BERG"));
    assert_eq!(render("${id.Surname | lower}", &d)?, json!("berg"));
    assert_eq!(
        render(r#"${id."Given name" | trim | upper}"#, &d)?,
        json!("ANNA")
    );
    assert_eq!(render("${request_info.user_id | digits}", &d)?, json!("1"));
    assert_eq!(render("${id.f | string}", &d)?, json!("2.5"));
    assert_eq!(render("${id.Surname | mask}", &d)?, json!("B**g"));
    assert_eq!(
        render("${request_info.user_id | mask}", &d)?,
        json!("**"),
        "two chars: nothing kept"
    );
    let hash = render("${id.Surname | sha256}", &d)?;
    assert_eq!(hash.as_str().map(str::len), Some(64));
    assert_eq!(
        render("${empty | sha256}", &d)?,
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(
        render("${list | upper}", &d)?,
        json!(["X", "", null, "Z"]),
        "element-wise on arrays"
    );
    assert_eq!(render("${nope | upper}", &d)?, Value::Null);
    Ok(())
}

#[test]
fn number_and_bool_filters_convert_or_give_null() -> TestResult {
    let d = doc();
    assert_eq!(
        render("${num_text | number}", &d)?,
        json!(0.6723),
        "decimal comma"
    );
    assert_eq!(render("${nums | number}", &d)?, json!([3, 4, null]));
    assert_eq!(render("${id.Surname | number}", &d)?, Value::Null);
    assert_eq!(render("${id.ok | number}", &d)?, json!(1));
    assert_eq!(render("${flag_text | bool}", &d)?, json!(true));
    assert_eq!(render("${id.n | bool}", &d)?, json!(true));
    assert_eq!(render("${id.Surname | bool}", &d)?, Value::Null);
    Ok(())
}

#[test]
fn date_filter_reads_document_forms_and_emits_iso() -> TestResult {
    let d = doc();
    for key in ["iso", "dmy", "slash", "compact", "mrz"] {
        assert_eq!(
            render(&format!("${{id.dates.{key} | date}}"), &d)?,
            json!("2002-09-04"),
            "{key}"
        );
    }
    assert_eq!(
        render("${id.dates.dmy | date('DD.MM.YYYY')}", &d)?,
        json!("2002-09-04")
    );
    assert_eq!(
        render("${id.dates.dmy | date(\"YYYY-MM-DD\")}", &d)?,
        Value::Null,
        "strict hint"
    );
    assert_eq!(
        render("${id.dates.slash | date('MM/DD/YYYY')}", &d)?,
        json!("2002-04-09")
    );
    assert_eq!(
        render("${id.dates.mrz_old | date(YYMMDD)}", &d)?,
        json!("2052-01-01"),
        "window"
    );
    assert_eq!(
        render("${id.dates.mrz_old | date('auto-past')}", &d)?,
        json!("1952-01-01"),
        "birth"
    );
    assert_eq!(
        render("${id.dates.bad | date | default('unknown')}", &d)?,
        json!("unknown")
    );
    Ok(())
}

#[test]
fn default_first_last_join_length() -> TestResult {
    let d = doc();
    assert_eq!(render("${nope | default('n/a')}", &d)?, json!("n/a"));
    assert_eq!(
        render("${empty | default(0)}", &d)?,
        json!(0),
        "empty string is empty"
    );
    assert_eq!(render("${nul | default(false)}", &d)?, json!(false));
    assert_eq!(render("${id.n | default(1)}", &d)?, json!(7));
    assert_eq!(render("${list | first}", &d)?, json!("x"));
    assert_eq!(render("${list | last}", &d)?, json!("z"));
    assert_eq!(
        render("${id.Surname | first}", &d)?,
        json!("Berg"),
        "non-lists pass through"
    );
    assert_eq!(
        render("${list | join}", &d)?,
        json!("x, z"),
        "empties skipped, default separator"
    );
    assert_eq!(render("${list | join('-')}", &d)?, json!("x-z"));
    assert_eq!(
        render(
            "${[id.'Given name', nope, id.Surname] | trim | join(' ')}",
            &d
        )?,
        json!("Anna Berg")
    );
    assert_eq!(
        render("${[nope, id.Surname] | first}", &d)?,
        json!("Berg"),
        "a list + first coalesces"
    );
    assert_eq!(render("${list | length}", &d)?, json!(4));
    assert_eq!(render("${id.Surname | length}", &d)?, json!(4));
    assert_eq!(render("${nope | length}", &d)?, json!(0));
    Ok(())
}

#[test]
fn comparisons_numbers_text_dates_and_missing_values() -> TestResult {
    let d = doc();
    assert!(holds("${id.f} < 2.6", &d)?);
    assert!(holds("${id.f} >= 2.5 and ${id.f} <= 2.5", &d)?);
    assert!(holds("${id.n} == 7.0", &d)?);
    assert!(holds("${id.n} == '7'", &d)?, "numeric text equals a number");
    assert!(holds(
        "${id.Surname} == \"Berg\" and ${id.Surname} != 'berg'",
        &d
    )?);
    assert!(
        holds("${id.dates.iso} < today", &d)?,
        "ISO dates compare as text"
    );
    assert!(holds("${id.dates.iso | date} > '1999-12-31'", &d)?);
    assert!(
        !holds("${nope} < 1.6", &d)?,
        "ordering against missing is false"
    );
    assert!(!holds("${nope} >= 1.6", &d)?);
    assert!(holds("${nope} != 'OK'", &d)?, "missing is not OK");
    assert!(holds("${nope} == null", &d)?);
    assert!(
        !holds("${id.Surname} > 3", &d)?,
        "text vs number does not order"
    );
    Ok(())
}

#[test]
fn exists_missing_contains_in_and_truthiness() -> TestResult {
    let d = doc();
    assert!(holds("${id.Surname} exists", &d)?);
    assert!(holds(
        "${nope} missing and ${empty} missing and ${nul} missing",
        &d
    )?);
    assert!(holds(
        "${list} contains 'z' and not (${list} contains 'q')",
        &d
    )?);
    assert!(holds("${id.Surname} contains 'er'", &d)?);
    assert!(holds("${id.Surname} in ['Berg', 'Dahl']", &d)?);
    assert!(holds("${id.n} in [1, 7]", &d)?);
    assert!(holds("${id.ok}", &d)?);
    assert!(!holds("${empty}", &d)?);
    assert!(holds("true", &d)?);
    assert!(!holds("not true", &d)?);
    Ok(())
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override() -> TestResult {
    let d = doc();
    assert!(holds("true or false and false", &d)?);
    assert!(!holds("(true or false) and false", &d)?);
    assert!(holds("not false and not (false or false)", &d)?);
    let fields = json!({"face": 0.67, "status": "ERROR"});
    assert!(holds_with(
        "${fields.face} < 1.6 or ${fields.status} != 'OK'",
        &d,
        Some(&fields)
    )?);
    Ok(())
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    let err = |r: Result<(), super::super::lexer::SyntaxError>| r.err().map(|e| (e.pos, e.message));
    let t = |s: &str| err(parse_template(s).map(drop));
    let c = |s: &str| err(parse_condition(s).map(drop));
    assert_eq!(
        t("ab ${x"),
        Some((
            3,
            "expected `}` to close the macro `${` opened here".to_owned()
        ))
    );
    assert_eq!(t("${x | nope}").map(|e| e.0), Some(6));
    assert!(t("${x | nope}").is_some_and(|e| {
        e.1.starts_with("unknown filter `nope`; expected one of: upper")
    }));
    assert_eq!(
        t("${x y}"),
        Some((4, "expected `|` or `}`, found `y`".to_owned()))
    );
    assert_eq!(
        t("${}"),
        Some((
            2,
            "expected a path (a name or a quoted key), found `}`".to_owned()
        ))
    );
    assert_eq!(
        t("${x[1.5]}"),
        Some((7, "expected an integer index, found `]`".to_owned()))
    );
    assert!(
        t("${x | date('someday')}")
            .is_some_and(|e| e.1.starts_with("unknown date format `someday`"))
    );
    assert!(t("${x | upper(1)}").is_some_and(|e| e.1 == "filter `upper` takes no arguments"));
    assert!(t("${x | default}").is_some_and(|e| e.1.contains("needs a value")));
    assert_eq!(
        t("${'abc}"),
        Some((
            2,
            "expected closing ' for the string that starts here".to_owned()
        ))
    );
    assert_eq!(
        c(""),
        Some((0, "expected a condition, found end of text".to_owned()))
    );
    assert_eq!(
        c("(${a} == 1"),
        Some((0, "expected `)` to close the `(` opened here".to_owned()))
    );
    assert_eq!(c("${a} == 1 ${b}").map(|e| e.0), Some(10));
    assert!(c("fields.x < 1").is_some_and(|e| e.1.starts_with("expected a value (`${…}`")));
    assert_eq!(c("${a} <").map(|e| e.0), Some(6));
}

#[test]
fn nesting_is_bounded_and_reported() {
    let deep = format!(
        "{}true{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let e = parse_condition(&deep).err();
    assert!(e.is_some_and(|e| e.message.contains("nested too deeply")));
    let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse_condition(&ok).is_ok());
    assert!(parse_condition(&"not ".repeat(100_000)).is_err());
    assert!(
        parse_template(&format!(
            "${{{}a{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        ))
        .is_err()
    );
}
