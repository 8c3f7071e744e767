//! Shedding at the door: while payment is known to be unavailable, new orders are turned away
//! with `503 payment_unavailable` and `Retry-After` before any workflow starts, so an outage does
//! not flood the engine with orders that cannot be paid.
//!
//! "Known" is learned from answers: a place-order that ends `payment_unavailable` carries the
//! breaker's time until it half-opens; the door sheds until then, then lets exactly one probe
//! through. The probe's answer opens the door again or sheds for another round. Each api process
//! learns on its own, so a fleet lets at most one probe per process through.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A probe that has not answered within this is presumed lost; the next request probes again.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Open,
    Shedding { until: Instant },
    Probing { since: Instant },
}

/// Whether a place-order may go on to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Normal,
    Probe,
}

#[derive(Debug)]
pub struct PaymentDoor {
    state: Mutex<State>,
}

impl Default for PaymentDoor {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::Open),
        }
    }
}

fn secs_until(t: Instant, now: Instant) -> u64 {
    (t.saturating_duration_since(now).as_secs_f64().ceil() as u64).max(1)
}

impl PaymentDoor {
    /// Admit a place-order, or answer how many seconds the caller should wait.
    pub fn admit(&self, now: Instant) -> Result<Admission, u64> {
        let mut s = self.state.lock().expect("door lock");
        match *s {
            State::Open => Ok(Admission::Normal),
            State::Shedding { until } if now < until => Err(secs_until(until, now)),
            State::Probing { since } if now.duration_since(since) < PROBE_TIMEOUT => Err(1),
            State::Shedding { .. } | State::Probing { .. } => {
                *s = State::Probing { since: now };
                Ok(Admission::Probe)
            }
        }
    }

    /// Learn from an admitted place-order's answer: `Some(retry_after)` when payment was
    /// unavailable, `None` when payment answered (approved or declined).
    pub fn record(&self, unavailable_for: Option<u64>, now: Instant) {
        let mut s = self.state.lock().expect("door lock");
        let next = match unavailable_for {
            Some(secs) => State::Shedding {
                until: now + Duration::from_secs(secs.max(1)),
            },
            None => State::Open,
        };
        if next != *s {
            match next {
                State::Open => tracing::info!("payment answers again: the door is open"),
                _ => tracing::warn!(
                    retry_after = unavailable_for,
                    "payment unavailable: shedding new orders"
                ),
            }
        }
        *s = next;
    }

    /// A probe ended without testing payment (bad input, engine error): let the next request
    /// probe instead.
    pub fn release_probe(&self, now: Instant) {
        let mut s = self.state.lock().expect("door lock");
        if matches!(*s, State::Probing { .. }) {
            *s = State::Shedding { until: now };
        }
    }

    /// `open`, `shedding` or `probing`, and seconds until the next probe when shedding.
    pub fn describe(&self, now: Instant) -> (&'static str, u64) {
        match *self.state.lock().expect("door lock") {
            State::Open => ("open", 0),
            State::Shedding { until } if now < until => ("shedding", secs_until(until, now)),
            State::Shedding { .. } => ("shedding", 0),
            State::Probing { .. } => ("probing", 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_until_retry_after_then_lets_one_probe_through() {
        let door = PaymentDoor::default();
        let t0 = Instant::now();
        assert_eq!(door.admit(t0), Ok(Admission::Normal));
        door.record(Some(10), t0);
        assert_eq!(door.admit(t0 + Duration::from_secs(1)), Err(9));
        assert_eq!(door.admit(t0 + Duration::from_millis(9_500)), Err(1));
        // Half-open time: one probe, everyone else still waits.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(door.admit(t1), Ok(Admission::Probe));
        assert_eq!(door.admit(t1), Err(1));
        // The probe succeeded: open for all.
        door.record(None, t1 + Duration::from_millis(50));
        assert_eq!(
            door.admit(t1 + Duration::from_millis(60)),
            Ok(Admission::Normal)
        );
    }

    #[test]
    fn a_failed_probe_sheds_again_and_a_lost_probe_is_replaced() {
        let door = PaymentDoor::default();
        let t0 = Instant::now();
        door.record(Some(2), t0);
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(door.admit(t1), Ok(Admission::Probe));
        door.record(Some(5), t1);
        assert_eq!(door.admit(t1 + Duration::from_secs(1)), Err(4));
        let t2 = t1 + Duration::from_secs(5);
        assert_eq!(door.admit(t2), Ok(Admission::Probe));
        // Never answered: after the probe timeout another request probes.
        assert_eq!(door.admit(t2 + PROBE_TIMEOUT), Ok(Admission::Probe));
        assert_eq!(door.describe(t2 + PROBE_TIMEOUT).0, "probing");
    }
}
