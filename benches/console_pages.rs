//! Page-render benchmark of the console: not a timing test. Seeds a SQLite database through the real intake
//! (the small Ditto fixture, every record pending review: the queue's worst case) to 100 000 records, signs a
//! reviewer in over HTTP, then requests the queue (first page and a page deep in it), search (no filter, and
//! a status + reason filter) and case pages (references spread over the whole table) 200 times each, one at
//! a time, and prints p50, p95 and max of the time from request to the last byte on loopback (an upper bound
//! of the server's time). Target: p95 under 50 ms for each.
//! Run: `cargo bench --bench console_pages` (add a record count to change it).

// A benchmark may stop at the first failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Instant;

use kyc_receiver::config::Settings;
use kyc_receiver::mapping::MappingSet;
use kyc_receiver::protect::Protection;
use kyc_receiver::startup::Application;
use kyc_receiver::store;

const DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROUNDS: usize = 200;

fn settings_for(db_url: &str, dir: &std::path::Path) -> Settings {
    let text = format!(
        "[server]\nbind = \"127.0.0.1:0\"\ntls = false\nworkers = 2\n\n\
         [database]\nurl = \"{db_url}\"\npool_size = 4\n\n\
         [auth]\nmodes = [\"builtin\"]\n\n[auth.signing]\nkey_file = \"{signing}\"\ngenerate_if_missing = true\n\n\
         [storage]\nactive_key_id = \"b1\"\nkeys = [{{ id = \"b1\", key = \"{DATA_KEY}\" }}]\nsearch_key = \"{DATA_KEY}\"\n\n\
         [mappings]\ndir = \"{mappings}\"\nreload = false\npoll_interval_ms = 1000\n",
        signing = dir.join("signing.pem").display(),
        mappings = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings"),
    );
    let path = dir.join("bench.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("config");
    Settings::load(Some(&path)).expect("settings")
}

struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
}

impl Browser {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> (u16, String) {
        let r = req
            .header("Cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().expect("ascii");
            if let Some(rest) = v.strip_prefix("__Host-kyc-session=") {
                self.cookie = format!(
                    "__Host-kyc-session={}",
                    rest.split(';').next().unwrap_or("")
                );
            }
        }
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    async fn get(&mut self, path: &str) -> (u16, String) {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn sign_in(base: &str, password: &str) -> Browser {
    let mut b = Browser {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base: base.into(),
        cookie: String::new(),
    };
    let req = b
        .client
        .post(format!("{base}/console/login"))
        .form(&[("username", "bench"), ("password", password)]);
    assert_eq!(b.send(req).await.0, 303);
    let (_, page) = b.get("/console/password").await;
    let new = "correct horse battery staple";
    let req = b.client.post(format!("{base}/console/password")).form(&[
        ("csrf", hidden(&page, "csrf").as_str()),
        ("password", new),
        ("again", new),
    ]);
    assert_eq!(b.send(req).await.0, 303);
    b
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(b: &mut Browser, name: &str, paths: &[String]) {
    let mut times = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let path = &paths[i % paths.len()];
        let started = Instant::now();
        let (status, body) = b.get(path).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200, "{path}: {body}");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{name:<28} p50 {:>6.1} ms   p95 {:>6.1} ms   max {:>6.1} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1]
    );
}

fn main() {
    let records: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
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
    let started = Instant::now();
    let mut conn = pool.get().expect("connection");
    let mut i = 0;
    while i < records {
        let end = (i + 5000).min(records);
        kyc_test_support::seed_records(
            &mut conn,
            &mappings,
            &protection,
            "bench",
            (i..end).map(|n| format!("bench-{n}")),
        );
        i = end;
    }
    let password = kyc_receiver::console::accounts::add(
        &mut conn,
        &protection.audit_key(),
        "bench",
        None,
        "reviewer,auditor",
        "cli:bench",
    )
    .expect("user");
    drop(conn);
    eprintln!(
        "seeded {records} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    runtime.block_on(async {
        let mut b = sign_in(&base, &password).await;
        let (_, queue) = b.get("/console/queue").await;
        let (_, search) = b.get("/console/search").await;
        let references: Vec<String> = search
            .split("href=\"/console/cases/")
            .skip(1)
            .filter_map(|s| s.split('"').next().map(str::to_string))
            .collect();
        assert!(!references.is_empty(), "no case links on the search page");
        let next = queue
            .split("/console/queue?after=")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a next page")
            .to_string();
        // Cases from across the table: the search page's references plus ones deep in the queue.
        let mut deep = b.get(&format!("/console/queue?after={next}")).await.1;
        for _ in 0..20 {
            if let Some(n) = deep
                .split("/console/queue?after=")
                .nth(1)
                .and_then(|s| s.split('"').next())
            {
                let n = n.to_string();
                deep = b.get(&format!("/console/queue?after={n}")).await.1;
            }
        }
        let mut cases: Vec<String> = references
            .iter()
            .map(|r| format!("/console/cases/{r}"))
            .collect();
        cases.extend(
            deep.split("href=\"/console/cases/")
                .skip(1)
                .filter_map(|s| s.split('"').next().map(|r| format!("/console/cases/{r}"))),
        );
        println!("{records} records, {ROUNDS} requests per page, one at a time");
        measure(&mut b, "queue (first page)", &["/console/queue".into()]).await;
        measure(
            &mut b,
            "queue (a later page)",
            &[format!("/console/queue?after={next}")],
        )
        .await;
        measure(&mut b, "search (no filter)", &["/console/search".into()]).await;
        measure(
            &mut b,
            "search (status + reason)",
            &["/console/search?status=pending_review&reason=nfc_not_verified".into()],
        )
        .await;
        measure(&mut b, "case", &cases).await;
    });
    runtime.block_on(handle.stop(true));
}
