//! Unit tests of `generate.rs`.
use super::*;

fn generator(reject_share: f64) -> Generator {
    Generator::new(GeneratorSettings {
        seed: 42,
        images: ImageSize::None,
        reject_share,
        image_variants: 1,
    })
    .unwrap()
}

#[test]
fn the_same_seed_and_index_give_the_same_bytes() {
    let (a, b) = (generator(0.3), generator(0.3));
    assert_eq!(a.payload(17).unwrap().body, b.payload(17).unwrap().body);
    assert_ne!(a.payload(17).unwrap().body, a.payload(18).unwrap().body);
}

#[test]
fn payloads_have_the_vendor_shape_and_unique_ids() {
    let g = generator(0.0);
    let mut ids = std::collections::HashSet::new();
    for i in 0..200 {
        let p = g.payload(i).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
        assert_eq!(v["request_info"]["requester_id"], p.requester_id.as_str());
        assert_eq!(v["request_info"]["user_id"], p.user_id.as_str());
        assert_eq!(v["kyc_info"]["document"]["version"], "3.0");
        assert!(
            v["kyc_info"]["face_matcher_result"]["score"]
                .as_f64()
                .unwrap()
                >= 1.6
        );
        assert!(ids.insert(p.requester_id));
        assert_eq!(p.expected, Expected::Approved);
    }
}

#[test]
fn small_payloads_are_about_three_kilobytes() {
    let g = generator(0.2);
    let total: usize = (0..100).map(|i| g.payload(i).unwrap().body.len()).sum();
    let mean = total / 100;
    assert!((2_500..4_500).contains(&mean), "{mean}");
}

#[test]
fn the_reject_share_is_honoured_and_every_failure_occurs() {
    let g = generator(0.3);
    let expected: Vec<Expected> = (0..2000).map(|i| g.payload(i).unwrap().expected).collect();
    let failing = expected
        .iter()
        .filter(|e| **e != Expected::Approved)
        .count();
    assert!((500..700).contains(&failing), "{failing}");
    for f in FAILURES {
        assert!(expected.contains(&f), "{f:?}");
    }
}

#[test]
fn names_include_non_ascii_text() {
    let g = generator(0.0);
    let non_ascii = (0..100)
        .filter(|i| !g.payload(*i).unwrap().body.is_ascii())
        .count();
    assert!(non_ascii > 30, "{non_ascii}");
}

#[test]
fn an_out_of_range_share_is_refused() {
    let s = GeneratorSettings {
        reject_share: 1.5,
        ..GeneratorSettings::default()
    };
    assert!(matches!(
        Generator::new(s),
        Err(GenerateError::RejectShare(_))
    ));
}
