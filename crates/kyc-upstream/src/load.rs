//! The load runner behind `kyc-upstream load`: `concurrency` workers share one keep-alive HTTP client and
//! claim job numbers from one counter. Job `j` is a new payload (generator index) or, every
//! `retry_every + 1`-th job, a deliberate retry of an already acknowledged requester id with the same
//! payload bytes, which must be answered with the original reference (idempotency). With `rate`, job `j`
//! starts at `start + j / rate` (open loop) and its latency counts from that scheduled time, so a slow
//! receiver cannot hide queueing delay (no coordinated omission).
//!
//! The run ends after `count` new submissions (and the retries due among them) or after `duration`,
//! whichever comes first. Every valid confirmation of a new submission is appended to the `acked` file
//! at once, so the file survives an interrupted run.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use super::client::Upstream;
use super::confirm::Confirmation;
use super::generate::{GenerateError, Generator};
use super::summary::{LoadReport, Recorder};

/// What to send and how hard.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// New submissions to send (retries come on top).
    pub count: Option<u64>,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Workers (connections).
    pub concurrency: usize,
    /// Fixed arrival rate, requests per second.
    pub rate: Option<f64>,
    /// One retry after every K new submissions.
    pub retry_every: Option<u64>,
    /// File listing every acknowledged requester id.
    pub acked: Option<PathBuf>,
}

/// The run could not start or a worker died.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Neither `--count` nor `--duration`.
    #[error("a load needs a bound: --count N and/or --duration D")]
    Unbounded,
    /// A plan value out of range.
    #[error("{0}")]
    Plan(&'static str),
    /// The acked file cannot be written.
    #[error("--acked {path}: {source}")]
    Acked {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The histogram could not be made.
    #[error("histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    /// A worker task panicked or was cancelled.
    #[error("a load worker stopped: {0}")]
    Worker(String),
}

enum Job {
    New(u64),
    Retry,
    Stop,
}

struct Shared {
    upstream: Arc<Upstream>,
    generator: Arc<Generator>,
    plan: LoadPlan,
    start: Instant,
    next_job: AtomicU64,
    /// (generator index, reference) of every acknowledged new submission.
    acked: Mutex<Vec<(u64, Option<String>)>>,
    acked_out: Option<Mutex<File>>,
    recorder: Mutex<Recorder>,
    progress: ProgressBar,
}

/// Runs `plan` and returns the summary. `progress` is drawn as requests finish (pass a hidden bar to
/// stay quiet).
pub async fn run(
    upstream: Arc<Upstream>,
    generator: Arc<Generator>,
    plan: LoadPlan,
    progress: ProgressBar,
) -> Result<LoadReport, LoadError> {
    if plan.count.is_none() && plan.duration.is_none() {
        return Err(LoadError::Unbounded);
    }
    if plan.concurrency == 0 {
        return Err(LoadError::Plan("--concurrency must be at least 1"));
    }
    if plan.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Plan("--rate must be a positive number"));
    }
    if plan.retry_every == Some(0) {
        return Err(LoadError::Plan("--retry-every must be at least 1"));
    }
    let acked_out = match &plan.acked {
        Some(path) => Some(Mutex::new(File::create(path).map_err(|source| {
            LoadError::Acked {
                path: path.clone(),
                source,
            }
        })?)),
        None => None,
    };
    let shared = Arc::new(Shared {
        upstream,
        generator,
        plan,
        start: Instant::now(),
        next_job: AtomicU64::new(0),
        acked: Mutex::new(Vec::new()),
        acked_out,
        recorder: Mutex::new(Recorder::new()?),
        progress,
    });
    let workers: Vec<_> = (0..shared.plan.concurrency)
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    for w in workers {
        w.await.map_err(|e| LoadError::Worker(e.to_string()))?;
    }
    let elapsed = shared.start.elapsed();
    shared.progress.finish_and_clear();
    let fetches = shared.upstream.token_cache().map_or(0, |t| t.fetches());
    let recorder = shared
        .recorder
        .lock()
        .map_err(|e| LoadError::Worker(e.to_string()))?;
    Ok(recorder.report(
        shared.generator.seed(),
        shared.plan.concurrency,
        shared.plan.rate,
        elapsed,
        fetches,
    ))
}

async fn worker(s: Arc<Shared>) {
    loop {
        let j = s.next_job.fetch_add(1, Ordering::Relaxed);
        let job = s.job(j);
        if matches!(job, Job::Stop) {
            break;
        }
        let scheduled = s
            .plan
            .rate
            .map(|r| s.start + Duration::from_secs_f64(j as f64 / r));
        if let Some(at) = scheduled {
            tokio::time::sleep_until(at.into()).await;
        }
        if s.plan.duration.is_some_and(|d| s.start.elapsed() >= d) {
            break;
        }
        let begun = scheduled.unwrap_or_else(Instant::now);
        match job {
            Job::New(index) => s.send_new(index, begun).await,
            Job::Retry => s.send_retry(j, begun).await,
            Job::Stop => break,
        }
        s.progress.inc(1);
    }
}

impl Shared {
    /// What job number `j` is: new payload `index`, a retry, or past the end.
    fn job(&self, j: u64) -> Job {
        if self
            .plan
            .duration
            .is_some_and(|d| self.start.elapsed() >= d)
        {
            return Job::Stop;
        }
        let count = self.plan.count.unwrap_or(u64::MAX);
        match self.plan.retry_every.map(|k| k.saturating_add(1)) {
            Some(p) if j % p == p - 1 => {
                let new_before = j - j / p;
                if new_before > count {
                    Job::Stop
                } else {
                    Job::Retry
                }
            }
            period => {
                let index = period.map_or(j, |p| j - j / p);
                if index >= count {
                    Job::Stop
                } else {
                    Job::New(index)
                }
            }
        }
    }

    fn record<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> Option<T> {
        self.recorder.lock().ok().map(|mut r| f(&mut r))
    }

    /// Posts, records the request, and checks the answer; a failure is counted by its code.
    async fn exchange(&self, body: Vec<u8>, begun: Instant) -> Option<Confirmation> {
        let result = self.upstream.post(body).await;
        let latency = begun.elapsed();
        let checked = match result {
            Ok(reply) => {
                self.record(|r| r.request(latency, reply.sent_bytes));
                self.upstream.confirm(&reply)
            }
            Err(e) => {
                self.record(|r| r.request(latency, 0));
                Err(e)
            }
        };
        match checked {
            Ok(c) => Some(c),
            Err(e) => {
                self.record(|r| r.error(e.code()));
                None
            }
        }
    }

    async fn send_new(&self, index: u64, begun: Instant) {
        let generated = match self.generator.payload(index) {
            Ok(g) => g,
            Err(e) => return self.generate_failed(&e),
        };
        let Some(conf) = self.exchange(generated.body, begun).await else {
            return;
        };
        // A valid confirmation means the receiver has stored it: it is acknowledged whatever it says.
        if let Ok(mut acked) = self.acked.lock() {
            acked.push((index, conf.reference_number.clone()));
        }
        if let Some(out) = &self.acked_out
            && let Ok(mut f) = out.lock()
            && f.write_all(format!("{}\n", generated.requester_id).as_bytes())
                .is_err()
        {
            self.record(|r| r.error("acked_write_failed".into()));
        }
        let expected = generated.expected.result();
        self.record(|r| {
            let c = r.counts();
            c.acknowledged += 1;
            c.rejected += u64::from(!conf.result);
            c.expected_rejected += u64::from(!expected);
            c.unexpected_results += u64::from(conf.result != expected);
            if conf
                .user_id
                .as_deref()
                .is_some_and(|u| u != generated.user_id)
            {
                r.error("user_id_changed".into());
            }
        });
    }

    async fn send_retry(&self, j: u64, begun: Instant) {
        let target = self.acked.lock().ok().and_then(|a| {
            let n = u64::try_from(a.len()).ok().filter(|n| *n > 0)?;
            let pick = usize::try_from(mix(j ^ self.generator.seed()) % n).ok()?;
            a.get(pick).cloned()
        });
        let Some((index, reference)) = target else {
            self.record(|r| r.counts().retries_skipped += 1);
            return;
        };
        let generated = match self.generator.payload(index) {
            Ok(g) => g,
            Err(e) => return self.generate_failed(&e),
        };
        self.record(|r| r.counts().retries += 1);
        let Some(conf) = self.exchange(generated.body, begun).await else {
            return;
        };
        self.record(|r| {
            if conf.reference_number == reference {
                r.counts().retries_confirmed += 1;
            } else {
                r.error("reference_mismatch".into());
            }
        });
    }

    fn generate_failed(&self, e: &GenerateError) {
        log::error!("payload generation failed: {e}");
        self.record(|r| r.error("generate_failed".into()));
    }
}

/// SplitMix64: spreads retry picks over the acknowledged list.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
