//! The webhook dispatcher: one thread per endpoint, on every instance. Each pass leases the endpoint's state row
//! (a conditional update, so several instances on one PostgreSQL never deliver to the same endpoint at once),
//! sends the redeliveries an operator asked for, then the events after the endpoint's cursor in sequence order,
//! one at a time, moving the cursor after each 2xx. A failure stops the pass (later events wait: order per
//! endpoint is kept) and schedules a retry with exponential back-off and jitter; past `webhooks.horizon_secs`
//! the event becomes a dead letter and the cursor moves on. A crash mid-delivery leaves the cursor where it
//! was, so the event is delivered again (at least once; the `webhook-id` lets receivers drop the copy).
//!
//! Every name is resolved at each pass and every address checked (no private range without `allow_private`),
//! and the client is pinned to those addresses: DNS cannot point a delivery somewhere the check did not see.
//! Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use rand::Rng;

use crate::config::{EndpointSettings, WebhooksSettings, is_loopback, is_private};
use crate::store::events::{self, EventRow};
use crate::store::{DbConnection, Pool, StoreError};

/// Events sent per pass at most, so a long backlog shares the lease with other instances' checks.
const PER_PASS: i64 = 200;

/// A running dispatcher's endpoint threads; dropping it asks them to stop after their current pass.
pub struct Dispatcher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Dispatcher {
    /// Makes the state row of every endpoint and starts one thread per endpoint. `commits` wakes them when
    /// this instance commits decision events; they also look every `webhooks.poll_ms` (other instances).
    pub fn start(
        pool: Pool,
        settings: &WebhooksSettings,
        commits: tokio::sync::watch::Receiver<u64>,
    ) -> Result<Dispatcher, StoreError> {
        let mut conn = pool.get()?;
        for e in &settings.endpoints {
            events::ensure_endpoint(&mut conn, &e.name, e.from_start)?;
        }
        drop(conn);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let mut threads = Vec::new();
        for endpoint in &settings.endpoints {
            let worker = Worker {
                pool: pool.clone(),
                endpoint: endpoint.clone(),
                settings: settings.clone(),
                owner: owner.clone(),
                ed25519: load_ed25519(endpoint).map_err(StoreError::Unavailable)?,
                secrets: endpoint.secret_keys().map_err(StoreError::Unavailable)?,
            };
            let (stop, commits) = (stop.clone(), commits.clone());
            let handle = std::thread::Builder::new()
                .name(format!("kyc-webhook-{}", endpoint.name))
                .spawn(move || worker.run(&stop, commits))
                .map_err(|e| {
                    StoreError::Unavailable(format!("cannot start a webhook thread: {e}"))
                })?;
            threads.push(handle);
        }
        Ok(Dispatcher { stop, threads })
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // The threads finish their pass on their own; nothing waits for a slow endpoint here.
        self.threads.clear();
    }
}

fn load_ed25519(
    e: &EndpointSettings,
) -> Result<Option<openssl::pkey::PKey<openssl::pkey::Private>>, String> {
    let Some(path) = &e.ed25519_key_file else {
        return Ok(None);
    };
    let setting = format!("webhooks.endpoints `{}`: ed25519_key_file", e.name);
    crate::tls::ed25519_key(path, false, &setting).map(Some)
}

struct Worker {
    pool: Pool,
    endpoint: EndpointSettings,
    settings: WebhooksSettings,
    owner: String,
    ed25519: Option<openssl::pkey::PKey<openssl::pkey::Private>>,
    secrets: Vec<Vec<u8>>,
}

/// Why one delivery did not get a 2xx (a status or a transport error; never the answer's body).
type Failure = String;

impl Worker {
    fn run(
        self,
        stop: &std::sync::atomic::AtomicBool,
        mut commits: tokio::sync::watch::Receiver<u64>,
    ) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log::error!("webhook {}: no runtime: {e}", self.endpoint.name);
                return;
            }
        };
        let poll = Duration::from_millis(self.settings.poll_ms);
        runtime.block_on(async {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Err(e) = self.pass().await {
                    log::warn!("webhook {}: {e}", self.endpoint.name);
                }
                tokio::select! {
                    changed = commits.changed() => {
                        if changed.is_err() {
                            // The writer is gone: the service is stopping.
                            tokio::time::sleep(poll).await;
                        }
                    }
                    () = tokio::time::sleep(poll) => {}
                }
            }
        });
    }

    fn db(&self) -> Result<r2d2::PooledConnection<crate::store::ConnectionManager>, StoreError> {
        Ok(self.pool.get()?)
    }

    fn lease(&self, conn: &mut DbConnection) -> Result<bool, StoreError> {
        let now = Utc::now().naive_utc();
        let until =
            now + chrono::Duration::seconds(i64::try_from(self.settings.lease_secs).unwrap_or(30));
        Ok(events::lease(
            conn,
            &self.endpoint.name,
            &self.owner,
            now,
            until,
        )?)
    }

    /// One pass: redeliveries, then the stream after the cursor until it is empty, a failure, or [`PER_PASS`].
    async fn pass(&self) -> Result<(), StoreError> {
        let name = &self.endpoint.name;
        let mut conn = self.db()?;
        if !self.lease(&mut conn)? {
            return Ok(());
        }
        let result = self.work(&mut conn).await;
        events::release(&mut conn, name, &self.owner)?;
        result
    }

    async fn work(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        let name = &self.endpoint.name;
        let Some(state) = events::state(conn, name)? else {
            return Ok(());
        };
        if state.paused {
            return Ok(());
        }
        for seq in events::redeliveries(conn, name, PER_PASS)? {
            let Some(event) = events::get(conn, seq)? else {
                events::redelivery_failed(conn, name, seq, "the event no longer exists")?;
                continue;
            };
            if !self.lease(conn)? {
                return Ok(());
            }
            match self.send(&event).await {
                Ok(()) => events::redelivered(conn, name, seq)?,
                Err(why) => events::redelivery_failed(conn, name, seq, &why)?,
            }
        }
        let now = Utc::now().naive_utc();
        if state.next_attempt_at.is_some_and(|t| t > now) {
            return Ok(());
        }
        let kinds: Option<Vec<String>> =
            (!self.endpoint.events.is_empty()).then(|| self.endpoint.events.clone());
        // The head is read first: an event committed after it is seen on the next pass, never skipped.
        let head = events::head(conn)?;
        let batch = events::between(conn, state.cursor, head, kinds.as_deref(), PER_PASS)?;
        if batch.is_empty() {
            if head > state.cursor {
                events::advance(conn, name, &self.owner, head, 0)?;
            }
            return Ok(());
        }
        let full = batch.len() == usize::try_from(PER_PASS).unwrap_or(usize::MAX);
        let mut attempts = state.attempts;
        let mut first_failure = state.first_failure_at;
        for event in &batch {
            if !self.lease(conn)? {
                return Ok(());
            }
            match self.send(event).await {
                Ok(()) => {
                    if !events::advance(conn, name, &self.owner, event.seq, 1)? {
                        return Ok(());
                    }
                    attempts = 0;
                    first_failure = None;
                }
                Err(why) => {
                    let now = Utc::now().naive_utc();
                    attempts += 1;
                    let since = first_failure.unwrap_or(now);
                    let horizon = chrono::Duration::seconds(
                        i64::try_from(self.settings.horizon_secs).unwrap_or(i64::MAX / 1000),
                    );
                    if now - since >= horizon {
                        log::warn!(
                            "webhook {name}: event {} dead-lettered after {attempts} attempt(s): {why}",
                            event.seq
                        );
                        events::bury(conn, name, &self.owner, event.seq, attempts, &why, now)?;
                        // The next event waits for the next pass: a dead endpoint is not hammered.
                        return Ok(());
                    }
                    let next = now + self.backoff(attempts);
                    log::info!(
                        "webhook {name}: event {} failed (attempt {attempts}): {why}; next attempt at {next}",
                        event.seq
                    );
                    events::failed(conn, name, &self.owner, attempts, since, next, &why)?;
                    return Ok(());
                }
            }
        }
        if !full && head > batch.last().map_or(0, |e| e.seq) {
            // The rest up to the head are events this endpoint does not take.
            events::advance(conn, name, &self.owner, head, 0)?;
        }
        Ok(())
    }

    /// Base × 2^(attempts−1), at most `retry_max_secs`, ±20 % jitter so instances and endpoints spread out.
    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let base = self.settings.retry_base_ms.saturating_mul(1u64 << exponent);
        let capped = base.min(self.settings.retry_max_secs.saturating_mul(1000)) as f64;
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        chrono::Duration::milliseconds((capped * jitter) as i64)
    }

    /// POSTs one event, signed; `Ok` on a 2xx.
    async fn send(&self, event: &EventRow) -> Result<(), Failure> {
        let body = super::envelope(event, &self.endpoint.fields).to_string();
        let timestamp = Utc::now().timestamp();
        let signature = super::signature_header(
            &event.id,
            timestamp,
            &body,
            &self.secrets,
            self.ed25519.as_ref(),
        )?;
        let client = self.client().await?;
        let answer = client
            .post(&self.endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(
                "user-agent",
                concat!("kyc-receiver/", env!("CARGO_PKG_VERSION")),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }

    /// A client pinned to the endpoint's checked addresses.
    async fn client(&self) -> Result<reqwest::Client, Failure> {
        let url = reqwest::Url::parse(&self.endpoint.url).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("the url has no host")?.to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs = resolve(&host, port).await?;
        for addr in &addrs {
            if is_private(addr.ip()) && !self.endpoint.allow_private {
                return Err(format!(
                    "{host} resolves to the private address {}; refused (allow_private is off)",
                    addr.ip()
                ));
            }
            if url.scheme() == "http" && !is_loopback(addr.ip()) {
                return Err(format!(
                    "{host} resolves beyond loopback; http is refused there"
                ));
            }
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(self.endpoint.timeout_secs))
            .connect_timeout(Duration::from_secs(self.endpoint.timeout_secs))
            .resolve_to_addrs(&host, &addrs);
        if let Some(ca) = &self.endpoint.ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|_| format!("ca_file {} is not a PEM certificate", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// The addresses of `host` (a literal is its own).
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addrs)
}

fn transport_error(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// When the state row says the next attempt is due (for listings).
pub fn due(next_attempt_at: Option<NaiveDateTime>) -> String {
    next_attempt_at.map_or_else(|| "now".into(), crate::store::audit_log::format_timestamp)
}
