//! The end of an order: the refund it owes, and closing once every caller has its answer.

use super::OrderWorkflow;
use crate::{notify, options};
use baedal_activities::{OrderActivities, RefundInput};
use baedal_domain::OrderStatus;
use temporalio_sdk::workflows::join;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl OrderWorkflow {
    /// Settle a closed order: project its end and, when it owes a refund, start the refund at
    /// the same time, so neither waits for the other: a read model that is down holds no
    /// customer's money, and a PSP that is down holds no one's view of the order (the order
    /// shows the refund `pending`, with its attempts, until the PSP confirms it). Once the
    /// money has moved, the customer is told so and the order shows the refund.
    pub(super) async fn settle(ctx: &WorkflowContext<Self>) -> WorkflowResult<()> {
        if !ctx.state(|s| s.order.owes_refund()) {
            return Self::flush(ctx).await;
        }
        let (order_id, total) = ctx.state(|s| (s.input.order_id.clone(), s.input.total));
        let refund = ctx.execute_activity(
            OrderActivities::refund,
            RefundInput {
                order_id,
                amount: total,
            },
            options::refund(),
        );
        // Retried until it succeeds: no path ends with money taken and no order.
        let (refunded, flushed) = join!(refund, Self::flush(ctx));
        flushed?;
        let refund = refunded?;
        ctx.state_mut(|s| {
            if let Some(r) = &refund {
                s.outbox.push_back(notify::refunded(&s.input, r));
            }
            s.order.refunded(refund);
        });
        Self::flush(ctx).await
    }

    /// Let the place update take its answer, then mark the workflow as closing.
    pub(super) async fn close(ctx: &WorkflowContext<Self>) -> OrderStatus {
        Self::wait(ctx, |s| s.inflight_updates == 0).await;
        ctx.state_mut(|s| s.closing = true);
        ctx.state(|s| s.order.status())
    }
}
