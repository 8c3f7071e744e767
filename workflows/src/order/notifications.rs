//! The notification branch: an outbox of notifications sent one at a time, in order, beside
//! the lifecycle, so a notification outage never holds an order up. A change's notifications
//! usually go out with its projection ([`OrderWorkflow::publish`]); the outbox takes what that
//! did not get through, what waits behind older ones, and the alerts to ops.

use super::{OrderWorkflow, legacy};
use crate::{notify, options};
use baedal_activities::{NotifyInput, OrderActivities};
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl OrderWorkflow {
    /// The notifications of the history entries not yet notified, which count as notified
    /// from now on: the caller sends or queues them.
    pub(super) fn new_notifications(&mut self) -> Vec<NotifyInput> {
        let mut new = Vec::new();
        while (self.notified_seq as usize) < self.order.history().len() {
            let entry = &self.order.history()[self.notified_seq as usize];
            new.push(NotifyInput {
                order_id: self.input.order_id.clone(),
                seq: entry.seq,
                recipients: notify::recipients(&self.input, entry.status, self.order.rider_id()),
                status: entry.status.as_str().to_owned(),
                message: notify::message(&self.input, entry.status),
                store_id: Some(self.input.store_id.clone()),
                order: Some(notify::brief(&self.input, entry.status)),
            });
            self.notified_seq += 1;
        }
        new
    }

    /// A change's notifications to send with its projection: all of them when nothing older
    /// is waiting to go out; otherwise none, and they queue behind the older ones, so an
    /// order's notifications always go out in order.
    pub(super) fn notifications_to_publish(&mut self) -> Vec<NotifyInput> {
        let new = self.new_notifications();
        if self.outbox.is_empty() && !self.sending {
            return new;
        }
        self.outbox.extend(new);
        Vec::new()
    }

    /// Put `notifications` of one change at the front of the outbox, ahead of anything queued
    /// since; `tried`: a `publish` made their first try.
    pub(super) fn hand_over(&mut self, notifications: Vec<NotifyInput>, tried: bool) {
        if tried {
            self.handed_over += notifications.len();
        }
        for n in notifications.into_iter().rev() {
            self.outbox.push_front(n);
        }
    }

    /// Deliver queued notifications one at a time, in order, until the order closes.
    pub(super) async fn deliver_notifications(ctx: WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            Self::wait(&ctx, |s| !s.outbox.is_empty() || s.closing).await;
            let Some((n, tried)) = ctx.state_mut(|s| {
                s.sending = !s.outbox.is_empty();
                let tried = s.handed_over > 0;
                s.handed_over = s.handed_over.saturating_sub(1);
                s.outbox.pop_front().map(|n| (n, tried))
            }) else {
                return Ok(());
            };
            Self::send(&ctx, n, tried).await?;
            ctx.state_mut(|s| s.sending = false);
        }
    }

    /// Send one notification: a first try as a local activity; if the service is down, a
    /// regular activity the server retries until it is through. `tried`: a `publish` already
    /// made the first, so only the regular activity is left. Never fails the order.
    async fn send(ctx: &WorkflowContext<Self>, n: NotifyInput, tried: bool) -> WorkflowResult<()> {
        let (outage_proof, cap) = ctx.state(|s| (s.outage_proof, s.input.timeouts.retry_cap()));
        if !outage_proof {
            return legacy::send(ctx, n).await;
        }
        if !tried {
            let first = ctx
                .execute_local_activity(OrderActivities::notify, n.clone(), options::first_try())
                .await;
            let Err(e) = first else { return Ok(()) };
            if baedal_activities::is_permanent(&e) {
                if !ctx.is_replaying() {
                    tracing::error!(order_id = %n.order_id, seq = n.seq, error = %e, "notification refused for good");
                }
                return Ok(());
            }
        }
        let (order_id, seq) = (n.order_id.clone(), n.seq);
        if let Err(e) = ctx
            .execute_activity(OrderActivities::notify, n, options::until_done(cap))
            .await
            && !ctx.is_replaying()
        {
            tracing::error!(%order_id, seq, error = %e, "notification refused for good");
        }
        Ok(())
    }
}
