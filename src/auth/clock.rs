//! Time source for the auth module, injected so tests can move time by hand.
//!
//! Owns: the [`Clock`] trait, the real [`SystemClock`] and the test/operator [`ManualClock`].
//! Reads no configuration keys.
//!
//! Seconds since the Unix epoch are enough everywhere here: JWT `exp`/`iat`/`nbf` are NumericDate
//! seconds (RFC 7519 §2), and `Retry-After` is in whole seconds (RFC 9110 §10.2.3).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_unix(&self) -> u64;
}

/// The system's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        // A clock before 1970 is a broken host; 0 then makes every token look expired, which fails closed.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests (including the lead's integration tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `start` (Unix seconds).
    pub fn new(start: u64) -> Self {
        Self(AtomicU64::new(start))
    }

    /// Moves the clock to `now` (Unix seconds).
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now_unix(), 100);
        clock.advance(5);
        assert_eq!(clock.now_unix(), 105);
        clock.set(7);
        assert_eq!(clock.now_unix(), 7);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_unix() > 1_577_836_800);
    }
}
