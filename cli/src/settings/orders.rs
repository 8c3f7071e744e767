//! The timers and windows orders run with.

use baedal_domain::Timeouts;
use clap::Args;
use std::time::Duration;

/// The timers new orders are placed with (fixed in each order's input).
#[derive(Debug, Clone, Args)]
pub struct OrderTimers {
    /// Store does not answer within this → auto-reject and refund.
    #[arg(long, env = "BAEDAL_STORE_ACCEPT_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub store_accept_timeout: Duration,
    /// No rider claims within this → widen the search radius and notify ops.
    #[arg(long, env = "BAEDAL_RIDER_CLAIM_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub rider_claim_timeout: Duration,
    /// Delivered but not confirmed within this → complete automatically.
    #[arg(long, env = "BAEDAL_AUTO_CONFIRM_AFTER", default_value = "30m", value_parser = humantime::parse_duration)]
    pub auto_confirm_after: Duration,
    /// A rider who claimed a delivery and has not picked it up within this loses it: it goes
    /// back on the board, and the rider and ops are told.
    #[arg(long, env = "BAEDAL_PICKUP_DEADLINE", default_value = "15m", value_parser = humantime::parse_duration)]
    pub pickup_deadline: Duration,
    /// Food picked up and not delivered within this → ops are alerted (once per order).
    #[arg(long, env = "BAEDAL_DELIVERY_DEADLINE", default_value = "60m", value_parser = humantime::parse_duration)]
    pub delivery_deadline: Duration,
    /// A place-order whose payment was unavailable can be retried with the same
    /// Idempotency-Key for this long; then the attempt expires.
    #[arg(long, env = "BAEDAL_PAYMENT_RETRY_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub payment_retry_window: Duration,
    /// The longest wait between two retries of a failing notification or projection (the
    /// notification service or the read model is down). Those retries are the engine's and
    /// add nothing to an order's history.
    #[arg(long, env = "BAEDAL_RETRY_CAP", default_value = "60s", value_parser = humantime::parse_duration)]
    pub retry_cap: Duration,
}

impl OrderTimers {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            store_accept_ms: self.store_accept_timeout.as_millis() as u64,
            rider_claim_ms: self.rider_claim_timeout.as_millis() as u64,
            auto_confirm_ms: self.auto_confirm_after.as_millis() as u64,
            payment_retry_ms: self.payment_retry_window.as_millis() as u64,
            retry_cap_ms: self.retry_cap.as_millis() as u64,
            pickup_deadline_ms: Some(self.pickup_deadline.as_millis() as u64),
            delivery_deadline_ms: Some(self.delivery_deadline.as_millis() as u64),
        }
    }
}

/// How long a place-order's Idempotency-Key holds.
#[derive(Debug, Clone, Args)]
pub struct Idempotency {
    /// A place-order's Idempotency-Key returns the same order for this long after its first
    /// use, and is refused (422) after it. The dev server keeps closed workflows longer.
    #[arg(long, env = "BAEDAL_IDEMPOTENCY_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_window: Duration,
}

/// When an open order counts as stuck.
#[derive(Debug, Clone, Args)]
pub struct Stuck {
    /// An open order that has not moved for this long is listed at /v1/ops/orders/stuck and
    /// alerted to ops once.
    #[arg(long, env = "BAEDAL_STUCK_AFTER", default_value = "45m", value_parser = humantime::parse_duration)]
    pub stuck_after: Duration,
}
