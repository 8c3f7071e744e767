//! Activities: every piece of I/O the order workflow needs, and nothing else.
//!
//! Charge and refund (idempotent by order id) and notify (one notification per
//! `(order_id, seq)`) through the services' own typed clients (`baedal-payment-client`,
//! `baedal-notification-client`: the request types are the services', never JSON built here),
//! and the read-model projection (a local activity, guarded by `seq`). Each activity is safe to run more than once: Temporal retries
//! them, and a crash can replay one that already happened. Beside them, the worker's stuck
//! sweep (alerting ops about orders that stopped moving) lives here, as it is the same
//! notification I/O. This crate must not decide order rules (that is `domain` and
//! `workflows`) and must not be called from the api.

pub mod breaker;
pub mod io;
pub mod stuck;

pub use baedal_notification_client::NotificationClient;
pub use baedal_payment_client::PaymentClient;
/// reqwest is built with rustls but no default crypto provider (the Temporal SDK picks ring):
/// install ring once per process before building a client. Idempotent.
pub use baedal_service_client::install_crypto_provider;
pub use breaker::{BreakerSettings, BreakerSnapshot, PaymentBreaker};
pub use io::RefundAnswer;

use baedal_domain::{OrderView, PaymentInfo};
use baedal_readmodel::ReadModel;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// Error type name for an activity failure that must not be retried.
pub const NON_RETRYABLE: &str = "NonRetryable";

/// Whether an activity failed with a refusal that retrying cannot change ([`NON_RETRYABLE`]).
pub fn is_permanent(e: &temporalio_sdk::ActivityExecutionError) -> bool {
    use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
    let mut next = e.failure();
    while let Some(f) = next {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && info.r#type == NON_RETRYABLE
        {
            return true;
        }
        next = f.cause.as_deref();
    }
    false
}

/// A failed call as an activity failure: a permanent refusal (the same request will be
/// refused again) is typed [`NON_RETRYABLE`]; everything else is retried.
fn call_failure(e: io::CallError) -> ActivityError {
    let permanent = e.is_permanent();
    let failure = ApplicationFailure::builder(e.to_string());
    ActivityError::application(if permanent {
        failure
            .type_name(NON_RETRYABLE.to_owned())
            .non_retryable(true)
            .build()
    } else {
        failure.build()
    })
}

/// Charge the customer's card for a new order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeInput {
    pub order_id: String,
    pub amount: i64,
    pub card_token: String,
}

/// A charge always has an answer from the PSP: approved or declined. "Could not reach the PSP"
/// is an activity error instead, retried within the charge budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ChargeOutcome {
    Approved { payment: PaymentInfo },
    Declined { payment: PaymentInfo },
}

/// One change of an order for [`OrderActivities::publish`]: its view, and the notifications
/// of its new history entries (empty when the order's notification branch still has older
/// ones to send: they go out in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishInput {
    pub view: OrderView,
    pub notifications: Vec<NotifyInput>,
}

/// How long [`OrderActivities::publish`] spends on a change's notifications before handing
/// them to the order's notification branch: it holds the answer to the command that made the
/// change, and the local activity's one-second attempt.
pub const INLINE_NOTIFY_BUDGET: std::time::Duration = std::time::Duration::from_millis(400);

/// The most of a `publish` attempt (one second at most: the workflow's `first_try`) that its
/// projection and notifications together may take before the notifications are handed over.
const INLINE_ATTEMPT_BUDGET: std::time::Duration = std::time::Duration::from_millis(800);

/// Give back what an order was charged (or make sure nothing was charged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundInput {
    pub order_id: String,
    pub amount: i64,
}

/// One notification for one order transition: the notification service's request itself, so
/// what a workflow records is exactly what the service is sent. Its serialized form is in
/// every recorded history: change it only in ways old histories still decode (the replay
/// test says).
pub type NotifyInput = baedal_notification_client::NotificationRequest;

/// Configuration and clients the activities share. Built once per worker process.
pub struct OrderActivities {
    pub(crate) payment: PaymentClient,
    pub(crate) notify: NotificationClient,
    pub(crate) breaker: PaymentBreaker,
    pub(crate) read_model: ReadModel,
}

impl OrderActivities {
    /// `breaker` guards charges; keep a clone to watch its state (it shares the circuit).
    pub fn new(
        payment: PaymentClient,
        notify: NotificationClient,
        breaker: PaymentBreaker,
        read_model: ReadModel,
    ) -> Self {
        Self {
            payment,
            notify,
            breaker,
            read_model,
        }
    }
}

/// How long a refund attempt waits to record its progress in the read model: the record is
/// for people watching (the order view, the stuck list, ops' health), so a read model that is
/// slow or down must never hold the refund itself up.
const REFUND_RECORD_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

impl OrderActivities {
    /// Record a refund attempt's outcome in the read model, best effort (see
    /// [`REFUND_RECORD_BUDGET`]); a record that could not be written is logged and skipped.
    async fn record_refund_attempt(&self, input: &RefundInput, attempt: u32, error: Option<&str>) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let write = self.read_model.record_refund_attempt(
            &input.order_id,
            input.amount,
            attempt,
            error,
            &now,
        );
        match tokio::time::timeout(REFUND_RECORD_BUDGET, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(order_id = %input.order_id, error = %e, "refund progress not recorded")
            }
            Err(_) => {
                tracing::warn!(order_id = %input.order_id, "refund progress not recorded in time")
            }
        }
    }
}

#[activities]
impl OrderActivities {
    /// Charge the card. Idempotency key = order id, so a retried or replayed charge moves money
    /// once.
    #[activity]
    pub async fn charge(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ChargeInput,
    ) -> Result<ChargeOutcome, ActivityError> {
        let out = self.breaker.charge(input.clone()).await;
        match &out {
            Ok(o) => tracing::info!(order_id = %input.order_id, outcome = ?o, "charge answered"),
            Err(e) => tracing::warn!(order_id = %input.order_id, error = %e, "charge failed"),
        }
        out.map_err(breaker::ChargeError::into_activity_error)
    }

    /// Refund the order's charge. Idempotency key = `<order_id>:refund`. Answers `None` only
    /// when the PSP holds no succeeded charge for the order (nothing to give back). Any other
    /// refusal (say, "refund exceeds the charge") is alerted and retried until someone fixes
    /// it: a refund owed is never recorded as done without the money moving.
    #[activity]
    pub async fn refund(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RefundInput,
    ) -> Result<Option<PaymentInfo>, ActivityError> {
        let attempt = ctx.info().attempt;
        let answer = io::refund(&self.payment, &input).await;
        let error = match &answer {
            Ok(RefundAnswer::Refunded(p)) => {
                tracing::info!(order_id = %input.order_id, refund = ?p, "refund done");
                None
            }
            Ok(RefundAnswer::NothingCharged) => {
                tracing::info!(order_id = %input.order_id, "no succeeded charge: nothing to refund");
                None
            }
            Err(e) => {
                // A refusal is the PSP's judgement of this refund; its being down (503
                // `unavailable`, no answer) is the breaker's to report, and retried alike.
                if let Some(code) = e.code().filter(|_| e.is_judgement()) {
                    metrics::counter!("baedal_refund_refusals_total", "code" => code.to_owned())
                        .increment(1);
                    tracing::error!(order_id = %input.order_id, code, attempt, error = %e,
                        "the PSP refused a refund that is owed; retrying until it goes through (check the ledger)");
                } else {
                    tracing::warn!(order_id = %input.order_id, attempt, error = %e, "refund failed, will retry");
                }
                metrics::counter!("baedal_refund_failures_total").increment(1);
                Some(e.to_string())
            }
        };
        self.record_refund_attempt(&input, attempt, error.as_deref())
            .await;
        match answer {
            Ok(RefundAnswer::Refunded(p)) => Ok(Some(p)),
            Ok(RefundAnswer::NothingCharged) => Ok(None),
            // Retried whatever the answer: giving up would leave the customer's money taken.
            Err(e) => Err(ApplicationFailure::new(e.to_string()).into()),
        }
    }

    /// Send the notification for one transition; the service dedups by `(order_id, seq)`.
    #[activity]
    pub async fn notify(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: NotifyInput,
    ) -> Result<(), ActivityError> {
        io::notify(&self.notify, &input).await.map_err(|e| {
            tracing::warn!(order_id = %input.order_id, seq = input.seq, error = %e, "notify failed");
            call_failure(e)
        })
    }

    /// Write the order's current view into the read model (run as a local activity).
    #[activity]
    pub async fn project(
        self: Arc<Self>,
        _ctx: ActivityContext,
        view: OrderView,
    ) -> Result<(), ActivityError> {
        self.project_view(&view).await
    }

    /// One change of an order (version 8 on): write its view into the read model, then send
    /// that change's notifications in order, in one local activity, so a change costs the
    /// order's history one marker instead of one per step. The projection must land (an error
    /// here is the activity's); the notifications are tried once each within
    /// [`INLINE_NOTIFY_BUDGET`] and never fail the activity: it answers how many were dealt
    /// with (sent, or refused for good), and the workflow hands the rest to its notification
    /// branch, which retries them until they go through. Safe to repeat: the read model is
    /// fenced by version, the notification service dedups by `(order_id, seq)`.
    #[activity]
    pub async fn publish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PublishInput,
    ) -> Result<u32, ActivityError> {
        let started = tokio::time::Instant::now();
        self.project_view(&input.view).await?;
        // Within the budget, and well within the attempt's second: a slow projection leaves
        // the notifications less time rather than failing the attempt that wrote it.
        let deadline = (tokio::time::Instant::now() + INLINE_NOTIFY_BUDGET)
            .min(started + INLINE_ATTEMPT_BUDGET);
        let mut done = 0;
        for n in &input.notifications {
            match tokio::time::timeout_at(deadline, io::notify(&self.notify, n)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_permanent() => {
                    tracing::error!(order_id = %n.order_id, seq = n.seq, error = %e, "notification refused for good");
                }
                Ok(Err(e)) => {
                    tracing::warn!(order_id = %n.order_id, seq = n.seq, error = %e, "notify failed; the order's notification branch retries it");
                    break;
                }
                Err(_) => {
                    tracing::warn!(order_id = %n.order_id, seq = n.seq, "notify slow; the order's notification branch retries it");
                    break;
                }
            }
            done += 1;
        }
        Ok(done)
    }
}

impl OrderActivities {
    /// Write `view` into the read model; an error when it could not (retried) or when the
    /// row belongs to another run of this order id (permanent).
    async fn project_view(&self, view: &OrderView) -> Result<(), ActivityError> {
        let changed = self.read_model.project(view).await.map_err(|e| {
            tracing::warn!(order_id = %view.id, error = %e, "projection failed, will retry");
            anyhow::anyhow!("read model write failed: {e}")
        })?;
        if !changed
            && self
                .read_model
                .held_by_other_run(view)
                .await
                .map_err(|e| anyhow::anyhow!("read model read failed: {e}"))?
        {
            // Another run of this order id owns the row (its history was deleted and the id
            // started again): never mix the two, never pretend this write landed.
            tracing::error!(order_id = %view.id, created_at = %view.created_at,
                "projection refused: the read model holds another run of this order id");
            metrics::counter!("baedal_projection_other_run_total").increment(1);
            return Err(ActivityError::application(
                ApplicationFailure::builder(format!(
                    "order {} is held in the read model by another run; this run's view (created {}) is refused",
                    view.id, view.created_at
                ))
                .type_name(NON_RETRYABLE.to_owned())
                .non_retryable(true)
                .build(),
            ));
        }
        if changed {
            observe_projection_lag(view);
        }
        tracing::debug!(order_id = %view.id, seq = view.seq, status = %view.status, changed, "projected");
        Ok(())
    }
}

/// Record `baedal_projection_lag_seconds`: from the change's time (`updated_at`, the
/// workflow's clock at the workflow task that made it) to now, when the read model took it.
/// Only a write that changed the row counts, so a retried or replayed projection of a change
/// already there does not; a projection held up by a read-model outage shows its whole wait.
fn observe_projection_lag(view: &OrderView) {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&view.updated_at) {
        let lag = chrono::Utc::now().signed_duration_since(at.with_timezone(&chrono::Utc));
        metrics::histogram!("baedal_projection_lag_seconds")
            .record(lag.num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6);
    }
}
