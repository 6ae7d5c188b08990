//! Builds the running service from [`Settings`]: TLS material, pool, migrations, writer threads and the HTTP
//! server. `main` and the integration tests both use [`Application::build`], so tests run the real thing.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::{App, HttpMessage, HttpServer, web};
use futures_util::FutureExt;

use crate::api::connections::{self, ConnectionCounter};
use crate::api::{self, AppState, LogFields};
use crate::auth::{AuthMode, AuthStack, SystemClock, generate_signing_key_pem};
use crate::config::{ConfigError, Settings};
use crate::mapping::registry::MappingRegistry;
use crate::protect::Protection;
use crate::store::writer::{Writer, WriterLimits};
use crate::store::{self, StoreError};
use crate::tls::{self, TlsError};

/// Start-up failed; the message says which setting or file.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Configuration invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Certificate or key unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Database unreachable or migrations failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Authentication could not be set up (signing key, JWKS/introspection client).
    #[error("{0}")]
    Auth(String),
    /// The mapping files are broken.
    #[error("mappings: {0}")]
    Mappings(String),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A built, not yet running service.
pub struct Application {
    port: u16,
    scheme: &'static str,
    server: Server,
    // Delivers webhooks while the application lives; dropped (and so stopped) with it.
    _dispatcher: Option<crate::events::deliver::Dispatcher>,
}

impl Application {
    /// Prepares everything; nothing is served until [`Application::run_until_stopped`] is awaited.
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        settings.validate()?;
        let acceptor = if settings.server.tls {
            if settings.server.tls_self_signed
                && tls::ensure_self_signed(&settings.server.tls_cert, &settings.server.tls_key)?
            {
                log::warn!(
                    "created a self-signed development certificate at {}",
                    settings.server.tls_cert.display()
                );
            }
            Some(tls::acceptor(
                &settings.server.tls_cert,
                &settings.server.tls_key,
                settings.server.client_ca_path(),
            )?)
        } else {
            log::warn!("TLS is off (server.tls = false); serving plain HTTP on loopback only");
            None
        };

        let ciphers = settings.cipher_profiles()?;
        for warning in &ciphers.warnings {
            log::warn!("{warning}");
        }
        let protection = Arc::new(Protection::from_settings(&settings.storage)?);
        let auth = Arc::new(build_auth(&settings)?);
        let mappings = Arc::new(
            MappingRegistry::load(&settings.mappings.dir)
                .map_err(|e| StartupError::Mappings(e.to_string()))?,
        );
        if settings.mappings.reload {
            mappings.watch(Duration::from_millis(
                settings.mappings.poll_interval_ms.max(100),
            ));
        }
        reload_on_sighup(&mappings);

        let (pool, url) = store::make_pool(&settings.database)?;
        let migrate_pool = pool.clone();
        let applied = tokio::task::spawn_blocking(move || {
            let mut conn = migrate_pool.get()?;
            store::migrate(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Migration(e.to_string()))??;
        if !applied.is_empty() {
            log::info!("applied migrations: {}", applied.join(", "));
        }
        record_mapping_activations(&pool, &mappings, protection.audit_key()).await?;
        let (writer, _threads) = Writer::start(
            pool.clone(),
            writer_limits(&settings, protection.audit_key()),
        );
        let head_signer = Arc::new(
            crate::audit::heads::HeadSigner::load(
                &settings.audit.head_key_file,
                settings.audit.head_key_generate,
                &settings.audit.instance_name(),
            )
            .map_err(StartupError::Auth)?,
        );
        let receipts = if settings.receipts.enable {
            Some(Arc::new(
                crate::receipts::ReceiptSigner::load(
                    &settings.receipts.key_file,
                    settings.receipts.key_generate,
                )
                .map_err(StartupError::Auth)?,
            ))
        } else {
            None
        };
        if settings.audit.head_interval_secs > 0 {
            spawn_head_signing(pool.clone(), &settings, head_signer.clone());
        }
        let dispatcher = if settings.webhooks.endpoints.is_empty() {
            None
        } else {
            let (pool, webhooks, commits) =
                (pool.clone(), settings.webhooks.clone(), writer.commits());
            Some(
                tokio::task::spawn_blocking(move || {
                    crate::events::deliver::Dispatcher::start(pool, &webhooks, commits)
                })
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))??,
            )
        };
        if store::retention::RetentionPolicy::of(&settings).enabled() {
            spawn_retention(pool.clone(), &settings, protection.audit_key());
        }

        let addr = settings.bind_addr()?;
        let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind {
            addr: settings.server.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: settings.server.bind.clone(),
                source,
            })?
            .port();

        let settings = Arc::new(settings);
        let state = web::Data::new(AppState {
            settings: settings.clone(),
            pool,
            writer,
            backend: url.backend(),
            mappings,
            auth,
            protection,
            rate_limiter: api::rate_limit::RateLimiter::new(settings.rate_limit.clone()),
            request_cipher: Arc::new(ciphers.request),
            response_cipher: Arc::new(ciphers.response),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                settings.server.inflight_body_bytes,
            )),
            cpu_slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            verify_walk: tokio::sync::Mutex::new(()),
            head_signer,
            receipts,
            readiness: Default::default(),
            trusted_proxies: settings.server.trusted_proxy_nets()?,
            console: crate::console::ConsoleState::new(Arc::new(SystemClock)),
        });
        let submit_path = settings.server.submit_path.clone();
        let token_path = settings.auth.token_path.clone();
        let allow_get_token = settings.auth.allow_get_token;
        let console_enabled = settings.console.enable;
        let per_address = ConnectionCounter::new(settings.server.max_connections_per_address);
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let max_connections = connections::effective_max_connections(
            settings.server.max_connections,
            connections::open_files_limit(),
        );
        if max_connections < settings.server.max_connections {
            log::warn!(
                "server.max_connections lowered to {max_connections}: the process may open too few files \
                 for more (raise its limit, e.g. LimitNOFILE)"
            );
        }
        let server = HttpServer::new(move || {
            let (submit_path, token_path) = (submit_path.clone(), token_path.clone());
            App::new()
                .app_data(state.clone())
                .wrap_fn(connections::refuse_crowded)
                .wrap_fn(log_request)
                .configure(|cfg| api::configure(cfg, &submit_path, &token_path, allow_get_token))
                .configure(|cfg| {
                    if console_enabled {
                        crate::console::configure(cfg);
                    }
                })
                .default_service(web::to(api::not_found))
        })
        .on_connect(move |conn, data| {
            tls::record_peer_certificate(conn, data);
            per_address.register(conn, data);
        })
        .workers(workers)
        .max_connections(max_connections.div_ceil(workers).max(1))
        .shutdown_timeout(settings.server.shutdown_timeout_secs);
        let bind_err = |source| StartupError::Bind {
            addr: settings.server.bind.clone(),
            source,
        };
        let (server, scheme) = match acceptor {
            Some(acceptor) => (
                server
                    .listen_openssl(listener, acceptor)
                    .map_err(bind_err)?,
                "https",
            ),
            None => (server.listen(listener).map_err(bind_err)?, "http"),
        };
        Ok(Application {
            port,
            scheme,
            server: server.run(),
            _dispatcher: dispatcher,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:PORT` (or http when TLS is off).
    pub fn base_url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// Handle to stop the server (tests, signals).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Creates the development signing key when asked to, then builds every enabled auth mode.
fn build_auth(settings: &Settings) -> Result<AuthStack, StartupError> {
    let auth = &settings.auth;
    let signing = &auth.signing;
    if auth.has_mode(AuthMode::Builtin) && signing.generate_if_missing && !signing.key_file.exists()
    {
        let pem =
            generate_signing_key_pem(signing.alg).map_err(|e| StartupError::Auth(e.to_string()))?;
        tls::write_private(&signing.key_file, pem.as_bytes())?;
        log::warn!(
            "created a token signing key at {}",
            signing.key_file.display()
        );
    }
    AuthStack::build(auth, Arc::new(SystemClock)).map_err(|e| StartupError::Auth(e.to_string()))
}

/// Runs retention every `retention.interval_secs` off the async workers; failures are logged and retried at
/// the next tick.
fn spawn_retention(pool: store::Pool, settings: &Settings, key: crate::store::audit_log::AuditKey) {
    let policy = store::retention::RetentionPolicy::of(settings);
    let period = Duration::from_secs(settings.retention.interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        loop {
            ticks.tick().await;
            let (pool, key) = (pool.clone(), key.clone());
            let outcome = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
                let mut conn = pool.get()?;
                let now = chrono::Utc::now().naive_utc();
                store::retention::run(&mut conn, &policy, &key, now, false)
                    .map_err(StoreError::from)
            })
            .await;
            match outcome {
                Ok(Ok(report)) if report.batches > 0 => log::info!(
                    "retention: {} image(s), {} record(s), {} audit event(s), {} quarantine entr(y/ies), {} decision event(s) removed",
                    report.images_deleted,
                    report.records_deleted,
                    report.audit_events_removed,
                    report.quarantine_deleted,
                    report.events_deleted
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => log::warn!("retention run failed: {e}"),
                Err(e) => log::warn!("retention task failed: {e}"),
            }
        }
    });
}

/// Records the set active at start (its files kept by hash, an audit event), and every later activation by
/// poll or SIGHUP. A later activation that cannot be recorded (database down) is logged; the set stays active,
/// since refusing a valid mapping change would not make the record appear.
async fn record_mapping_activations(
    pool: &store::Pool,
    mappings: &Arc<MappingRegistry>,
    key: crate::store::audit_log::AuditKey,
) -> Result<(), StartupError> {
    let (start_pool, set, start_key) = (pool.clone(), mappings.current(), key.clone());
    tokio::task::spawn_blocking(move || -> Result<i64, StoreError> {
        let mut conn = start_pool.get()?;
        Ok(store::mapping_versions::record_activation(
            &mut conn,
            &start_key,
            &set,
            "start-up",
            chrono::Utc::now().naive_utc(),
        )?)
    })
    .await
    .map_err(|e| StoreError::Unavailable(e.to_string()))??;
    let pool = pool.clone();
    mappings.on_activate(Box::new(move |set, trigger| {
        let recorded = pool.get().map_err(StoreError::from).and_then(|mut conn| {
            Ok(store::mapping_versions::record_activation(
                &mut conn,
                &key,
                set,
                trigger,
                chrono::Utc::now().naive_utc(),
            )?)
        });
        if let Err(e) = recorded {
            log::warn!("mapping activation ({trigger}) not recorded in the audit trail: {e}");
        }
    }));
    Ok(())
}

/// Signs the chain's head every `audit.head_interval_secs` when it moved (and once at start), appends it to
/// `audit.heads_file` and posts it to `audit.heads_url` when set. A failure is logged and retried next tick.
fn spawn_head_signing(
    pool: store::Pool,
    settings: &Settings,
    signer: Arc<crate::audit::heads::HeadSigner>,
) {
    let period = Duration::from_secs(settings.audit.head_interval_secs.max(1));
    let file = settings.audit.heads_file.clone();
    let url = settings.audit.heads_url.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        let mut last: Option<(i64, String)> = None;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok();
        loop {
            ticks.tick().await;
            let (pool, signer, file, previous) =
                (pool.clone(), signer.clone(), file.clone(), last.clone());
            let signed = tokio::task::spawn_blocking(move || {
                let mut conn = pool.get().map_err(|e| e.to_string())?;
                crate::audit::heads::sign_if_moved(&mut conn, &signer, &file, previous.as_ref())
            })
            .await;
            match signed {
                Ok(Ok(Some(head))) => {
                    last = Some((head.seq, head.hash.clone()));
                    if let (Some(url), Some(client)) = (&url, &client)
                        && let Err(e) = client
                            .post(url)
                            .json(&head)
                            .send()
                            .await
                            .and_then(|r| r.error_for_status())
                    {
                        log::warn!(
                            "signed audit head {} not posted to audit.heads_url: {e}",
                            head.seq
                        );
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => log::warn!("audit head not signed: {e}"),
                Err(e) => log::warn!("audit head task failed: {e}"),
            }
        }
    });
}

/// SIGHUP re-reads the mapping directory at once (whether or not polling is on).
fn reload_on_sighup(registry: &Arc<MappingRegistry>) {
    use tokio::signal::unix::{SignalKind, signal};
    let weak = Arc::downgrade(registry);
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    let Some(registry) = weak.upgrade() else {
                        return;
                    };
                    log::info!("SIGHUP: reloading mappings");
                    let _ = tokio::task::spawn_blocking(move || registry.reload(true)).await;
                }
            });
        }
        Err(e) => log::warn!("cannot listen for SIGHUP: {e}"),
    }
}

/// The writer's limits from `[database]`, `[quarantine]` and `[events]`, and the audit key it MACs events with.
pub fn writer_limits(
    settings: &Settings,
    audit_key: crate::store::audit_log::AuditKey,
) -> WriterLimits {
    let db = &settings.database;
    let threads = db.writers.max(1);
    WriterLimits {
        threads,
        batch_max_rows: db.batch_max_rows,
        batch_max_bytes: db.batch_max_bytes,
        batch_max_wait: Duration::from_micros(db.batch_max_wait_us),
        queue_depth: db.queue_depth,
        quarantine_max_bytes: settings.quarantine.max_bytes,
        events: settings.events.enabled,
        audit_key,
    }
}

/// One log line per request: request id, method, route pattern (never the raw path, which may hold a user
/// id), status, latency, client and requester id. Never bodies, headers or query strings.
fn log_request<S>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>> + use<S>
where
    S: Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let start = Instant::now();
    let request_id = api::request_id::from_headers(req.headers());
    let method = req.method().to_string();
    api::request_id::scope(request_id.clone(), srv.call(req)).map(move |mut res| {
        if let Ok(res) = &mut res
            && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&request_id)
        {
            res.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static(api::request_id::HEADER),
                value,
            );
        }
        if let Ok(res) = &res {
            let route = res.request().match_pattern().unwrap_or_else(|| "-".into());
            let fields = res
                .request()
                .extensions()
                .get::<LogFields>()
                .cloned()
                .unwrap_or_default();
            log::info!(
                "request_id={request_id} method={method} route={route} status={} latency_ms={:.1} client={} requester_id={}",
                res.status().as_u16(),
                start.elapsed().as_secs_f64() * 1000.0,
                fields.client_id.as_deref().unwrap_or("-"),
                fields.requester_id.as_deref().unwrap_or("-"),
            );
        }
        res
    })
}
