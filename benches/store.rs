//! Criterion benchmark of the write path: rows per second through the real group-commit
//! [`Writer`] (one writer thread, durable commits: SQLite WAL with `synchronous=FULL`, PostgreSQL with its
//! default `synchronous_commit`) for batch limits of 1, 8, 64 and 256 rows. Each measured iteration is one
//! ≈3 KB submission prepared by the real intake; they are handed to the writer 4096 at a time, so the writer
//! always finds a full batch waiting, and each is awaited until its commit. Throughput is in rows (elements).
//! PostgreSQL runs too when `KYC_TEST_POSTGRES_URL` is set (a temporary database, dropped at the end).
//! Run: `cargo bench --bench store` (HTML off: `-- --noplot`).

// A benchmark may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use diesel::{Connection, PgConnection, RunQueryDsl};
use kyc_receiver::config::{DatabaseSettings, StorageSettings};
use kyc_receiver::intake::{IntakeContext, Prepared, prepare};
use kyc_receiver::mapping::registry::MappingRegistry;
use kyc_receiver::protect::Protection;
use kyc_receiver::store::writer::{SubmitOutcome, Writer, WriterLimits};
use kyc_receiver::store::{self, Pool};
use kyc_receiver::submission::Reference;

const DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CHUNK: u64 = 4096;

fn template() -> Prepared {
    let storage: StorageSettings = toml::from_str(&format!(
        "active_key_id = \"b1\"\nkeys = [{{ id = \"b1\", key = \"{DATA_KEY}\" }}]\nsearch_key = \"{DATA_KEY}\"\n"
    ))
    .expect("storage settings");
    let protection = Protection::from_settings(&storage).expect("protection");
    let registry = MappingRegistry::load(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings").as_ref())
        .expect("shipped mappings");
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ditto-v3-small.json"
    ))
    .expect("fixture");
    let ctx = IntakeContext {
        client_id: Some("bench".into()),
        key_label: None,
        received_at: chrono::Utc::now(),
    };
    prepare(&body, &ctx, &registry.current(), &protection).expect("prepare")
}

fn pool(url: &str) -> Pool {
    let settings = DatabaseSettings {
        url: url.to_owned(),
        pool_size: 4,
        connect_timeout_secs: 5,
        busy_timeout_ms: 5000,
        writers: 1,
        batch_max_rows: 1,
        batch_max_bytes: 64 << 20,
        batch_max_wait_us: 0,
        queue_depth: CHUNK as usize,
    };
    let (pool, _) = store::make_pool(&settings).expect("pool");
    store::migrate(&mut pool.get().expect("connection")).expect("migrate");
    pool
}

/// Stores `n` fresh copies of the template and waits for every commit.
fn store_rows(
    rt: &tokio::runtime::Runtime,
    writer: &Writer,
    template: &Prepared,
    next: &AtomicU64,
    n: u64,
) -> Duration {
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let chunk = left.min(CHUNK);
        left -= chunk;
        let jobs: Vec<_> = (0..chunk)
            .map(|_| {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let mut submission = template.submission.clone();
                submission.reference =
                    Reference::parse(&format!("KYC-bench-{i}")).expect("reference");
                submission.requester_id = format!("bench-{i}");
                submission.images.clear();
                writer.submit(submission, template.audit_details.clone())
            })
            .collect();
        for outcome in rt.block_on(futures_util::future::join_all(jobs)) {
            assert!(
                matches!(outcome, Ok(SubmitOutcome::Stored { .. })),
                "{outcome:?}"
            );
        }
    }
    start.elapsed()
}

fn bench_backend(c: &mut Criterion, label: &str, url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let template = template();
    let next = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("store/{label}"));
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for batch in [1usize, 8, 64, 256] {
        let limits = WriterLimits {
            threads: 1,
            batch_max_rows: batch,
            batch_max_bytes: 64 << 20,
            batch_max_wait: std::time::Duration::ZERO,
            queue_depth: CHUNK as usize,
            quarantine_max_bytes: 1 << 20,
            events: true,
            audit_key: kyc_receiver::store::audit_log::AuditKey::new([7; 32], [8; 32]),
        };
        let (writer, threads) = Writer::start(pool(url), limits);
        group.bench_function(BenchmarkId::new("rows", batch), |b| {
            b.iter_custom(|iters| store_rows(&rt, &writer, &template, &next, iters))
        });
        drop(writer);
        for t in threads {
            t.join().expect("writer thread");
        }
    }
    group.finish();
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    bench_backend(
        c,
        "sqlite",
        &format!("sqlite://{}", dir.path().join("bench.sqlite").display()),
    );
    if let Ok(admin) = std::env::var("KYC_TEST_POSTGRES_URL") {
        let name = format!("kyc_bench_store_{}", std::process::id());
        let mut conn = PgConnection::establish(&admin).expect("KYC_TEST_POSTGRES_URL unreachable");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create database");
        let (base, _) = admin.rsplit_once('/').expect("database url has a path");
        bench_backend(c, "postgres", &format!("{base}/{name}"));
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .expect("drop database");
    }
}

criterion_group!(benches, store);
criterion_main!(benches);
