//! Load errors: every problem of a file or a set, each as `path:line:col: what was expected`.

use std::path::Path;

use super::super::{Mapping, MappingLoadErrors, MappingSet};
use super::TestResult;

fn load(text: &str) -> Result<Mapping, MappingLoadErrors> {
    Mapping::from_bytes(Path::new("m.toml"), text.as_bytes())
}

fn errors(text: &str) -> Vec<String> {
    match load(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = r#"name = "good"
when = '${kyc_info.document.version} == "3.0"'
[fields]
score = { from = "${kyc_info.face_matcher_result.score}", type = "number" }
[[rules]]
when = "${fields.score} < 1.6"
decision = "reject"
reason = "face_mismatch"
"#;

#[test]
fn a_good_file_loads_with_its_hash() -> TestResult {
    let m = load(GOOD)?;
    assert_eq!(m.name, "good");
    assert_eq!(m.sha256.len(), 64);
    assert_eq!(m.field_names(), ["score"]);
    Ok(())
}

#[test]
fn macro_errors_point_into_the_file_not_into_the_string() {
    // Line 4: the macro error is at the `|`-filter name, after an escaped quote pair.
    let text = "name = \"x\"\n[fields]\na = \"ok\"\nb = \"\\\"q\\\" ${kyc_info.x | nope}\"\n";
    let col = "b = \"\\\"q\\\" ${kyc_info.x | ".chars().count() + 1;
    assert_eq!(
        errors(text)
            .first()
            .map(|e| e.split(": unknown").next().map(str::to_owned)),
        Some(Some(format!("m.toml:4:{col}")))
    );
    // A multi-line literal string: the error is on its third line.
    let text = "name = \"x\"\n[[rules]]\ndecision = \"review\"\nreason = \"r\"\nwhen = '''\n${a} == 1\n  and ${b} =< 2'''\n";
    let e = errors(text);
    assert_eq!(
        e,
        [
            "m.toml:7:12: expected `and`, `or` or the end of the condition, found `=` (the operators are `and`, `or`, `not`, `==`, `!=`)"
        ]
    );
}

#[test]
fn toml_syntax_and_shape_errors_have_positions() {
    assert!(
        errors("name = \"x\"\nwhen = \n")
            .first()
            .is_some_and(|e| e.starts_with("m.toml:2:"))
    );
    assert_eq!(errors("name = \"x\"\ncolour = 1\n").len(), 1);
    assert!(
        errors("name = \"x\"\ncolour = 1\n")
            .first()
            .is_some_and(|e| e.starts_with("m.toml:2:1: unknown field `colour`"))
    );
    assert!(
        errors("name = \"x\"\n[fields]\na = { form = \"${x}\" }\n")
            .first()
            .is_some_and(|e| e.starts_with("m.toml:3:"))
    );
    assert!(
        errors("description = \"no name\"\n")
            .first()
            .is_some_and(|e| e.contains("missing field `name`"))
    );
    assert!(
        errors("name = \"x\"\n[fields]\na = 5\n")
            .first()
            .is_some_and(|e| e.starts_with("m.toml:3:5: invalid type"))
    );
}

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let text = r#"name = "bad name!"
when = '${today} == "2026-01-01"'
[fields]
Bad = "${x}"
a = "${fields.b}"
b = { from = "${x}", type = "float" }
[images]
selfie = "${now.x}"
[[rules]]
when = "${fields.nope} < 1 or ${decision.status} == 'x'"
decision = "deny"
reason = "Bad-Code"
[response]
user = "${submission.user}"
"#;
    let e = errors(text);
    let expected = [
        "m.toml:1:8: expected a mapping name",
        "m.toml:2:11: `today` is not available in the mapping's `when`",
        "m.toml:4:1: expected a canonical field name",
        "m.toml:5:8: `fields` is not available in [fields] and [images]",
        "m.toml:6:29: expected a type: any, string",
        "m.toml:8:13: `now` has no parts",
        "m.toml:10:11: unknown canonical field `nope`; this mapping defines: Bad, a, b",
        "m.toml:10:33: `decision` is not available in [[rules]]",
        "m.toml:11:12: expected `reject` or `review`",
        "m.toml:12:10: expected a reason code",
        "m.toml:14:11: expected `submission.reference` or `submission.received_at`",
    ];
    assert_eq!(e.len(), expected.len(), "{e:#?}");
    for (got, want) in e.iter().zip(expected) {
        assert!(got.starts_with(want), "got {got:?}, want {want:?}");
    }
}

#[test]
fn bad_utf8_is_reported_with_its_position() {
    let e = match Mapping::from_bytes(Path::new("m.toml"), b"name = \"x\"\nwhen = \"\xff\"\n") {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(e, ["m.toml:2:9: expected UTF-8 text"]);
}

fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(name), text)
}

#[test]
fn load_dir_reports_the_broken_file_with_its_line_and_refuses_the_set() -> TestResult {
    let dir = tempfile::tempdir()?;
    write(dir.path(), "10-good.toml", GOOD)?;
    write(
        dir.path(),
        "20-broken.toml",
        "name = \"broken\"\n[[rules]]\nwhen = \"${fields.x} <\"\ndecision = \"reject\"\nreason = \"r\"\n",
    )?;
    let err = MappingSet::load_dir(dir.path())
        .err()
        .ok_or("a broken set must be refused")?;
    assert_eq!(err.errors.len(), 1, "{err}");
    let text = err.to_string();
    assert!(text.ends_with("20-broken.toml:3:22: expected a value (`${…}`, a quoted string, a number, true, false, null, now or today), found end of text"), "{text}");
    Ok(())
}

#[test]
fn load_dir_refuses_duplicate_names_naming_both_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    write(dir.path(), "a.toml", GOOD)?;
    write(dir.path(), "b.toml", &format!("# copy\n{GOOD}"))?;
    let err = MappingSet::load_dir(dir.path())
        .err()
        .ok_or("duplicates must be refused")?;
    let text = err.to_string();
    assert!(
        text.contains("b.toml:2:8: duplicate mapping name `good`: already defined in"),
        "{text}"
    );
    assert!(text.contains("a.toml"), "{text}");
    Ok(())
}

#[test]
fn load_dir_skips_examples_and_hidden_files_and_refuses_an_empty_set() -> TestResult {
    let dir = tempfile::tempdir()?;
    write(dir.path(), "x.example.toml", GOOD)?;
    write(dir.path(), ".#lock.toml", "not toml at all [")?;
    write(dir.path(), "notes.txt", "ignored")?;
    let err = MappingSet::load_dir(dir.path())
        .err()
        .ok_or("an empty set must be refused")?;
    assert!(err.to_string().contains("no mapping files"), "{err}");
    write(dir.path(), "b.toml", &GOOD.replace("\"good\"", "\"b\""))?;
    write(dir.path(), "a.toml", &GOOD.replace("\"good\"", "\"a\""))?;
    let set = MappingSet::load_dir(dir.path())?;
    assert_eq!(set.names(), ["a", "b"], "file-name order");
    assert!(MappingSet::load_dir(&dir.path().join("nope")).is_err());
    Ok(())
}
