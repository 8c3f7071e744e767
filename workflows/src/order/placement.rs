//! Placement: the charge that establishes the order, before anyone else hears of it. While
//! payment is unavailable the attempt stays open for the customer's retry (same
//! Idempotency-Key, same body), which charges again; the PSP's idempotency by order id makes a
//! charge that did land earlier come back as approved, never twice. Nobody retrying in time
//! (or a cancel request) expires the attempt, and whatever may have been charged is refunded.

use super::{OrderWorkflow, legacy, rfc3339};
use crate::options;
use baedal_activities::{ChargeInput, ChargeOutcome, OrderActivities, RefundInput, breaker};
use baedal_domain::{
    ChargeResult, OrderInput, OrderStatus, Placement, timing::DEFAULT_RETRY_AFTER_SECS,
};
use std::time::SystemTime;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl OrderWorkflow {
    /// Charge until the order is established (answers `None`), or end the attempt (answers
    /// how the workflow closes): declined, refused, or unavailable and not retried in time.
    pub(super) async fn charge_until_placed(
        ctx: &WorkflowContext<Self>,
    ) -> Option<WorkflowResult<OrderStatus>> {
        let input = ctx.state(|s| s.input.clone());
        let mut first_unavailable: Option<SystemTime> = None;
        loop {
            let result = Self::charge(ctx, &input).await;
            let at = rfc3339(ctx.workflow_time());
            ctx.state_mut(|s| s.order.charge_answered(result, at))
                .expect("a charge in flight takes its answer");
            match ctx.state(|s| s.order.placement().clone()) {
                Placement::Established => return None,
                Placement::Declined | Placement::Refused { .. } => {
                    Self::upsert_search_attributes(ctx);
                    return Some(Ok(Self::close(ctx).await));
                }
                _ => {}
            }
            // Unavailable: wait for the customer's retry, a cancel, or the window to pass.
            Self::upsert_search_attributes(ctx);
            let now = ctx.workflow_time().unwrap_or(SystemTime::UNIX_EPOCH);
            let first = *first_unavailable.get_or_insert(now);
            let window = if legacy::before_v7(input.version) {
                legacy::payment_window(&input.timeouts)
            } else {
                let since_first = now.duration_since(first).unwrap_or_default();
                input.timeouts.payment_retry_left(since_first)
            };
            let retried_or_canceled = |s: &Self| {
                *s.order.placement() == Placement::Charging || s.cancel_requested.is_some()
            };
            let timed_out = Self::condition_or_timeout(ctx, retried_or_canceled, window).await;
            if !timed_out && ctx.state(|s| s.cancel_requested.is_none()) {
                continue;
            }
            return Some(Self::expire_attempt(ctx, &input).await);
        }
    }

    /// One charge, and what the PSP's answer (or its silence) means for the attempt.
    async fn charge(ctx: &WorkflowContext<Self>, input: &OrderInput) -> ChargeResult {
        let charged = ctx
            .execute_local_activity(
                OrderActivities::charge,
                ChargeInput {
                    order_id: input.order_id.clone(),
                    amount: input.total,
                    card_token: input.card_token.clone(),
                },
                options::charge(),
            )
            .await;
        match charged {
            Ok(ChargeOutcome::Approved { payment }) => ChargeResult::Approved(payment),
            Ok(ChargeOutcome::Declined { .. }) => ChargeResult::Declined,
            // A record that is not this order's money (refunded, voided, another amount or
            // card) ends the attempt with nothing charged.
            Err(e) if !legacy::before_v7(input.version) && baedal_activities::is_permanent(&e) => {
                ChargeResult::Refused {
                    message: refusal_message(&e),
                }
            }
            Err(e) => ChargeResult::Unavailable {
                retry_after_secs: breaker::retry_after(&e)
                    .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                    .max(1),
            },
        }
    }

    /// The attempt ends unpaid. The charge may have landed after we stopped waiting for it,
    /// so make sure no money stays taken for an order that does not exist.
    async fn expire_attempt(
        ctx: &WorkflowContext<Self>,
        input: &OrderInput,
    ) -> WorkflowResult<OrderStatus> {
        ctx.state_mut(|s| {
            s.canceled_by_engine = s.cancel_requested.is_some();
            s.order.expire()
        })
        .expect("an unavailable attempt expires");
        Self::wait(ctx, |s| s.inflight_updates == 0).await;
        let refund = ctx
            .execute_activity(
                OrderActivities::refund,
                RefundInput {
                    order_id: input.order_id.clone(),
                    amount: input.total,
                },
                options::refund(),
            )
            .await;
        match refund {
            Ok(r) => {
                ctx.state_mut(|s| s.order.refunded(r));
                Ok(Self::close(ctx).await)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The message of a permanent charge failure, as the PSP's refusal explains it (the
/// innermost failure's message).
fn refusal_message(e: &temporalio_sdk::ActivityExecutionError) -> String {
    let mut next = e.failure();
    let mut message = String::from("payment refused this charge");
    while let Some(f) = next {
        if !f.message.is_empty() {
            message = f.message.clone();
        }
        next = f.cause.as_deref();
    }
    message
}
