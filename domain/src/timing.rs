//! How long an order may wait, and how long its I/O may take: the timers and retry budgets
//! the workflow runs, as pure data beside the command table.
//!
//! Two kinds live here. The *deadlines* of the order's statuses ([`Timeouts::deadline`]): how
//! long it may sit in a status before one of its own timers moves it (the store's answer, a
//! rider's claim, pickup and delivery, the customer's confirmation), and what that timer then
//! does ([`Lapse`]). The durations come from the order's [`Timeouts`], fixed when it was
//! placed, so a configuration change never alters the timers of orders in flight. And the
//! *retry budgets* of the workflow's I/O ([`Retry`]): how long the charge, a refund, a
//! projection or a notification may take and how it backs off, which the workflow turns into
//! Temporal's activity options.
//!
//! Written once here so that the workflow only asks "what is this status's deadline" and never
//! spells a duration itself, and so that the table is tested without a Temporal server.

use crate::order::Timeouts;
use crate::status::OrderStatus;
use std::time::Duration;

/// How far each unanswered rider-claim timer widens the riders' search, and how often.
pub const RADIUS_STEP_KM: f64 = 2.0;
pub const MAX_ESCALATIONS: u32 = 3;

/// How long to ask a customer to wait when payment is unreachable and the breaker gave no time.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// The shortest `retry_cap` an order runs with, whatever it was placed with: a cap of zero
/// would retry a failing service without pause.
pub const MIN_RETRY_CAP: Duration = Duration::from_millis(100);

/// What one of the order's timers does when its status's deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// `placed`: the store did not answer. The order is rejected (`Command::StoreTimeout`) and
    /// refunded.
    StoreTimeout,
    /// `ready_for_pickup`: nobody claimed the delivery. The riders' search widens by
    /// [`RADIUS_STEP_KM`] and ops are told, at most [`MAX_ESCALATIONS`] times.
    Escalate,
    /// `rider_assigned`: the rider did not pick the food up. The delivery goes back on the
    /// board (`Command::PickupTimeout`); that rider and ops are told.
    PickupMissed,
    /// `picked_up`: the food is not at the door yet. Ops are alerted, once per order; the
    /// order stays as it is.
    DeliveryOverdue,
    /// `delivered`: nobody confirmed. The order completes (`Command::AutoConfirm`).
    AutoConfirm,
}

/// A status's deadline: how long the order may wait in it, and what happens then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub after: Duration,
    pub lapse: Lapse,
}

impl Timeouts {
    /// The deadline of an order in `status` that has widened its search `escalations` times and
    /// has (`delivery_alerted`) or has not yet alerted ops to a late delivery. `None`: the
    /// order waits for a command only (cooking, say: ops see it on the stuck list).
    ///
    /// Orders placed before riders had deadlines carry none (`pickup_deadline_ms`,
    /// `delivery_deadline_ms` are `None`) and run no such timer, so their histories replay.
    pub fn deadline(
        &self,
        status: OrderStatus,
        escalations: u32,
        delivery_alerted: bool,
    ) -> Option<Deadline> {
        let (ms, lapse) = match status {
            OrderStatus::Placed => (Some(self.store_accept_ms), Lapse::StoreTimeout),
            OrderStatus::ReadyForPickup if escalations < MAX_ESCALATIONS => {
                (Some(self.rider_claim_ms), Lapse::Escalate)
            }
            OrderStatus::RiderAssigned => (self.pickup_deadline_ms, Lapse::PickupMissed),
            OrderStatus::PickedUp if !delivery_alerted => {
                (self.delivery_deadline_ms, Lapse::DeliveryOverdue)
            }
            OrderStatus::Delivered => (Some(self.auto_confirm_ms), Lapse::AutoConfirm),
            _ => return None,
        };
        ms.map(|ms| Deadline {
            after: Duration::from_millis(ms),
            lapse,
        })
    }

    /// The longest wait between two retries of a failing projection or notification
    /// ([`Retry::until_done`]), never below [`MIN_RETRY_CAP`].
    pub fn retry_cap(&self) -> Duration {
        Duration::from_millis(self.retry_cap_ms).max(MIN_RETRY_CAP)
    }

    /// How long a payment attempt that found payment unavailable waits for the customer's
    /// retry, in all.
    pub fn payment_retry_window(&self) -> Duration {
        Duration::from_millis(self.payment_retry_ms)
    }

    /// What is left of [`Self::payment_retry_window`] `since_first` after the attempt's first
    /// "unavailable": a retry that finds payment down again does not restart the window, so
    /// an attempt ends in time however often it is retried. Never zero (a zero timer would
    /// not be a wait at all): at least a millisecond.
    pub fn payment_retry_left(&self, since_first: Duration) -> Duration {
        self.payment_retry_window()
            .saturating_sub(since_first)
            .max(Duration::from_millis(1))
    }
}

/// How one kind of the workflow's I/O is tried and retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// The longest one try may take.
    pub start_to_close: Duration,
    /// The longest all tries together may take, where that is bounded by time.
    pub schedule_to_close: Option<Duration>,
    /// The wait before the first retry, multiplied by `backoff` for each next one up to
    /// `max_interval`.
    pub initial_interval: Duration,
    pub backoff: f64,
    pub max_interval: Duration,
    /// How many tries in all; `None`: until it succeeds.
    pub max_attempts: Option<u32>,
    /// A permanent refusal (the activities' non-retryable failure) ends the tries at once.
    pub stops_on_permanent: bool,
}

// A refund owed never gives up, whatever the PSP answers.
const _: () = assert!(!Retry::REFUND.stops_on_permanent);

impl Retry {
    /// The charge, while the customer waits for the answer: a few quick retries of transient
    /// failures within five seconds, then the order is not established and the api answers
    /// 503.
    pub const CHARGE: Retry = Retry {
        start_to_close: Duration::from_secs(3),
        schedule_to_close: Some(Duration::from_secs(5)),
        initial_interval: Duration::from_millis(200),
        backoff: 2.0,
        max_interval: Duration::from_secs(1),
        max_attempts: None,
        stops_on_permanent: true,
    };

    /// A refund that is owed: retried until it succeeds (no attempt limit, no refusal ends
    /// it), backing off to one try a minute while the PSP is down. No path ends with money
    /// taken and no order.
    pub const REFUND: Retry = Retry {
        start_to_close: Duration::from_secs(10),
        schedule_to_close: None,
        initial_interval: Duration::from_millis(500),
        backoff: 2.0,
        max_interval: Duration::from_secs(60),
        max_attempts: None,
        stops_on_permanent: false,
    };

    /// The first try of a projection or notification. It holds the workflow task, and with
    /// it the answers to the order's commands, so it is kept short: two attempts of at most a
    /// second each, then [`Retry::until_done`] takes over. Bounded by attempts, not by the
    /// schedule-to-close: the SDK core (0.10) gives each local retry a fresh schedule-to-close,
    /// so that alone never ends (measured: a first try with a 3 s schedule-to-close retried
    /// for the whole of a 30 s outage).
    pub const FIRST_TRY: Retry = Retry {
        start_to_close: Duration::from_secs(1),
        schedule_to_close: Some(Duration::from_secs(3)),
        initial_interval: Duration::from_millis(200),
        backoff: 2.0,
        max_interval: Duration::from_secs(1),
        max_attempts: Some(2),
        stops_on_permanent: true,
    };

    /// After a failed first try: retried until it succeeds, backing off to one try per `cap`
    /// ([`Timeouts::retry_cap`]).
    pub fn until_done(cap: Duration) -> Retry {
        Retry {
            start_to_close: Duration::from_secs(10),
            schedule_to_close: None,
            initial_interval: Duration::from_millis(500).min(cap),
            backoff: 2.0,
            max_interval: cap,
            max_attempts: None,
            stops_on_permanent: true,
        }
    }

    /// The longest the tries may take if every one fails by timing out, counting the backoff
    /// between them; `None` when they go on until success.
    pub fn worst_case(&self) -> Option<Duration> {
        let attempts = self.max_attempts?;
        let mut total = Duration::ZERO;
        let mut interval = self.initial_interval;
        for attempt in 0..attempts {
            if attempt > 0 {
                total += interval;
                interval = interval.mul_f64(self.backoff).min(self.max_interval);
            }
            total += self.start_to_close;
        }
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as S;

    fn timeouts() -> Timeouts {
        Timeouts {
            store_accept_ms: 1_000,
            rider_claim_ms: 2_000,
            auto_confirm_ms: 3_000,
            payment_retry_ms: 10_000,
            retry_cap_ms: 60_000,
            pickup_deadline_ms: Some(4_000),
            delivery_deadline_ms: Some(5_000),
        }
    }

    fn deadline(t: &Timeouts, status: OrderStatus) -> Option<(u64, Lapse)> {
        t.deadline(status, 0, false)
            .map(|d| (d.after.as_millis() as u64, d.lapse))
    }

    #[test]
    fn each_waiting_status_has_its_own_timer() {
        let t = timeouts();
        assert_eq!(deadline(&t, S::Placed), Some((1_000, Lapse::StoreTimeout)));
        assert_eq!(
            deadline(&t, S::ReadyForPickup),
            Some((2_000, Lapse::Escalate))
        );
        assert_eq!(
            deadline(&t, S::RiderAssigned),
            Some((4_000, Lapse::PickupMissed))
        );
        assert_eq!(
            deadline(&t, S::PickedUp),
            Some((5_000, Lapse::DeliveryOverdue))
        );
        assert_eq!(
            deadline(&t, S::Delivered),
            Some((3_000, Lapse::AutoConfirm))
        );
    }

    #[test]
    fn the_kitchen_and_ended_orders_wait_for_commands_only() {
        let t = timeouts();
        for s in [
            S::Accepted,
            S::Cooking,
            S::Completed,
            S::Rejected,
            S::Canceled,
            S::PaymentFailed,
        ] {
            assert_eq!(t.deadline(s, 0, false), None, "{s:?}");
        }
    }

    #[test]
    fn the_search_widens_a_bounded_number_of_times() {
        let t = timeouts();
        for n in 0..MAX_ESCALATIONS {
            assert!(t.deadline(S::ReadyForPickup, n, false).is_some());
        }
        assert_eq!(t.deadline(S::ReadyForPickup, MAX_ESCALATIONS, false), None);
    }

    #[test]
    fn a_late_delivery_alerts_once_and_orders_without_rider_deadlines_run_none() {
        let t = timeouts();
        assert_eq!(t.deadline(S::PickedUp, 0, true), None);
        let old = Timeouts {
            pickup_deadline_ms: None,
            delivery_deadline_ms: None,
            ..t
        };
        assert_eq!(old.deadline(S::RiderAssigned, 0, false), None);
        assert_eq!(old.deadline(S::PickedUp, 0, false), None);
    }

    #[test]
    fn the_retry_cap_has_a_floor() {
        let t = timeouts();
        assert_eq!(t.retry_cap(), Duration::from_secs(60));
        let zero = Timeouts {
            retry_cap_ms: 0,
            ..t
        };
        assert_eq!(zero.retry_cap(), MIN_RETRY_CAP);
    }

    #[test]
    fn the_payment_window_counts_from_the_first_unavailable_and_never_reaches_zero() {
        let t = timeouts();
        assert_eq!(
            t.payment_retry_left(Duration::ZERO),
            t.payment_retry_window()
        );
        assert_eq!(
            t.payment_retry_left(Duration::from_secs(4)),
            Duration::from_secs(6)
        );
        assert_eq!(
            t.payment_retry_left(Duration::from_secs(60)),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn a_first_try_holds_the_workflow_task_a_few_seconds_at_most() {
        let worst = Retry::FIRST_TRY.worst_case().unwrap();
        assert_eq!(worst, Duration::from_millis(2_200));
        assert!(worst <= Retry::FIRST_TRY.schedule_to_close.unwrap());
    }

    #[test]
    fn owed_money_and_failing_deliveries_are_retried_until_done() {
        assert_eq!(Retry::REFUND.worst_case(), None);
        let cap = Duration::from_millis(100);
        let r = Retry::until_done(cap);
        assert_eq!(r.worst_case(), None);
        assert!(r.initial_interval <= cap && r.max_interval == cap);
    }

    #[test]
    fn the_customer_waits_on_the_charge_a_few_seconds_at_most() {
        let c = Retry::CHARGE;
        assert!(c.start_to_close <= c.schedule_to_close.unwrap());
        assert_eq!(c.schedule_to_close, Some(Duration::from_secs(5)));
    }
}
