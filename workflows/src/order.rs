//! `OrderWorkflow`: its state, its updates and queries, and the order from top to bottom.
//!
//! The order's rules live in `domain::OrderState`, its timers in `domain::timing`; this module
//! only drives them. Update handlers change the state and then wait until the run loop has
//! projected that change, so a caller that gets 200 reads its own write from the read model.
//! All side effects (projection, search attributes, notifications, refunds) happen in the run
//! loop, driven by the state rather than by "the next thing happened": several updates can
//! land in one workflow task, and each transition still gets its own history entry,
//! projection and notification.
//!
//! Three branches run side by side: the order itself (charge, then commands and timers, then
//! what is owed), the notifications (sent one by one, in order, never holding the order up),
//! and a watcher that turns a cancel request from Temporal into a cancel of the order. Since
//! workflow version 8 a change's notifications usually go out with its projection, in one
//! local activity (one history marker instead of two); only what that first try did not get
//! through within its short budget, and alerts to ops, wait in the notification branch.
//!
//! The steps, in the order an order meets them: [`placement`] (the charge, and the payment
//! attempt while payment is unavailable), [`lifecycle`] (commands, deadlines), [`settle`]
//! (the refund owed, and closing), beside them [`notifications`] and [`cancel`] (the watcher);
//! after every change [`publish`] (read model, notifications) and [`search`] (search
//! attributes). [`legacy`] holds what only orders of older workflow versions still do.

mod cancel;
mod legacy;
mod lifecycle;
mod notifications;
mod placement;
mod publish;
mod search;
mod settle;
mod updates;
mod view;

pub use legacy::OUTAGE_PROOF;
pub use search::{ORDER_STATUS, start_search_attributes};
pub use updates::{CommandRequest, CommandUpdate, PlaceRequest};

use crate::options;
use crate::refusal::refused;
use baedal_activities::NotifyInput;
use baedal_domain::{
    Action, OrderInput, OrderState, OrderStatus, OrderView, PlaceFailure, PlaceOutcome, Refusal,
    timing::DEFAULT_RETRY_AFTER_SECS,
};
use std::collections::VecDeque;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::{join, select};
use temporalio_sdk::{
    CancellableFuture, WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};
use view::rfc3339;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[workflow]
pub struct OrderWorkflow {
    input: OrderInput,
    order: OrderState,
    created_at: String,
    /// What the read model has; the state's version is what it must reach.
    projected_version: u32,
    /// History entries whose notifications are queued.
    notified_seq: u32,
    outbox: VecDeque<NotifyInput>,
    /// The notification branch is sending one (taken off the outbox, not yet through).
    sending: bool,
    /// How many at the front of the outbox a `publish` already tried (version 8 on): they go
    /// straight to a regular activity, whose retries hold no workflow task (and with it no
    /// command's answer) up, as a second local try would.
    handed_over: usize,
    closing: bool,
    /// Update handlers still waiting for their change to be projected; the order does not
    /// close while one is, or its caller would get an error instead of the answer.
    inflight_updates: u32,
    /// Temporal was asked to cancel this workflow, with this reason.
    cancel_requested: Option<String>,
    /// The order was canceled because of that request: the workflow closes as canceled.
    canceled_by_engine: bool,
    /// Started with [`OUTAGE_PROOF`] (see there); false only on [`legacy`] orders.
    outage_proof: bool,
    /// Ops were told the delivery is overdue (once per order).
    delivery_late: bool,
}

impl OrderWorkflow {
    /// The whole order: charge, then the lifecycle beside its notifications. However it ends,
    /// the workflow is marked closing so the cancel watcher stops too.
    async fn serve(ctx: WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let ended = Self::serve_order(ctx.clone()).await;
        ctx.state_mut(|s| s.closing = true);
        ended
    }

    async fn serve_order(ctx: WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        if let Some(ended) = Self::charge_until_placed(&ctx).await {
            return ended;
        }
        let (status, notified) = join!(
            Self::lifecycle(ctx.clone()),
            Self::deliver_notifications(ctx.clone())
        );
        notified?;
        status
    }

    /// Wait for `condition` without being ended by a cancel request (the watcher turns that
    /// into state the conditions look at).
    async fn wait(ctx: &WorkflowContext<Self>, condition: impl FnMut(&Self) -> bool) {
        // A wait with a detached token cannot be cancelled, so it only ends by its condition.
        let _ = ctx
            .wait_condition_with_options(condition, options::wait())
            .await;
    }

    /// Race `condition` against a timer: `true` when the timer fired first. The timer is
    /// cancelled when the condition wins, so it does not fire later into the history.
    async fn condition_or_timeout(
        ctx: &WorkflowContext<Self>,
        condition: impl FnMut(&Self) -> bool,
        after: Duration,
    ) -> bool {
        let mut condition = Box::pin(ctx.wait_condition_with_options(condition, options::wait()));
        let mut timer = Box::pin(ctx.timer(options::timer(after)));
        select! {
            _ = condition => {
                timer.cancel();
                false
            }
            _ = timer => true,
        }
    }
}

/// The workflow's methods, with one named update (and its validator) per action of the
/// domain's command table: `baedal_domain::with_actions!` hands the list in, so every action is
/// an update of its own name (ops see `accept`, `claim`, … in the Web UI) and none can be
/// missing.
macro_rules! order_workflow_methods {
    ($($variant:ident $name:ident $validator:ident),* $(,)?) => {
#[workflow_methods]
impl OrderWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: OrderInput) -> Self {
        let created_at = rfc3339(ctx.start_time());
        Self {
            input,
            order: OrderState::new(created_at.clone()),
            created_at,
            projected_version: 0,
            notified_seq: 0,
            outbox: VecDeque::new(),
            sending: false,
            handed_over: 0,
            closing: false,
            inflight_updates: 0,
            cancel_requested: None,
            canceled_by_engine: false,
            outage_proof: false,
            delivery_late: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let outage_proof = legacy::outage_proof(ctx);
        ctx.state_mut(|s| s.outage_proof = outage_proof);
        let (ended, ()) = join!(Self::serve(ctx.clone()), Self::watch_cancel(ctx.clone()));
        let status = ended?;
        if ctx.state(|s| s.canceled_by_engine) {
            // Everything owed is settled: close as the cancel that was asked for.
            return Err(WorkflowTermination::cancelled());
        }
        Ok(status)
    }

    #[update_validator(place)]
    fn validate_place(
        &self,
        _ctx: &WorkflowContextView,
        req: &PlaceRequest,
    ) -> Result<(), BoxError> {
        if req.request_hash != self.input.request_hash {
            return Err(refused(Refusal::IdempotencyKeyReused));
        }
        self.order.check_place_retry().map_err(refused)
    }

    /// Answer the customer's place-order request: the paid order, or why there is none.
    #[update]
    pub async fn place(ctx: &mut WorkflowContext<Self>, _req: PlaceRequest) -> PlaceOutcome {
        ctx.state_mut(|s| {
            s.inflight_updates += 1;
            // A retry after payment was unavailable: charge again and answer that outcome.
            s.order.retry_payment();
        });
        Self::wait(ctx, |s| s.place_outcome().is_some()).await;
        let outcome = ctx.state(|s| s.place_outcome());
        ctx.state_mut(|s| s.inflight_updates -= 1);
        outcome.unwrap_or(PlaceOutcome::Failed {
            failure: PlaceFailure {
                code: baedal_domain::OrderCode::PaymentUnavailable,
                message: "payment has no answer yet: please retry a little later".into(),
                retry_after_secs: Some(DEFAULT_RETRY_AFTER_SECS),
            },
        })
    }

    $(
        #[update_validator($name)]
        fn $validator(
            &self,
            _: &WorkflowContextView,
            req: &CommandRequest,
        ) -> Result<(), BoxError> {
            self.validate(req.command(Action::$variant))
        }
        #[update]
        pub async fn $name(
            ctx: &mut WorkflowContext<Self>,
            req: CommandRequest,
        ) -> Result<OrderView, BoxError> {
            Self::command(ctx, req.command(Action::$variant)).await
        }
    )*

    /// The placement answer and the request hash it belongs to. The api asks this only when a
    /// retried place-order finds the order's workflow already closed.
    #[query]
    pub fn placement(&self, _ctx: &WorkflowContextView) -> (String, Option<PlaceOutcome>) {
        (self.input.request_hash.clone(), self.place_outcome())
    }

    /// The order as the workflow holds it. Diagnostics and benchmarks only: the api reads the
    /// read model, never this.
    #[query]
    pub fn order(&self, _ctx: &WorkflowContextView) -> OrderView {
        self.view()
    }
}
    };
}

baedal_domain::with_actions!(order_workflow_methods);
