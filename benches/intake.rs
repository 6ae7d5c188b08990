//! Criterion benchmark of the CPU work between decryption and storage: `intake::prepare` on the
//! ~3 KB and ~1.2 MB Ditto fixtures with the shipped `mappings/`: JSON parse, envelope checks, mapping,
//! decision, confirmation, PII sealing and (for the full body) decoding, checking and AES-GCM sealing of the
//! four images. `parse` alone is the baseline. Throughput is counted in body bytes.
//! Run: `cargo bench --bench intake` (HTML off: `-- --noplot`).

// A benchmark may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kyc_receiver::config::StorageSettings;
use kyc_receiver::intake::{IntakeContext, prepare};
use kyc_receiver::mapping::registry::MappingRegistry;
use kyc_receiver::payload;
use kyc_receiver::protect::Protection;

const DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `[storage]` as shipped, with a bench key: images encrypted.
fn protection() -> Protection {
    let storage: StorageSettings = toml::from_str(&format!(
        "active_key_id = \"b1\"\nkeys = [{{ id = \"b1\", key = \"{DATA_KEY}\" }}]\nsearch_key = \"{DATA_KEY}\"\n"
    ))
    .expect("storage settings");
    Protection::from_settings(&storage).expect("protection")
}

fn intake(c: &mut Criterion) {
    let registry = MappingRegistry::load(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings").as_ref())
        .expect("shipped mappings");
    let mappings = registry.current();
    let protection = protection();
    let ctx = IntakeContext {
        client_id: Some("bench".into()),
        key_label: None,
        received_at: chrono::Utc::now(),
    };
    let mut group = c.benchmark_group("intake");
    group.measurement_time(Duration::from_secs(4));
    group.warm_up_time(Duration::from_secs(1));
    for (size, name) in [
        ("3KB", "ditto-v3-small.json"),
        ("1.2MB", "ditto-v3-full.json"),
    ] {
        let body = fixture(name);
        // Guard: the benchmarked call really succeeds (and seals images for the full body).
        let prepared = prepare(&body, &ctx, &mappings, &protection).expect("prepare");
        assert_eq!(
            prepared.submission.images.is_empty(),
            size == "3KB",
            "{size}"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("prepare", size), &body, |b, body| {
            b.iter(|| prepare(black_box(body), &ctx, &mappings, &protection))
        });
        group.bench_with_input(BenchmarkId::new("parse", size), &body, |b, body| {
            b.iter(|| payload::parse(black_box(body)))
        });
    }
    group.finish();
}

criterion_group!(benches, intake);
criterion_main!(benches);
