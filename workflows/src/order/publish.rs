//! After every change: the read model, the search attributes and the change's notifications
//! brought up to date with the state, however many changes happened since the last time.
//! Never fails the order: a read model that is down is waited for by the server's retries.

use super::{OrderWorkflow, legacy};
use crate::options;
use baedal_activities::{NotifyInput, OrderActivities, PublishInput};
use baedal_domain::OrderView;
use std::time::Duration;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

impl OrderWorkflow {
    /// Bring the read model, the search attributes and the notification outbox up to date
    /// with the state.
    pub(super) async fn flush(ctx: &WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            let (view, target, projected, new_entries) = ctx.state(|s| {
                (
                    s.view(),
                    s.order.version(),
                    s.projected_version,
                    (s.notified_seq as usize) < s.order.history().len(),
                )
            });
            if target <= projected {
                return Ok(());
            }
            if new_entries {
                if !ctx.is_replaying() {
                    // Logging is no workflow command, so it is safe here; skipping it on replay
                    // keeps each transition logged once.
                    tracing::info!(order_id = %view.id, seq = view.seq, status = %view.status, "order transition");
                }
                Self::upsert_search_attributes(ctx);
            }
            if legacy::before_v8(ctx.state(|s| s.input.version)) {
                legacy::project(ctx, view, new_entries).await?;
            } else {
                // The change's notifications go with its projection.
                let notifications = ctx.state_mut(|s| s.notifications_to_publish());
                Self::publish(ctx, view, notifications).await?;
            }
            ctx.state_mut(|s| s.projected_version = s.projected_version.max(target));
        }
    }

    /// One change: project `view` and send `notifications` in one local activity (one marker
    /// in history where a projection and a notification would cost one each). If the read
    /// model is down, the projection goes on as a regular activity ([`Self::project_until_done`]);
    /// whatever notification the first try did not get through goes to the notification
    /// branch, ahead of anything queued since, and is retried there until it does.
    async fn publish(
        ctx: &WorkflowContext<Self>,
        view: OrderView,
        notifications: Vec<NotifyInput>,
    ) -> WorkflowResult<()> {
        let cap = ctx.state(|s| s.input.timeouts.retry_cap());
        let input = PublishInput {
            view: view.clone(),
            notifications: notifications.clone(),
        };
        let first = ctx
            .execute_local_activity(OrderActivities::publish, input, options::first_try())
            .await;
        match first {
            Ok(done) => {
                // The rest were tried (or the service proved slow or down): the long way.
                let rest: Vec<_> = notifications.into_iter().skip(done as usize).collect();
                ctx.state_mut(|s| s.hand_over(rest, true));
            }
            Err(_) => {
                // The read model is down: the notifications go out now, from the branch,
                // while the projection waits for it.
                ctx.state_mut(|s| s.hand_over(notifications, false));
                Self::project_until_done(ctx, view, cap).await;
            }
        }
        Ok(())
    }

    /// After a failed first try: project `view` by a regular activity the server retries
    /// until the read model takes it (or refuses it for good, which is logged).
    pub(super) async fn project_until_done(
        ctx: &WorkflowContext<Self>,
        view: OrderView,
        cap: Duration,
    ) {
        if let Err(e) = ctx
            .execute_activity(OrderActivities::project, view, options::until_done(cap))
            .await
            && !ctx.is_replaying()
        {
            tracing::error!(error = %e, "projection refused for good; the read model misses this change");
        }
    }
}
