//! Per-client rate limiting on the submission endpoint (`[rate_limit]`): a token bucket per client id,
//! refilled at `per_second` up to `burst`. An empty bucket answers 429 `rate_limited` with `Retry-After`.
//! The map is bounded; when full, idle buckets (full again) are dropped first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub use crate::config::RateLimitSettings;

/// Most clients tracked at once.
const MAX_CLIENTS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of all clients.
pub struct RateLimiter {
    settings: RateLimitSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter with these settings.
    pub fn new(settings: RateLimitSettings) -> RateLimiter {
        RateLimiter {
            settings,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client` at `now`; `Err(seconds)` says when to retry.
    pub fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        let (rate, burst) = (self.settings.per_second, self.settings.burst.max(1.0));
        if rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(client) {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(client.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter::new(RateLimitSettings { per_second, burst })
    }

    #[test]
    fn a_burst_passes_then_the_client_waits() {
        let l = limiter(2.0, 3.0);
        let t = Instant::now();
        assert!((0..3).all(|_| l.check("a", t).is_ok()));
        assert_eq!(l.check("a", t), Err(1));
        assert!(l.check("b", t).is_ok(), "other clients are not affected");
        assert!(
            l.check("a", t + Duration::from_millis(500)).is_ok(),
            "refilled at 2/s"
        );
        assert!(l.check("a", t + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let l = limiter(0.0, 0.0);
        let t = Instant::now();
        assert!((0..10_000).all(|_| l.check("a", t).is_ok()));
    }

    #[test]
    fn slow_rates_give_longer_retry_after() {
        let l = limiter(0.1, 1.0);
        let t = Instant::now();
        assert!(l.check("a", t).is_ok());
        assert_eq!(l.check("a", t), Err(10));
    }
}
