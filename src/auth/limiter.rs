//! Failed-attempt limiter for password checks (see `gate`): failures are limited per address.
//!
//! Owns: [`FailureLimiter`], a sliding-window counter of *failed* authentications per key, and the numbers
//! the gate uses ([`PER_ADDRESS`]). Reads no configuration keys: the numbers are fixed and
//! explained below.
//!
//! Decisions:
//! - Only failures count; successes neither count nor reset, so one valid client cannot wipe the record of
//!   guesses made from the same address.
//! - An attempt is *reserved* as a failure before the secret is checked and released when it was right, so
//!   concurrent attempts cannot all pass a limit that the slow check would only update afterwards.
//! - A blocked key is refused *before* the secret is checked (no argon2 work, no oracle while blocked).
//! - Per address (IPv6: per /64 prefix): 10 failures in 5 minutes. There is no limit per client: anyone can
//!   fail on purpose with a known client id, and locking out the real upstream is a denial of service;
//!   guessing a 256-bit generated secret is hopeless anyway.
//! - Memory is bounded: at most `max_keys` keys; expired keys are purged first, then the stalest key goes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::clock::Clock;

/// Limits for one limiter: `max_failures` within `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterPolicy {
    /// Failures allowed within the window; the next attempt is refused until the oldest one ages out.
    pub max_failures: usize,
    /// Length of the sliding window in seconds.
    pub window_secs: u64,
    /// Upper bound on tracked keys, so random client ids cannot grow memory without limit.
    pub max_keys: usize,
}

/// Per remote address: 10 failures per 5 minutes.
pub const PER_ADDRESS: LimiterPolicy = LimiterPolicy {
    max_failures: 10,
    window_secs: 300,
    max_keys: 10_000,
};

/// An attempt counted as a failure until [`FailureLimiter::release`] takes it back.
#[derive(Debug)]
pub struct Reservation {
    key: String,
    at: u64,
}

/// Sliding-window failure counter keyed by an arbitrary string.
#[derive(Debug)]
pub struct FailureLimiter {
    policy: LimiterPolicy,
    clock: Arc<dyn Clock>,
    failures: Mutex<HashMap<String, VecDeque<u64>>>,
}

impl FailureLimiter {
    /// A limiter with `policy`, reading time from `clock`.
    pub fn new(policy: LimiterPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            policy,
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok(())` when `key` may try again, or `Err(retry_after_secs)` (≥ 1) while it is blocked.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = self.clock.now_unix();
        let mut map = self.lock();
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        Self::expire(times, now, self.policy.window_secs);
        if times.len() < self.policy.max_failures {
            return Ok(());
        }
        // Blocked until enough of the oldest failures leave the window to drop below the limit.
        let idx = times.len() - self.policy.max_failures;
        let until = times[idx].saturating_add(self.policy.window_secs);
        Err(until.saturating_sub(now).max(1))
    }

    /// Counts an attempt of `key` as a failure now, unless `key` is blocked (`Err(retry_after_secs)`).
    pub fn reserve(&self, key: &str) -> Result<Reservation, u64> {
        // Check and record under one lock: a concurrent attempt sees this one.
        let mut map = self.lock();
        let now = self.clock.now_unix();
        if let Some(times) = map.get_mut(key) {
            Self::expire(times, now, self.policy.window_secs);
            if times.len() >= self.policy.max_failures {
                let idx = times.len() - self.policy.max_failures;
                let until = times[idx].saturating_add(self.policy.window_secs);
                return Err(until.saturating_sub(now).max(1));
            }
        }
        self.record_locked(&mut map, key, now);
        Ok(Reservation {
            key: key.to_owned(),
            at: now,
        })
    }

    /// Takes back a reservation: the attempt succeeded.
    pub fn release(&self, reservation: Reservation) {
        let mut map = self.lock();
        if let Some(times) = map.get_mut(&reservation.key) {
            if let Some(i) = times.iter().rposition(|&t| t == reservation.at) {
                times.remove(i);
            }
            if times.is_empty() {
                map.remove(&reservation.key);
            }
        }
    }

    /// Records one failed attempt for `key`.
    pub fn record_failure(&self, key: &str) {
        let now = self.clock.now_unix();
        let mut map = self.lock();
        self.record_locked(&mut map, key, now);
    }

    fn record_locked(&self, map: &mut HashMap<String, VecDeque<u64>>, key: &str, now: u64) {
        let window = self.policy.window_secs;
        if !map.contains_key(key) && map.len() >= self.policy.max_keys {
            map.retain(|_, times| {
                Self::expire(times, now, window);
                !times.is_empty()
            });
            if map.len() >= self.policy.max_keys {
                let stalest = map
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied().unwrap_or(0))
                    .map(|(k, _)| k.clone());
                if let Some(k) = stalest {
                    map.remove(&k);
                }
            }
        }
        let times = map.entry(key.to_owned()).or_default();
        Self::expire(times, now, window);
        times.push_back(now);
        // Keep no more than needed to answer `check`.
        while times.len() > self.policy.max_failures {
            times.pop_front();
        }
    }

    /// Number of keys currently tracked (for tests and metrics).
    pub fn tracked_keys(&self) -> usize {
        self.lock().len()
    }

    fn expire(times: &mut VecDeque<u64>, now: u64, window: u64) {
        while times
            .front()
            .is_some_and(|&t| t.saturating_add(window) <= now)
        {
            times.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<u64>>> {
        // A panic while holding the lock leaves plain counters behind; they are still usable.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::ManualClock;
    use super::*;

    fn limiter(max: usize, window: u64, clock: &Arc<ManualClock>) -> FailureLimiter {
        let policy = LimiterPolicy {
            max_failures: max,
            window_secs: window,
            max_keys: 3,
        };
        FailureLimiter::new(policy, clock.clone())
    }

    #[test]
    fn blocks_after_max_failures_and_unblocks_when_window_slides() {
        let clock = Arc::new(ManualClock::new(1_000));
        let l = limiter(3, 300, &clock);
        for _ in 0..3 {
            assert_eq!(l.check("c"), Ok(()));
            l.record_failure("c");
            clock.advance(10);
        }
        // Failures at 1000, 1010, 1020; now 1030: blocked until 1300.
        assert_eq!(l.check("c"), Err(270));
        clock.set(1_299);
        assert_eq!(l.check("c"), Err(1));
        clock.set(1_300);
        assert_eq!(l.check("c"), Ok(()));
    }

    #[test]
    fn keys_are_independent() {
        let clock = Arc::new(ManualClock::new(0));
        let l = limiter(1, 60, &clock);
        l.record_failure("a");
        assert!(l.check("a").is_err());
        assert_eq!(l.check("b"), Ok(()));
    }

    #[test]
    fn retry_after_is_at_least_one_second() {
        let clock = Arc::new(ManualClock::new(50));
        let l = limiter(1, 0, &clock);
        l.record_failure("a");
        // A zero window never blocks.
        assert_eq!(l.check("a"), Ok(()));
        let l = limiter(1, 1, &clock);
        l.record_failure("a");
        assert_eq!(l.check("a"), Err(1));
    }

    #[test]
    fn tracked_keys_stay_bounded() {
        let clock = Arc::new(ManualClock::new(0));
        let l = limiter(5, 60, &clock);
        for i in 0..20 {
            clock.advance(1);
            l.record_failure(&format!("k{i}"));
        }
        assert!(l.tracked_keys() <= 3);
        // The newest key survived eviction.
        l.record_failure("k19");
        l.record_failure("k19");
        l.record_failure("k19");
        l.record_failure("k19");
        assert!(l.check("k19").is_err());
    }

    #[test]
    fn policies_match_the_documented_numbers() {
        assert_eq!(
            (PER_ADDRESS.max_failures, PER_ADDRESS.window_secs),
            (10, 300)
        );
    }
}
