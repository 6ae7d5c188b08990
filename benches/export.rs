//! Memory benchmark of the streamed export: not a timing test. Seeds a SQLite database through the
//! real intake (the small Ditto fixture, no images) to 10 000 and then 100 000 records, and after each runs
//! 1. the library export (`records::export::Exporter`, what `records export` and `GET /v1/export` page with)
//!    into a byte counter, and
//! 2. the HTTP export `GET /v1/export?format=csv` of the real service, streamed by a client in this process,
//!
//! measuring the process's peak RSS growth during each run: VmHWM is reset through `/proc/self/clear_refs`
//! (Linux ≥ 4.0) before the run and read after it. Constant memory shows as the same growth at 10k and 100k.
//! Run: `cargo bench --bench export` (add `-- 20000 200000` for other sizes; `--profile dev` builds faster).

// A benchmark may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use kyc_receiver::config::Settings;
use kyc_receiver::mapping::MappingSet;
use kyc_receiver::protect::Protection;
use kyc_receiver::records::export::{Exporter, Format};
use kyc_receiver::startup::Application;
use kyc_receiver::store::{self, listing};

const DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CLIENT: (&str, &str) = ("bench-auditor", "bench-auditor-secret-0123456789abcdef");

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `work` and returns (its result, peak RSS growth in KiB over the RSS at its start).
fn peak_growth<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    assert!(reset, "cannot reset VmHWM (needs Linux >= 4.0 and /proc)");
    let before = status_kib("VmRSS:");
    let result = work();
    (result, status_kib("VmHWM:").saturating_sub(before))
}

fn seed(
    pool: &store::Pool,
    from: usize,
    to: usize,
    mappings: &MappingSet,
    protection: &Protection,
) {
    let mut conn = pool.get().expect("connection");
    let mut i = from;
    while i < to {
        let end = (i + 5000).min(to);
        kyc_test_support::seed_records(
            &mut conn,
            mappings,
            protection,
            "bench",
            (i..end).map(|n| format!("bench-{n}")),
        );
        i = end;
    }
}

fn settings_for(db_url: &str, dir: &std::path::Path) -> Settings {
    let hash = kyc_receiver::auth::hash_secret(CLIENT.1).expect("hash");
    let text = format!(
        "[server]\nbind = \"127.0.0.1:0\"\ntls = false\nworkers = 1\n\n\
         [database]\nurl = \"{db_url}\"\npool_size = 4\n\n\
         [auth]\nmodes = [\"builtin\"]\n\n[auth.signing]\nkey_file = \"{signing}\"\ngenerate_if_missing = true\n\n\
         [[auth.clients]]\nclient_id = \"{id}\"\nsecret_hash = \"{hash}\"\nscopes = [\"kyc:read\"]\n\n\
         [storage]\nactive_key_id = \"b1\"\nkeys = [{{ id = \"b1\", key = \"{DATA_KEY}\" }}]\nsearch_key = \"{DATA_KEY}\"\n\n\
         [mappings]\ndir = \"{mappings}\"\nreload = false\npoll_interval_ms = 1000\n",
        signing = dir.join("signing.pem").display(),
        id = CLIENT.0,
        mappings = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
    );
    let path = dir.join("bench.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("config");
    Settings::load(Some(&path)).expect("settings")
}

fn library_export(pool: &store::Pool, protection: &Protection) -> (u64, u64) {
    let mut conn = pool.get().expect("connection");
    let mark = listing::snapshot_mark(&mut conn).expect("mark");
    let mut exporter = Exporter::new(Default::default(), mark, Format::Csv, false);
    let mut bytes = 0u64;
    while let Some(chunk) = exporter.next_chunk(&mut conn, protection).expect("chunk") {
        bytes += chunk.len() as u64;
    }
    (exporter.rows(), bytes)
}

async fn http_export(base: &str) -> u64 {
    let client = reqwest::Client::new();
    let token: serde_json::Value = client
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT.0),
            ("client_secret", CLIENT.1),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let mut response = client
        .get(format!("{base}/v1/export?format=csv"))
        .bearer_auth(token["access_token"].as_str().expect("access_token"))
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    let mut bytes = 0u64;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        bytes += chunk.len() as u64;
    }
    bytes
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db_url = format!("sqlite://{}", dir.path().join("bench.sqlite").display());
    let settings = settings_for(&db_url, dir.path());
    let protection = Protection::from_settings(&settings.storage).expect("keys");
    let mappings = MappingSet::load_dir(&settings.mappings.dir).expect("mappings");
    let (pool, _) = store::make_pool(&settings.database).expect("pool");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (base, handle) = runtime.block_on(async {
        let app = Application::build(settings).await.expect("app");
        let (base, handle) = (app.base_url(), app.handle());
        tokio::spawn(app.run_until_stopped());
        (base, handle)
    });
    println!("rows     path     bytes        seconds  peak RSS growth");
    let mut seeded = 0;
    for size in sizes {
        let started = Instant::now();
        seed(&pool, seeded, size, &mappings, &protection);
        seeded = size;
        eprintln!(
            "seeded {size} rows in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let ((rows, bytes), growth) = peak_growth(|| library_export(&pool, &protection));
        assert_eq!(rows as usize, size);
        println!(
            "{size:<8} library  {bytes:<12} {:<8.2} {growth} KiB",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let (bytes, growth) = peak_growth(|| runtime.block_on(http_export(&base)));
        println!(
            "{size:<8} http     {bytes:<12} {:<8.2} {growth} KiB",
            started.elapsed().as_secs_f64()
        );
    }
    runtime.block_on(handle.stop(true));
}
