//! The gate in front of every password check (the token endpoint's client secrets, Basic mode's passwords).
//!
//! Owns: [`PasswordGate`], [`Admission`], [`GateRefusal`]. Reads no configuration: its numbers are the
//! failure policies of `limiter` and the number of CPU cores.
//!
//! An argon2id check costs 19 MiB and tens of milliseconds, so unbounded checks are a way to exhaust memory
//! and CPU without credentials. The gate therefore:
//! - admits at most one check per CPU core at a time; beyond that a caller is refused at once (`Busy`, answered
//!   503 with `Retry-After`), so memory stays bounded at `cores × 19 MiB` however many requests arrive;
//! - counts an attempt as a failure *before* it is checked (a reservation) and takes the count back when the
//!   secret was right, so concurrent guesses cannot all slip past a limit that is checked before and
//!   recorded after the slow check;
//! - limits failures per remote address, never per client: a correct secret is never refused because others
//!   guessed wrong elsewhere. Behind a reverse proxy the address is the one the proxy vouches for
//!   (`server.trusted_proxies`), or every caller would share the proxy's.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::clock::Clock;
use super::limiter::{FailureLimiter, PER_ADDRESS, Reservation};

/// Why the gate would not let a check happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateRefusal {
    /// Too many recent failures from this address or pair; retry after so many seconds.
    SlowDown(u64),
    /// Every check slot is taken right now; retry shortly.
    Busy,
}

/// Bounds password checks: concurrency, and failures per address.
#[derive(Debug)]
pub struct PasswordGate {
    slots: Arc<Semaphore>,
    per_address: FailureLimiter,
}

/// Permission for one password check. Report the outcome with [`Admission::succeeded`]; dropped without
/// it, the attempt stays counted as a failure.
#[derive(Debug)]
pub struct Admission<'a> {
    gate: &'a PasswordGate,
    address: Option<Reservation>,
    _slot: OwnedSemaphorePermit,
}

impl PasswordGate {
    /// A gate with one check slot per available CPU core.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_slots(cores, clock)
    }

    /// A gate with `slots` concurrent checks.
    pub fn with_slots(slots: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            per_address: FailureLimiter::new(PER_ADDRESS, clock),
        }
    }

    /// Reserves an attempt from `address` (a limiter key, see [`address_key`]) and takes a check slot;
    /// nothing is reserved when refused.
    pub fn admit(&self, address: Option<&str>) -> Result<Admission<'_>, GateRefusal> {
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| GateRefusal::Busy)?;
        let address = match address {
            Some(a) => Some(self.per_address.reserve(a).map_err(GateRefusal::SlowDown)?),
            None => None,
        };
        Ok(Admission {
            gate: self,
            address,
            _slot: slot,
        })
    }
}

impl PasswordGate {
    /// Whether every check slot is taken right now (a cheap test before queueing blocking work).
    pub fn is_busy(&self) -> bool {
        self.slots.available_permits() == 0
    }
}

impl Admission<'_> {
    /// The secret was right: the attempt does not count as a failure.
    pub fn succeeded(mut self) {
        if let Some(r) = self.address.take() {
            self.gate.per_address.release(r);
        }
    }
}

/// The limiter key of a peer: the IPv4 address, or the IPv6 /64 prefix (one subscriber usually holds a whole
/// /64, so per-/128 counting would be trivial to dodge).
pub fn address_key(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::ManualClock;
    use super::*;

    fn gate(slots: usize) -> PasswordGate {
        PasswordGate::with_slots(slots, Arc::new(ManualClock::new(1_000)))
    }

    #[test]
    fn concurrent_attempts_beyond_the_slots_are_refused_at_once() {
        let g = gate(2);
        let a = g.admit(Some("10.0.0.1")).expect("first");
        let b = g.admit(Some("10.0.0.2")).expect("second");
        assert_eq!(g.admit(Some("10.0.0.3")).err(), Some(GateRefusal::Busy));
        drop(a);
        assert!(g.admit(Some("10.0.0.3")).is_ok());
        drop(b);
    }

    #[test]
    fn reservations_count_before_the_check_so_a_burst_cannot_pass_the_limit() {
        let g = gate(64);
        // Held at once, as concurrent requests would: only the limit's worth gets in.
        let admitted: Vec<_> = (0..30)
            .filter_map(|_| g.admit(Some("10.0.0.9")).ok())
            .collect();
        assert_eq!(admitted.len(), PER_ADDRESS.max_failures);
    }

    #[test]
    fn a_right_secret_takes_its_reservation_back_and_others_failing_do_not_block_it() {
        let g = gate(4);
        for _ in 0..100 {
            // Failures from everywhere against the same client.
            for n in 0..3 {
                drop(g.admit(Some(&format!("192.0.2.{n}"))));
            }
        }
        // The real upstream, from its own address, still gets a check.
        let ok = g.admit(Some("198.51.100.7")).expect("not locked out");
        ok.succeeded();
        for _ in 0..50 {
            g.admit(Some("198.51.100.7"))
                .expect("successes never count")
                .succeeded();
        }
    }
}
