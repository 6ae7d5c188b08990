//! What a load run measured: counts, outcomes, errors by code, bytes, and latency in an HDR histogram
//! (microsecond resolution, 3 significant digits, up to 10 minutes), turned into a [`LoadReport`] for
//! text or `--json` output.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Collects results while workers run.
#[derive(Debug)]
pub struct Recorder {
    latency: Histogram<u64>,
    counts: Counts,
    errors: BTreeMap<String, u64>,
}

/// Plain counters of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Requests sent (new submissions and retries).
    pub requests: u64,
    /// New submissions answered with a valid confirmation (each requester id once).
    pub acknowledged: u64,
    /// Deliberate retries of acknowledged requester ids.
    pub retries: u64,
    /// Retries answered with the original reference.
    pub retries_confirmed: u64,
    /// Retries not sent because nothing had been acknowledged yet.
    pub retries_skipped: u64,
    /// Acknowledged new submissions with `result: false`.
    pub rejected: u64,
    /// Acknowledged new submissions the generator meant to be rejected.
    pub expected_rejected: u64,
    /// Acknowledged new submissions whose `result` differs from the generator's intent.
    pub unexpected_results: u64,
    /// Request body bytes sent (after encryption).
    pub bytes_sent: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// The end-of-run summary (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Generator seed (rerun with `--seed` to send the same payloads).
    pub seed: u64,
    /// Workers.
    pub concurrency: usize,
    /// Target arrival rate per second, if fixed.
    pub rate: Option<f64>,
    /// Wall time from the first request to the last answer.
    pub elapsed_secs: f64,
    /// Counters.
    #[serde(flatten)]
    pub counts: Counts,
    /// Failed requests.
    pub errors_total: u64,
    /// Failed requests by code (`timeout`, `http_503`, `duplicate_conflict`, …).
    pub errors: BTreeMap<String, u64>,
    /// Valid confirmations (new and retries) per second.
    pub submissions_per_sec: f64,
    /// Request body megabytes (10^6 bytes) sent per second.
    pub mb_per_sec: f64,
    /// Latency of every answered request; from the scheduled start when a rate is set.
    pub latency_ms: Latency,
    /// Token requests made.
    pub token_fetches: u64,
}

impl Recorder {
    /// An empty recorder (1 µs .. 600 s at 3 significant digits).
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, 600_000_000, 3)?,
            counts: Counts::default(),
            errors: BTreeMap::new(),
        })
    }

    /// Counts one request that got an answer (or failed) after `latency`.
    pub fn request(&mut self, latency: Duration, bytes_sent: usize) {
        self.counts.requests += 1;
        self.counts.bytes_sent += bytes_sent as u64;
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency.saturating_record(micros);
    }

    /// Counts an error by code.
    pub fn error(&mut self, code: String) {
        *self.errors.entry(code).or_default() += 1;
    }

    /// Mutable counters.
    pub fn counts(&mut self) -> &mut Counts {
        &mut self.counts
    }

    /// The summary after `elapsed`.
    pub fn report(
        &self,
        seed: u64,
        concurrency: usize,
        rate: Option<f64>,
        elapsed: Duration,
        token_fetches: u64,
    ) -> LoadReport {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let ms = |micros: u64| micros as f64 / 1000.0;
        let h = &self.latency;
        let empty = h.is_empty();
        let q = |p: f64| {
            if empty {
                0.0
            } else {
                ms(h.value_at_quantile(p))
            }
        };
        let confirmed = self.counts.acknowledged + self.counts.retries_confirmed;
        LoadReport {
            seed,
            concurrency,
            rate,
            elapsed_secs: secs,
            counts: self.counts.clone(),
            errors_total: self.errors.values().sum(),
            errors: self.errors.clone(),
            submissions_per_sec: confirmed as f64 / secs,
            mb_per_sec: self.counts.bytes_sent as f64 / 1e6 / secs,
            latency_ms: Latency {
                p50: q(0.5),
                p90: q(0.9),
                p99: q(0.99),
                p99_9: q(0.999),
                max: if empty { 0.0 } else { ms(h.max()) },
                mean: if empty { 0.0 } else { h.mean() / 1000.0 },
            },
            token_fetches,
        }
    }
}

impl LoadReport {
    /// The human-readable summary.
    pub fn render(&self) -> String {
        let c = &self.counts;
        let l = &self.latency_ms;
        let mut out = format!(
            "requests      {} in {:.2} s (concurrency {}{})\n\
             acknowledged  {} new ({} rejected, {} expected rejected, {} unexpected results)\n\
             retries       {} sent, {} confirmed with the original reference, {} skipped\n\
             throughput    {:.1} submissions/s, {:.2} MB/s sent\n\
             latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (mean {:.2})\n\
             tokens        {} fetched\n\
             errors        {}\n",
            c.requests,
            self.elapsed_secs,
            self.concurrency,
            self.rate
                .map(|r| format!(", rate {r}/s"))
                .unwrap_or_default(),
            c.acknowledged,
            c.rejected,
            c.expected_rejected,
            c.unexpected_results,
            c.retries,
            c.retries_confirmed,
            c.retries_skipped,
            self.submissions_per_sec,
            self.mb_per_sec,
            l.p50,
            l.p90,
            l.p99,
            l.p99_9,
            l.max,
            l.mean,
            self.token_fetches,
            self.errors_total,
        );
        for (code, n) in &self.errors {
            out.push_str(&format!("  {code:<28} {n}\n"));
        }
        out.push_str(&format!("seed          {}\n", self.seed));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut r = Recorder::new().unwrap();
        for ms in 1..=1000u64 {
            r.request(Duration::from_millis(ms), 1000);
        }
        r.counts().acknowledged = 1000;
        r.error("timeout".into());
        let rep = r.report(7, 4, None, Duration::from_secs(2), 1);
        assert!(
            (rep.latency_ms.p50 - 500.0).abs() < 2.0,
            "{:?}",
            rep.latency_ms
        );
        assert!((rep.latency_ms.p99 - 990.0).abs() < 2.0);
        assert!((rep.latency_ms.max - 1000.0).abs() < 1.0);
        assert_eq!(rep.submissions_per_sec, 500.0);
        assert_eq!(rep.mb_per_sec, 0.5);
        assert_eq!(rep.errors_total, 1);
        let json = serde_json::to_value(&rep).unwrap();
        assert_eq!(json["acknowledged"], 1000);
        assert_eq!(json["errors"]["timeout"], 1);
        assert!(rep.render().contains("p99.9"));
    }

    #[test]
    fn an_empty_run_reports_zeros() {
        let rep = Recorder::new()
            .unwrap()
            .report(1, 1, Some(5.0), Duration::ZERO, 0);
        assert_eq!(rep.latency_ms.max, 0.0);
        assert_eq!(rep.counts.requests, 0);
    }
}
