//! Test harness shared by the workspace's integration tests (the receiver's `tests/api` and the simulator's
//! tests): starts the real application on a random port over HTTPS with a fresh database per test (a temp
//! SQLite file, or a new PostgreSQL database when KYC_TEST_POSTGRES_URL is set), and captures every log line.

// A test harness: a failed set-up step should stop the test at once, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

use diesel::prelude::*;
use kyc_receiver::config::Settings;
use kyc_receiver::startup::Application;
use kyc_receiver::store::{self, DbConnection, audit_events};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend. PostgreSQL runs when KYC_TEST_POSTGRES_URL is set; then an unreachable
/// server fails the test instead of skipping it.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::TestApp::spawn($crate::Backend::Sqlite, "").await;
                super::$name(&app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !$crate::postgres_configured() {
                    return;
                }
                let app = $crate::TestApp::spawn($crate::Backend::Postgres, "").await;
                super::$name(&app).await;
            }
        }
    };
}

pub fn postgres_configured() -> bool {
    match std::env::var("KYC_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => true,
        _ => {
            eprintln!("KYC_TEST_POSTGRES_URL not set: PostgreSQL variant not run");
            false
        }
    }
}

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db_url: String,
    _dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
    pg_drop: Option<(String, String)>,
    /// A `kyc:submit` token of the `upstream` test client.
    pub token: String,
    operator: tokio::sync::OnceCell<String>,
}

/// The test data key (base64 of 32 bytes).
pub const TEST_DATA_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Keys as the test apps use them (`t1` = TEST_DATA_KEY, also the search key), with another active key and
/// extra keys when a test rotates.
pub fn test_protection(active: &str, keys: &[(&str, &str)]) -> kyc_receiver::protect::Protection {
    let storage = kyc_receiver::config::StorageSettings {
        active_key_id: active.into(),
        keys: keys
            .iter()
            .map(|(id, key)| kyc_receiver::config::DataKeySettings {
                id: (*id).into(),
                key: (*key).into(),
            })
            .collect(),
        search_key: Some(TEST_DATA_KEY.into()),
        ..Default::default()
    };
    kyc_receiver::protect::Protection::from_settings(&storage).expect("protection")
}

/// The test data keys as the test apps have them (`t1` = [`TEST_DATA_KEY`]).
pub fn protection() -> kyc_receiver::protect::Protection {
    test_protection("t1", &[("t1", TEST_DATA_KEY)])
}

/// Test clients: (client_id, secret, scopes).
pub const UPSTREAM: (&str, &str, &str) = (
    "upstream",
    "upstream-secret-for-tests-0123456789",
    "kyc:submit",
);
pub const AUDITOR: (&str, &str, &str) = (
    "auditor",
    "auditor-secret-for-tests-0123456789",
    "kyc:read kyc:read_pii kyc:images kyc:review",
);

pub const DPO: (&str, &str, &str) = ("dpo", "dpo-secret-for-tests-0123456789", "kyc:erase");

/// A second upstream client (requester ids are scoped per client).
pub const UPSTREAM_B: (&str, &str, &str) = (
    "upstream-b",
    "upstream-b-secret-for-tests-0123456789",
    "kyc:submit",
);

/// An operator: readiness details, metrics, administration.
pub const OPERATOR: (&str, &str, &str) = (
    "operator",
    "operator-secret-for-tests-0123456789",
    "kyc:metrics kyc:admin",
);

/// `[[auth.clients]]` entries for the test clients; argon2 runs once per test binary.
fn client_entries() -> String {
    static ENTRIES: OnceLock<String> = OnceLock::new();
    ENTRIES
        .get_or_init(|| {
            [UPSTREAM, UPSTREAM_B, AUDITOR, DPO, OPERATOR]
                .iter()
                .map(|(id, secret, scopes)| {
                    let hash = kyc_receiver::auth::hash_secret(secret).expect("hash");
                    let scopes: Vec<String> = scopes.split(' ').map(|s| format!("\"{s}\"")).collect();
                    format!(
                        "[[auth.clients]]\nclient_id = \"{id}\"\nsecret_hash = \"{hash}\"\nscopes = [{}]\n",
                        scopes.join(", ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .clone()
}

impl TestApp {
    /// Starts the app; `extra_toml` is appended to the generated config (later keys win within a table, so
    /// pass whole `[section]` blocks only for sections not generated here, or use `spawn_with`).
    pub async fn spawn(backend: Backend, extra_toml: &str) -> TestApp {
        Self::spawn_with(backend, |_| {}, extra_toml).await
    }

    /// Starts the app after `tune` adjusts the settings.
    pub async fn spawn_with(
        backend: Backend,
        tune: impl FnOnce(&mut Settings),
        extra_toml: &str,
    ) -> TestApp {
        Self::spawn_with_identity(backend, tune, extra_toml, None).await
    }

    /// Like `spawn_with`, with a client certificate for mutual TLS.
    pub async fn spawn_with_identity(
        backend: Backend,
        tune: impl FnOnce(&mut Settings),
        extra_toml: &str,
        identity: Option<reqwest::Identity>,
    ) -> TestApp {
        init_log_capture();
        let dir = tempfile::tempdir().expect("tempdir");
        let (db_url, pg_drop) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("kyc.sqlite").display()),
                None,
            ),
            Backend::Postgres => {
                let admin = std::env::var("KYC_TEST_POSTGRES_URL").expect("KYC_TEST_POSTGRES_URL");
                let name = format!("kyc_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("KYC_TEST_POSTGRES_URL is set but unreachable: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let (base, _) = admin.rsplit_once('/').expect("database url has a path");
                (format!("{base}/{name}"), Some((admin, name)))
            }
        };
        let config = format!(
            "[server]\nbind = \"127.0.0.1:0\"\ntls_self_signed = true\ntls_cert = \"{cert}\"\n\
             tls_key = \"{key}\"\nmax_body_bytes = 2000000\nworkers = 2\n\n\
             [database]\nurl = \"{db_url}\"\npool_size = 4\nbusy_timeout_ms = 300\nconnect_timeout_secs = 2\n\n\
             [auth]\nmodes = [\"builtin\"]\n\n[auth.signing]\nkey_file = \"{signing}\"\ngenerate_if_missing = true\n\n\
             [storage]\nactive_key_id = \"t1\"\nkeys = [{{ id = \"t1\", key = \"{data_key}\" }}]\n\
             search_key = \"{data_key}\"\n\n[audit]\nhead_key_file = \"{head_key}\"\nheads_file = \"{heads}\"\n\n\
             {clients}\n{extra_toml}",
            cert = dir.path().join("cert.pem").display(),
            key = dir.path().join("key.pem").display(),
            signing = dir.path().join("signing.pem").display(),
            head_key = dir.path().join("audit-head.pem").display(),
            heads = dir.path().join("audit-heads.jsonl").display(),
            clients = client_entries(),
            data_key = TEST_DATA_KEY,
        );
        let config_path = dir.path().join("kyc-receiver.toml");
        std::fs::File::create(&config_path)
            .and_then(|mut f| f.write_all(config.as_bytes()))
            .expect("write config");
        let mut settings = Settings::load(Some(&config_path)).expect("test config loads");
        // Tests of other workspace members run in their own directory; the mappings are the repository's.
        if settings.mappings.dir.is_relative() {
            settings.mappings.dir = repo_root().join(&settings.mappings.dir);
        }
        tune(&mut settings);
        let app = Application::build(settings).await.expect("app builds");
        let base = app.base_url();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let cert = std::fs::read(dir.path().join("cert.pem")).expect("cert");
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&cert).expect("pem"));
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        let client = builder.build().expect("client");
        let mut app = TestApp {
            base,
            client,
            db_url,
            _dir: dir,
            handle,
            pg_drop,
            token: String::new(),
            operator: tokio::sync::OnceCell::new(),
        };
        if app.token_endpoint_enabled().await {
            // Tests that deny the upstream client a token (e.g. certificate pinning) get an empty one.
            let form = [
                ("grant_type", "client_credentials"),
                ("client_id", UPSTREAM.0),
                ("client_secret", UPSTREAM.1),
            ];
            let r = app
                .client
                .post(app.url("/oauth/token"))
                .form(&form)
                .send()
                .await;
            if let Some(r) = r.ok().filter(|r| r.status() == 200) {
                let body: serde_json::Value = r.json().await.expect("token json");
                app.token = body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                forbid_in_logs(&app.token);
            }
        }
        app
    }

    async fn token_endpoint_enabled(&self) -> bool {
        let r = self
            .client
            .post(self.url("/oauth/token"))
            .send()
            .await
            .expect("token probe");
        r.status() != 404
    }

    /// A token for a test client by form post (RFC 6749 §4.4).
    pub async fn token_for(&self, client_id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let r = self
            .client
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), 200, "token for {client_id}");
        let body: serde_json::Value = r.json().await.expect("token json");
        let token = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        forbid_in_logs(&token);
        token
    }

    /// A token of the operator test client (`kyc:metrics kyc:admin`).
    pub async fn operator_token(&self) -> String {
        self.operator
            .get_or_init(|| self.token_for(OPERATOR.0, OPERATOR.1, None))
            .await
            .clone()
    }

    /// A POST to /kyc carrying the upstream client's bearer token.
    pub fn post_kyc(&self) -> reqwest::RequestBuilder {
        self.client.post(self.url("/kyc")).bearer_auth(&self.token)
    }

    /// Stops the in-process server (its database, files and token stay), e.g. before a child process serves
    /// the same config.
    pub async fn stop_server(&self) {
        self.handle.stop(true).await;
    }

    /// A file in the app's temporary directory (certificate, signing key).
    pub fn file(&self, name: &str) -> std::path::PathBuf {
        self._dir.path().join(name)
    }

    /// The receiver's self-signed certificate (PEM), for clients that take a CA file.
    pub fn cert_path(&self) -> std::path::PathBuf {
        self._dir.path().join("cert.pem")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a body to /kyc.
    pub async fn submit(&self, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.post_kyc()
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// A direct connection to the test database, for assertions.
    pub fn db(&self) -> DbConnection {
        use diesel::connection::SimpleConnection;
        match store::DbUrl::parse(&self.db_url).expect("url") {
            store::DbUrl::Sqlite(path) => {
                let mut c = SqliteConnection::establish(&path).expect("sqlite");
                c.batch_execute("PRAGMA busy_timeout = 5000;")
                    .expect("pragma");
                DbConnection::Sqlite(c)
            }
            store::DbUrl::Postgres(url) => {
                DbConnection::Postgresql(PgConnection::establish(&url).expect("postgres"))
            }
        }
    }

    pub fn submission_count(&self) -> i64 {
        store::submissions::count(&mut self.db()).expect("count")
    }

    /// (kind, requester_id, details) of every audit event in order, except the mapping activations that each
    /// start of the service appends (`all_audit_events` has them).
    pub fn audit_events(&self) -> Vec<(String, Option<String>, String)> {
        let mut events = self.all_audit_events();
        events.retain(|(kind, _, _)| kind != "mapping_set_activated");
        events
    }

    /// (kind, requester_id, details) of every audit event, in order.
    pub fn all_audit_events(&self) -> Vec<(String, Option<String>, String)> {
        audit_events::table
            .order(audit_events::seq)
            .select((
                audit_events::kind,
                audit_events::requester_id,
                audit_events::details,
            ))
            .load(&mut self.db())
            .expect("audit events")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        // Every test's traffic is checked for leaks in the log, not only the privacy tests'.
        let leaks = log_violations();
        if !leaks.is_empty() && !std::thread::panicking() {
            panic!("personal data or secrets reached the log: {leaks:#?}");
        }
        if let Some((admin, name)) = self.pg_drop.take() {
            // Best effort: a leftover test database is harmless, a panic in Drop is not.
            if let Ok(mut conn) = PgConnection::establish(&admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// The repository's `tests/fixtures` (copied byte for byte from independent implementations).
pub fn fixtures_dir() -> std::path::PathBuf {
    repo_root().join("tests/fixtures")
}

/// The workspace root, where `mappings/`, `tests/` and `kyc-receiver.toml` live.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads a fixture copied byte for byte from shared/vectors.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).expect("fixture")
}

/// The fixture as JSON, for tests that edit it.
pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).expect("fixture json")
}

struct Capture;

static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
static FORBIDDEN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
static VIOLATIONS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        let leaked: Vec<String> = FORBIDDEN
            .get_or_init(|| Mutex::new(forbidden_values()))
            .lock()
            .map(|f| {
                f.iter()
                    .filter(|v| line.contains(v.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if !leaked.is_empty()
            && let Ok(mut v) = VIOLATIONS.get_or_init(Default::default).lock()
        {
            v.push(format!(
                "{leaked:?} in: {}",
                line.chars().take(300).collect::<String>()
            ));
        }
        // Keep our own lines for assertions; dependencies' trace lines are only scanned.
        if (record.target().starts_with("kyc_receiver") || record.level() <= log::Level::Info)
            && let Ok(mut lines) = LINES.get_or_init(Default::default).lock()
        {
            lines.push(line);
        }
    }
    fn flush(&self) {}
}

/// Everything submitted in tests that must never reach a log line: names, document numbers and birth dates
/// of every fixture, fragments of every image, the test clients' secrets (tokens are added as issued).
pub fn forbidden_values() -> Vec<String> {
    let mut values: Vec<String> = [
        UPSTREAM.1,
        UPSTREAM_B.1,
        AUDITOR.1,
        DPO.1,
        OPERATOR.1,
        TEST_DATA_KEY,
    ]
    .map(str::to_string)
    .to_vec();
    for name in [
        "ditto-v3-small.json",
        "ditto-v3-rejectable.json",
        "ditto-v3-full.json",
    ] {
        let v = fixture_json(name);
        let data = &v["kyc_info"]["document"]["identity_data"];
        for key in ["Given name", "Surname", "Document number", "Date of birth"] {
            if let Some(s) = data[key].as_str() {
                values.push(s.to_string());
            }
        }
        let images = &v["kyc_info"]["document"]["document_info"]["document_images"];
        let selfie =
            &v["kyc_info"]["liveness_check"]["video"]["autocapture_result"]["selfie_image"];
        for image in images
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .chain([selfie])
        {
            if let Some(text) = image.as_str().filter(|t| t.len() > 2000) {
                values.push(text[1000..1040].to_string());
            }
        }
    }
    values
}

/// Adds a value (e.g. an issued token) to what no log line may contain.
pub fn forbid_in_logs(value: &str) {
    if let Ok(mut f) = FORBIDDEN
        .get_or_init(|| Mutex::new(forbidden_values()))
        .lock()
    {
        f.push(value.to_string());
    }
}

/// Leaks seen so far by any test in this binary.
pub fn log_violations() -> Vec<String> {
    VIOLATIONS
        .get_or_init(Default::default)
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default()
}

/// Installs the capturing logger (everything at trace, scanned for leaks) once per test binary.
pub fn init_log_capture() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if log::set_boxed_logger(Box::new(Capture)).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}

/// Every line logged so far by any test in this binary.
pub fn captured_logs() -> Vec<String> {
    LINES
        .get_or_init(Default::default)
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default()
}

/// The repository's mapping set (`mappings/`).
pub fn shipped_mappings() -> kyc_receiver::mapping::MappingSet {
    kyc_receiver::mapping::MappingSet::load_dir(&repo_root().join("mappings")).expect("mappings")
}

/// Stores one record per requester id, each made by the real intake from the small fixture (no images) with
/// its `submission_stored` event, in one transaction: much faster than HTTP submissions, for tests and
/// benchmarks that need many rows.
pub fn seed_records(
    conn: &mut DbConnection,
    mappings: &kyc_receiver::mapping::MappingSet,
    protection: &kyc_receiver::protect::Protection,
    client: &str,
    requester_ids: impl Iterator<Item = String>,
) {
    use kyc_receiver::store::audit_log::{AuditDraft, ChainCursor};
    use kyc_receiver::store::submissions::SubmissionRow;
    let template = fixture_json("ditto-v3-small.json");
    conn.transaction::<_, diesel::result::Error, _>(|c| {
        let mut cursor = ChainCursor::lock(c, &protection.audit_key())?;
        for requester_id in requester_ids {
            let mut body = template.clone();
            body["request_info"]["requester_id"] = serde_json::json!(requester_id);
            let ctx = kyc_receiver::intake::IntakeContext {
                client_id: Some(client.into()),
                key_label: None,
                received_at: chrono::Utc::now(),
            };
            let prepared = kyc_receiver::intake::prepare(
                body.to_string().as_bytes(),
                &ctx,
                mappings,
                protection,
            )
            .expect("prepare");
            let (row, _) = SubmissionRow::from_new(&prepared.submission);
            store::submissions::insert(c, &[&row])?;
            cursor.append(
                c,
                &AuditDraft {
                    kind: "submission_stored".into(),
                    actor: Some(client.into()),
                    reference: Some(row.reference.clone()),
                    requester_id: Some(row.requester_id.clone()),
                    details: prepared.audit_details,
                },
                chrono::Utc::now().naive_utc(),
            )?;
        }
        cursor.save(c)
    })
    .expect("seed");
}

/// A reference from text (a confirmation's `reference_number`), for direct store queries.
pub fn reference(text: &str) -> kyc_receiver::submission::Reference {
    kyc_receiver::submission::Reference::parse(text).expect("a reference")
}
