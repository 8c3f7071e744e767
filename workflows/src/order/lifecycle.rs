//! The order after the charge: the main loop. Each turn brings the read model up to date,
//! then waits in the order's status for a command, a cancel request or the status's deadline
//! (`domain::timing`), until the order ends; then what is owed is settled.

use super::{OrderWorkflow, legacy, rfc3339};
use crate::notify;
use baedal_domain::{Command, Deadline, Lapse, OrderStatus};
use std::time::Duration;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl OrderWorkflow {
    /// Wait for commands, timers and cancel requests until a terminal status, then settle
    /// what is owed.
    pub(super) async fn lifecycle(ctx: WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let (timeouts, version) = ctx.state(|s| (s.input.timeouts, s.input.version));
        loop {
            // A settled order goes straight to what it owes: its refund starts beside the
            // projection (see [`Self::settle`]), not after it.
            if !legacy::before_v7(version) && ctx.state(|s| s.order.status().is_terminal()) {
                break;
            }
            Self::flush(&ctx).await?;
            let (status, seen, escalations, delivery_late, cancel) = ctx.state(|s| {
                (
                    s.order.status(),
                    s.order.history().len(),
                    s.order.escalations(),
                    s.delivery_late,
                    s.cancel_requested.clone(),
                )
            });
            if status.is_terminal() {
                break;
            }
            if let Some(reason) = cancel {
                Self::cancel_for_engine(&ctx, reason);
                continue;
            }
            let changed =
                move |s: &Self| s.order.history().len() > seen || s.cancel_requested.is_some();
            let Some(deadline) = timeouts.deadline(status, escalations, delivery_late) else {
                Self::wait(&ctx, changed).await;
                continue;
            };
            if Self::condition_or_timeout(&ctx, changed, deadline.after).await {
                Self::lapse(&ctx, deadline);
            }
        }
        if legacy::before_v7(version) {
            return legacy::refund_after_projection(&ctx).await;
        }
        Self::settle(&ctx).await?;
        Ok(Self::close(&ctx).await)
    }

    /// The status's deadline passed with nothing happening: do what it says.
    fn lapse(ctx: &WorkflowContext<Self>, Deadline { after, lapse }: Deadline) {
        let at = rfc3339(ctx.workflow_time());
        ctx.state_mut(|s| match lapse {
            Lapse::StoreTimeout => {
                s.order.apply(&Command::StoreTimeout, at).ok();
            }
            Lapse::Escalate => s.escalate(after),
            Lapse::PickupMissed => s.pickup_missed(after, at),
            Lapse::DeliveryOverdue => s.delivery_overdue(after),
            Lapse::AutoConfirm => {
                s.order.apply(&Command::AutoConfirm, at).ok();
            }
        });
    }

    /// Nobody claimed the delivery in time: widen the riders' search and tell ops.
    fn escalate(&mut self, waited: Duration) {
        if !self.order.escalate() {
            return;
        }
        let o = &self.order;
        self.outbox.push_back(notify::escalated(
            &self.input,
            o.status(),
            o.escalations(),
            o.radius_bonus_km(),
            waited,
        ));
    }

    /// The assigned rider did not pick the food up within `waited`: the delivery goes back on
    /// the board (the transition's notification reaches the riders nearby), and the rider who
    /// held it and ops are told.
    fn pickup_missed(&mut self, waited: Duration, at: String) {
        let Some(rider) = self.order.rider_id().map(str::to_owned) else {
            return;
        };
        if self.order.apply(&Command::PickupTimeout, at).is_err() {
            return;
        }
        let (status, entries) = (self.order.status(), self.order.history().len() as u32);
        self.outbox.push_back(notify::pickup_missed(
            &self.input,
            &rider,
            status,
            entries,
            waited,
        ));
    }

    /// The food was picked up `waited` ago and is not delivered: tell ops, once.
    fn delivery_overdue(&mut self, waited: Duration) {
        self.delivery_late = true;
        let o = &self.order;
        self.outbox.push_back(notify::delivery_late(
            &self.input,
            o.rider_id(),
            o.status(),
            waited,
        ));
    }
}
