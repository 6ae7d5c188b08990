//! Criterion benchmark of request-body decryption: `CipherProfile::open` on a
//! ~3 KB body (`tests/fixtures/ditto-v3-small.json`) and a ~1.2 MB body
//! (`tests/fixtures/ditto-v3-full.json`) for every cipher spec, AES-256, static IV as the
//! upstream sends it. `open` is the whole path: base64 decode, decrypt in place, and for
//! modes without a tag the UTF-8 JSON check. Throughput is counted in plaintext bytes.
//! Two baselines show what is not cipher work: base64 decoding alone, and the JSON check
//! alone. Run: `cargo bench --bench decrypt` (HTML off: `-- --noplot`).

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kyc_crypto::{CipherProfile, ProfileSettings};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

const SPECS: [(&str, Option<&str>); 7] = [
    (
        "AES/CBC/PKCS5Padding",
        Some("0f0e0d0c0b0a09080706050403020100"),
    ),
    ("AES/GCM/NoPadding", Some("0b0a09080706050403020100")),
    (
        "AES/CTR/NoPadding",
        Some("0f0e0d0c0b0a09080706050403020100"),
    ),
    (
        "AES/CFB/NoPadding",
        Some("0f0e0d0c0b0a09080706050403020100"),
    ),
    (
        "AES/CFB8/NoPadding",
        Some("0f0e0d0c0b0a09080706050403020100"),
    ),
    ("AES/ECB/PKCS5Padding", None),
    ("JWE", None),
];

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn profile(spec: &str, iv: Option<&str>) -> CipherProfile {
    let settings = ProfileSettings {
        enable: true,
        cipher_spec: spec.to_owned(),
        key: Some(KEY_HEX.into()),
        key_encoding: kyc_crypto::Encoding::Hex,
        iv_param_spec: iv.map(str::to_owned),
        iv_encoding: kyc_crypto::Encoding::Hex,
        allow_insecure: true,
        ..ProfileSettings::default()
    };
    match CipherProfile::from_settings(&settings, "bench") {
        Ok((p, _warnings)) => p,
        Err(e) => panic!("{spec}: {e}"),
    }
}

fn bodies() -> [(&'static str, Vec<u8>); 2] {
    [
        ("3KB", fixture("ditto-v3-small.json")),
        ("1.2MB", fixture("ditto-v3-full.json")),
    ]
}

fn decrypt(c: &mut Criterion) {
    let bodies = bodies();
    for (spec, iv) in SPECS {
        let p = profile(spec, iv);
        let mut group = c.benchmark_group(format!("open/{spec}"));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_secs(1));
        for (size, plaintext) in &bodies {
            let sealed = match p.seal(plaintext) {
                Ok(s) => s,
                Err(e) => panic!("{spec}: {e}"),
            };
            // Guard: the benchmarked call really succeeds.
            assert!(p.open(sealed.as_bytes()).is_ok(), "{spec} {size}");
            group.throughput(Throughput::Bytes(plaintext.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &sealed, |b, body| {
                b.iter(|| p.open(black_box(body.as_bytes())))
            });
        }
        group.finish();
    }
}

fn baselines(c: &mut Criterion) {
    let bodies = bodies();
    let mut group = c.benchmark_group("baseline");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    for (size, plaintext) in &bodies {
        let text = base64::engine::general_purpose::STANDARD.encode(plaintext);
        group.throughput(Throughput::Bytes(plaintext.len() as u64));
        group.bench_with_input(BenchmarkId::new("base64-decode", size), &text, |b, t| {
            b.iter(|| base64::engine::general_purpose::STANDARD.decode(black_box(t)))
        });
        group.bench_with_input(BenchmarkId::new("json-check", size), plaintext, |b, pt| {
            b.iter(|| {
                std::str::from_utf8(black_box(pt)).is_ok()
                    && serde_json::from_slice::<serde::de::IgnoredAny>(pt).is_ok()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decrypt, baselines);
criterion_main!(benches);
