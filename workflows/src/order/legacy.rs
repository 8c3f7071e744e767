//! What only orders of older workflow versions still do, kept so their histories replay and
//! orders in flight on them finish on the path they started on. New orders
//! ([`baedal_domain::WORKFLOW_VERSION`] 8) never enter it.
//!
//! Serves orders placed with `OrderInput::version` below 8, by what they need:
//! - **before version 3 of the histories** (version 0 without the [`OUTAGE_PROOF`] patch
//!   marker: histories `v1`, `v2`): notifications and projections as local activities that
//!   retry on workflow timers ([`send`], the first branch of [`project`]);
//! - **before workflow version 7** (version 0: histories `v1`–`v6`): the patch marker asked of
//!   the history ([`outage_proof`]); a refund that starts only after the end is projected
//!   ([`refund_after_projection`]); a payment window that restarts on every retry
//!   ([`payment_window`]); a permanent charge error that waits for a retry like any other;
//! - **before workflow version 8** (histories `v1`–`v7`): a change's projection and its
//!   notifications as two activities instead of one `publish` ([`project`]).
//!
//! **When it can go:** once no running order is below version 8, i.e. every order placed
//! before the apis placed version 8 has closed: `temporal workflow list --query
//! 'WorkflowType = "OrderWorkflow" AND ExecutionStatus = "Running" AND StartTime < "<when the
//! last api was upgraded to version 8>"'` lists none (an order older than that which is stuck
//! open shows on ops' stuck list; close it first). Then delete this file, `mod legacy` and the
//! `outage_proof` field; each remaining `legacy::` call is a one-line branch whose other arm
//! stays; drop the `v1`–`v7` histories from the replay test and the `OUTAGE_PROOF` export.
//! Orders of one version can retire before the next: each item says which it serves.

use super::OrderWorkflow;
use crate::options::{self, detached};
use baedal_activities::{NotifyInput, OrderActivities, RefundInput};
use baedal_domain::{OrderStatus, OrderView, Timeouts};
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{LocalActivityOptions, WorkflowContext, WorkflowResult};

/// Patch marker of orders whose notifications and projections survive an outage of any
/// length (a short local try, then a regular activity the server retries). Orders started
/// before it (histories `v1`, `v2`) replay with the old local-activity retries.
pub const OUTAGE_PROOF: &str = "outage-proof-delivery";

/// Orders placed before workflow version 7 (their input has no version: 0).
pub(super) fn before_v7(version: u32) -> bool {
    version < 7
}

/// Orders placed before workflow version 8 (see [`project`]).
pub(super) fn before_v8(version: u32) -> bool {
    version < 8
}

/// Whether the order's notifications and projections are outage-proof ([`OUTAGE_PROOF`]).
/// Orders that carry their version (7 on) are, without a marker; only orders from before the
/// field (version 0) ask their history for it.
pub(super) fn outage_proof(ctx: &WorkflowContext<OrderWorkflow>) -> bool {
    !before_v7(ctx.state(|s| s.input.version)) || ctx.patched(OUTAGE_PROOF)
}

/// Before version 7: the payment attempt's window counted from the latest "unavailable", in
/// full each time (since, from the first: `Timeouts::payment_retry_left`).
pub(super) fn payment_window(timeouts: &Timeouts) -> Duration {
    timeouts.payment_retry_window()
}

/// Before version 8: one change as two activities. Its notifications are queued for the
/// notification branch, then `view` is projected: a first try as a local activity; if the
/// database is down, a regular activity the server retries until it is back. Before the
/// patch marker ([`OUTAGE_PROOF`]), a local activity retried on timers instead.
pub(super) async fn project(
    ctx: &WorkflowContext<OrderWorkflow>,
    view: OrderView,
    new_entries: bool,
) -> WorkflowResult<()> {
    if new_entries {
        ctx.state_mut(|s| {
            let new = s.new_notifications();
            s.outbox.extend(new);
        });
    }
    let (outage_proof, cap) = ctx.state(|s| (s.outage_proof, s.input.timeouts.retry_cap()));
    if !outage_proof {
        ctx.execute_local_activity(OrderActivities::project, view, project_options())
            .await?;
        return Ok(());
    }
    let first = ctx
        .execute_local_activity(OrderActivities::project, view.clone(), options::first_try())
        .await;
    if first.is_err() {
        OrderWorkflow::project_until_done(ctx, view, cap).await;
    }
    Ok(())
}

/// Before the patch marker ([`OUTAGE_PROOF`]): a notification as a local activity whose
/// retries past one second wait on workflow timers.
pub(super) async fn send(
    ctx: &WorkflowContext<OrderWorkflow>,
    n: NotifyInput,
) -> WorkflowResult<()> {
    ctx.execute_local_activity(OrderActivities::notify, n, notify_options())
        .await?;
    Ok(())
}

/// Before version 7: the order's end is projected first, then the refund it owes runs, then
/// the refund is projected (since, both at once: `OrderWorkflow::settle`).
pub(super) async fn refund_after_projection(
    ctx: &WorkflowContext<OrderWorkflow>,
) -> WorkflowResult<OrderStatus> {
    let owes = ctx.state(|s| s.order.owes_refund());
    if owes {
        let (order_id, total) = ctx.state(|s| (s.input.order_id.clone(), s.input.total));
        // Retried until it succeeds: no path ends with money taken and no order.
        let refund = ctx
            .execute_activity(
                OrderActivities::refund,
                RefundInput {
                    order_id,
                    amount: total,
                },
                options::refund(),
            )
            .await?;
        ctx.state_mut(|s| s.order.refunded(refund));
        OrderWorkflow::flush(ctx).await?;
    }
    Ok(OrderWorkflow::close(ctx).await)
}

/// Notifications before the patch marker: local activities whose retries past one second
/// wait on workflow timers.
fn notify_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .timer_backoff_threshold(Duration::from_secs(1))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .build(),
        )
        .cancellation_token(detached())
        .build()
}

/// Projections before the patch marker (see [`notify_options`]).
fn project_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .build(),
        )
        .cancellation_token(detached())
        .build()
}
