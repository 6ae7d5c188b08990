use super::*;

fn params(pairs: &[(&str, &str)]) -> FilterParams {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map)).unwrap()
}

fn keys() -> crate::protect::Protection {
    crate::protect::tests::protection(crate::config::ImagePolicy::Encrypt)
}

#[test]
fn filters_parse_and_name_the_bad_parameter() {
    let f = params(&[
        ("since", "2026-11-01T00:00:00+01:00"),
        ("status", "pending_review"),
        ("reason", "face_mismatch"),
    ])
    .parse(&keys())
    .unwrap();
    assert_eq!(
        f.since.unwrap().to_string(),
        "2026-10-31 23:00:00",
        "offsets are turned into UTC"
    );
    assert_eq!(f.status, Some(Status::PendingReview));
    for (name, value) in [
        ("since", "yesterday"),
        ("decision", "maybe"),
        ("reason", "a b"),
        ("user_id", ""),
        ("requester_id", ""),
        ("document_number", "a\u{7}b"),
    ] {
        let err = params(&[(name, value)]).parse(&keys()).unwrap_err();
        assert!(err.0.contains(name), "{err}");
    }
    // An inverted range is a question with an empty answer, not an error: the OpenAPI document cannot
    // relate two parameters, so the service must take every pair it allows.
    let inverted = params(&[
        ("since", "2026-11-02T00:00:00Z"),
        ("until", "2026-11-01T00:00:00Z"),
    ])
    .parse(&keys());
    assert!(inverted.is_ok(), "{inverted:?}");
}

#[test]
fn a_document_number_is_searched_by_its_keyed_hash_only() {
    let f = params(&[("document_number", "x1234-567"), ("requester_id", "r-1")])
        .parse(&keys())
        .unwrap();
    let hmac = f.document_number_hmac.unwrap();
    assert_eq!(hmac, keys().document_number_hmac("X1234567"));
    assert!(!hmac.contains("1234"));
    assert_eq!(f.requester_id.as_deref(), Some("r-1"));
}

#[test]
fn a_plus_turned_into_a_space_by_form_decoding_is_accepted() {
    let f = params(&[("until", "2026-11-01T00:00:00 02:00")])
        .parse(&keys())
        .unwrap();
    assert_eq!(f.until.unwrap().to_string(), "2026-10-31 22:00:00");
}

#[test]
fn cursors_round_trip_and_forgeries_are_refused() {
    let cursor = Cursor {
        mark: 42,
        after: Position {
            received_at: "2026-11-22T10:00:00.123456Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
                .naive_utc(),
            reference: Reference::parse("KYC-0192abc0000000000000000000000001").unwrap(),
        },
    };
    assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    for bad in [
        "",
        "!!!",
        "czEuMS4y",
        "1.2.KYC-0192abc",
        "x.1.KYC-0192abc0000000000000000000000001",
        "1234567890123456789.1.KYC-0192abc0000000000000000000000001",
        "1.2.KYC-0192ABC0000000000000000000000001",
    ] {
        assert!(Cursor::decode(bad).is_err(), "{bad}");
    }
    assert_eq!(decode_audit_cursor(&encode_audit_cursor(7)).unwrap(), 7);
    assert!(decode_audit_cursor(&cursor.encode()).is_err());
}

#[test]
fn limits_are_bounded() {
    assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
    assert_eq!(parse_limit(Some("500")).unwrap(), 500);
    for bad in ["0", "501", "-1", "ten"] {
        assert!(parse_limit(Some(bad)).is_err(), "{bad}");
    }
}
