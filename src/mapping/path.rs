//! Walking a path through a JSON value.
//!
//! A missing step yields null ("empty"), never an error: the payload's optional blocks vary
//! (docs/ditto-protocol.md §0.7), and `required`/`default` in the mapping decide what empty means.
//! The walk is a loop over the path's segments, so its cost is bounded by the path and the value.

use std::borrow::Cow;

use serde_json::Value;

use super::ast::Segment;

/// Follows `segments` from `root`. Without `[*]` the result borrows from `root`; with `[*]` it
/// is an array of every match (missing matches left out).
pub(crate) fn walk<'a>(root: &'a Value, segments: &[Segment]) -> Cow<'a, Value> {
    let mut current: Vec<&'a Value> = vec![root];
    let mut many = false;
    for seg in segments {
        many |= *seg == Segment::Wildcard;
        let mut next = Vec::with_capacity(current.len());
        for v in current {
            match seg {
                Segment::Key(k) => next.extend(key(v, k)),
                Segment::Index(i) => next.extend(index(v, *i)),
                Segment::Wildcard => match v {
                    Value::Array(items) => next.extend(items.iter()),
                    Value::Object(map) => next.extend(map.values()),
                    _ => {}
                },
            }
        }
        current = next;
    }
    if many {
        Cow::Owned(Value::Array(current.into_iter().cloned().collect()))
    } else {
        current
            .first()
            .map_or(Cow::Owned(Value::Null), |v| Cow::Borrowed(*v))
    }
}

/// `.key`: an object member; on an array a numeric key indexes, so `field_list.0` works whether
/// the upstream sent `field_list` as an array or as an object keyed "0", "1", … (protocol §3.5).
fn key<'a>(v: &'a Value, k: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map.get(k),
        Value::Array(_) => k.parse::<i64>().ok().and_then(|i| index(v, i)),
        _ => None,
    }
}

/// `[n]`: an array element (negative counts from the end); on an object the member named "n".
fn index(v: &Value, i: i64) -> Option<&Value> {
    match v {
        Value::Array(items) => {
            let len = i64::try_from(items.len()).ok()?;
            let at = if i < 0 { len.checked_add(i)? } else { i };
            items.get(usize::try_from(at).ok()?)
        }
        Value::Object(map) => map.get(&i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segs(list: &[&str]) -> Vec<Segment> {
        list.iter()
            .map(|s| match *s {
                "*" => Segment::Wildcard,
                s => s
                    .parse::<i64>()
                    .map_or_else(|_| Segment::Key(s.to_owned()), Segment::Index),
            })
            .collect()
    }

    #[test]
    fn keys_indices_and_negative_indices() {
        let v = json!({"a": {"b c": [10, 20, 30]}});
        assert_eq!(*walk(&v, &segs(&["a", "b c", "0"])), json!(10));
        assert_eq!(*walk(&v, &segs(&["a", "b c", "-1"])), json!(30));
        assert_eq!(*walk(&v, &segs(&["a", "b c", "3"])), Value::Null);
        assert_eq!(*walk(&v, &segs(&["a", "b c", "-4"])), Value::Null);
        assert_eq!(*walk(&v, &segs(&["nope", "x"])), Value::Null);
    }

    #[test]
    fn numeric_keys_work_on_both_shapes_of_a_list() {
        let as_array = json!({"l": ["x", "y"]});
        let as_object = json!({"l": {"0": "x", "1": "y"}});
        for v in [&as_array, &as_object] {
            assert_eq!(
                *walk(v, &[Segment::Key("l".into()), Segment::Key("1".into())]),
                json!("y")
            );
            assert_eq!(
                *walk(v, &[Segment::Key("l".into()), Segment::Index(0)]),
                json!("x")
            );
        }
    }

    #[test]
    fn wildcards_collect_every_match_and_skip_missing_ones() {
        let v = json!({"d": [{"n": "a"}, {"x": 1}, {"n": "c"}], "o": {"k": [1, 2], "j": [3]}});
        assert_eq!(*walk(&v, &segs(&["d", "*", "n"])), json!(["a", "c"]));
        assert_eq!(
            *walk(&v, &segs(&["o", "*", "*"])),
            json!([3, 1, 2]),
            "object members in key order"
        );
        assert_eq!(*walk(&v, &segs(&["nope", "*"])), json!([]));
    }

    #[test]
    fn plain_paths_borrow_from_the_payload() {
        let v = json!({"img": "AAAA"});
        assert!(matches!(walk(&v, &segs(&["img"])), Cow::Borrowed(_)));
    }
}
