//! The cancel watcher: a cancel request from Temporal (the Web UI's button, `temporal workflow
//! cancel`) becomes a cancel of the order, handled like an ops cancel (refund, projection and
//! notification before the workflow closes), instead of the SDK cancelling the order's timers
//! and activities under it.

use super::{OrderWorkflow, rfc3339};
use crate::options;
use baedal_domain::Command;
use temporalio_sdk::WorkflowContext;
use temporalio_sdk::workflows::select;

impl OrderWorkflow {
    /// Turn a cancel request into state the order's waits look at. Ends when the order closes.
    pub(super) async fn watch_cancel(ctx: WorkflowContext<Self>) {
        let mut closing =
            Box::pin(ctx.wait_condition_with_options(|s: &Self| s.closing, options::wait()));
        let mut requested = Box::pin(ctx.cancelled());
        select! {
            reason = requested => {
                let reason = reason.unwrap_or_else(|| "no reason given".to_owned());
                if !ctx.is_replaying() {
                    tracing::warn!(order_id = %ctx.state(|s| s.input.order_id.clone()), %reason,
                        "Temporal was asked to cancel this order: canceling it with a refund");
                }
                ctx.state_mut(|s| s.cancel_requested = Some(reason));
            }
            _ = closing => {}
        }
    }

    /// The lifecycle saw the request: cancel the open order, and close the workflow as
    /// canceled once what is owed is settled.
    pub(super) fn cancel_for_engine(ctx: &WorkflowContext<Self>, reason: String) {
        let at = rfc3339(ctx.workflow_time());
        ctx.state_mut(|s| {
            s.canceled_by_engine = true;
            s.order.apply(&Command::EngineCancel { reason }, at)
        })
        .expect("an open order can always be canceled");
    }
}
