//! `OrderWorkflow`: state, update handlers with validators, and the run loop.
//!
//! The order's rules live in `domain::OrderState`; this file only drives it. Update handlers
//! change the state and then wait until the run loop has projected that change, so a caller
//! that gets 200 reads its own write from the read model. All side effects (projection, search
//! attributes, notifications, refunds) happen in the run loop, driven by the state rather than
//! by "the next thing happened": several updates can land in one workflow task, and each
//! transition still gets its own history entry, projection and notification.
//!
//! Three branches run side by side: the order itself (charge, then commands and timers, then
//! what is owed), the notifications (sent one by one, in order, never holding the order up),
//! and a watcher that turns a cancel request from Temporal into a cancel of the order. Since
//! workflow version 8 a change's notifications usually go out with its projection, in one
//! local activity (one history marker instead of two); only what that first try did not get
//! through within its short budget, and alerts to ops, wait in the notification branch.

use crate::notify::{self, ESCALATION_SEQ_BASE};
use crate::options;
use crate::refusal::refused;
use baedal_activities::{
    ChargeInput, ChargeOutcome, NotifyInput, OrderActivities, PublishInput, RefundInput, breaker,
};
use baedal_domain::{
    Action, ChargeResult, Command, OrderInput, OrderState, OrderStatus, OrderView, PaymentInfo,
    Pickup, PlaceFailure, PlaceOutcome, Placement, RefundView, Refusal, state::MAX_ESCALATIONS,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::{join, select};
use temporalio_sdk::{
    CancellableFuture, WorkflowContext, WorkflowContextView, WorkflowResult, WorkflowTermination,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The order's status as the engine last committed it (`baedal reconcile` compares it with the
/// read model's).
pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
const STORE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("StoreId");
const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
const REGION: SearchAttributeKey<String> = SearchAttributeKey::keyword("Region");

/// Patch marker of orders whose notifications and projections survive an outage of any
/// length (a short local try, then a regular activity the server retries). Orders started
/// before it replay with the old local-activity retries.
pub const OUTAGE_PROOF: &str = "outage-proof-delivery";

/// How long to ask a customer to wait when payment is unreachable and the breaker gave no time.
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// The `place` update's input: the hash of the customer's request, so a retry with the same
/// idempotency key but another body is refused instead of answered with this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRequest {
    pub request_hash: String,
}

/// Input of every command update: who is asking, and a reason where the command takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub actor: baedal_domain::Actor,
    #[serde(default)]
    pub reason: Option<String>,
}

impl CommandRequest {
    /// The domain command this request asks for.
    pub fn command(&self, action: Action) -> Command {
        action.by(self.actor.id.clone(), self.reason.clone())
    }
}

/// The update that sends `action` to an order: the one the workflow registers under the
/// action's name. Lets a caller send any action without a match over all of them.
#[derive(Debug, Clone, Copy)]
pub struct CommandUpdate(pub Action);

impl temporalio_common::UpdateDefinition for CommandUpdate {
    type Workflow = <OrderWorkflow as temporalio_common::HasWorkflowDefinition>::Run;
    type Input = CommandRequest;
    type Output = OrderView;

    fn name(&self) -> &str {
        self.0.name()
    }
}

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
    /// Started with [`OUTAGE_PROOF`] (see there).
    outage_proof: bool,
    /// Ops were told the delivery is overdue (once per order).
    delivery_late: bool,
}

fn rfc3339(t: Option<SystemTime>) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.unwrap_or(SystemTime::UNIX_EPOCH).into();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl OrderWorkflow {
    fn view(&self) -> OrderView {
        let i = &self.input;
        let o = &self.order;
        OrderView {
            id: i.order_id.clone(),
            status: o.status(),
            customer_id: i.customer_id.clone(),
            store_id: i.store_id.clone(),
            store_name: i.store_name.clone(),
            region: i.delivery.region.clone(),
            items: i.items.clone(),
            total: i.total,
            delivery: i.delivery.clone(),
            pickup: Pickup {
                store_name: i.store_name.clone(),
                lat: i.store_lat,
                lon: i.store_lon,
            },
            payment: o.payment().cloned().unwrap_or(PaymentInfo {
                id: String::new(),
                status: "pending".into(),
                amount: i.total,
            }),
            refund: match o.refund() {
                Some(r) => Some(r.clone().into()),
                None if o.refund_pending() => Some(RefundView::pending(i.total)),
                None => None,
            },
            rider_id: o.rider_id().map(str::to_owned),
            history: o.history().to_vec(),
            created_at: self.created_at.clone(),
            updated_at: o.updated_at().to_owned(),
            seq: o.history().len() as u32,
            version: o.version(),
            search_radius_bonus_km: o.radius_bonus_km(),
        }
    }

    /// Queue one notification per history entry not yet notified.
    fn queue_notifications(&mut self) {
        let new = self.new_notifications();
        self.outbox.extend(new);
    }

    /// The notifications of the history entries not yet notified, which count as notified
    /// from now on: the caller sends or queues them.
    fn new_notifications(&mut self) -> Vec<NotifyInput> {
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

    /// Put `notifications` of one change at the front of the outbox, ahead of anything queued
    /// since (version 8 on); `tried`: a `publish` made their first try.
    fn hand_over(&mut self, notifications: Vec<NotifyInput>, tried: bool) {
        if tried {
            self.handed_over += notifications.len();
        }
        for n in notifications.into_iter().rev() {
            self.outbox.push_front(n);
        }
    }

    /// A change's notifications to send with its projection (version 8 on): all of them when
    /// nothing older is waiting to go out; otherwise none, and they queue behind the older
    /// ones, so an order's notifications always go out in order.
    fn notifications_to_publish(&mut self) -> Vec<NotifyInput> {
        let new = self.new_notifications();
        if self.outbox.is_empty() && !self.sending {
            return new;
        }
        self.outbox.extend(new);
        Vec::new()
    }

    /// The answer to the customer's place request, once there is one.
    fn place_outcome(&self) -> Option<PlaceOutcome> {
        match self.order.placement() {
            Placement::Charging => None,
            Placement::Established if self.projected_version == 0 => None,
            Placement::Established => Some(PlaceOutcome::Placed {
                order: Box::new(self.view()),
            }),
            _ => self
                .order
                .place_failure()
                .map(|failure| PlaceOutcome::Failed { failure }),
        }
    }

    /// Upsert the search attributes that differ from the workflow's current ones. Orders
    /// started with their attributes set ([`start_search_attributes`]) skip the upsert for
    /// `placed` and later send only `OrderStatus`: each upsert is a visibility write on the
    /// server, the dearest thing an order asks of the engine (BENCHMARKS.md). Orders started
    /// without them (older histories) upsert all four on their first transition, as before.
    fn upsert_search_attributes(ctx: &WorkflowContext<Self>) {
        let current = ctx.search_attributes();
        let changed: Vec<_> = ctx
            .state(|s| indexed(&s.input, s.order.status()))
            .into_iter()
            .filter(|(key, value)| current.get(key).as_ref() != Some(value))
            .map(|(key, value)| key.value_set(value))
            .collect();
        if !changed.is_empty() {
            ctx.upsert_search_attributes(changed);
        }
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

    /// Write `view` into the read model. A first try as a local activity; if the database is
    /// down, a regular activity the server retries until it is back. Never fails the order.
    async fn project(ctx: &WorkflowContext<Self>, view: OrderView) -> WorkflowResult<()> {
        let (outage_proof, cap) = ctx.state(|s| (s.outage_proof, s.retry_cap()));
        if !outage_proof {
            ctx.execute_local_activity(OrderActivities::project, view, options::project_legacy())
                .await?;
            return Ok(());
        }
        let first = ctx
            .execute_local_activity(OrderActivities::project, view.clone(), options::first_try())
            .await;
        if first.is_err() {
            Self::project_until_done(ctx, view, cap).await;
        }
        Ok(())
    }

    /// After a failed first try: project `view` by a regular activity the server retries
    /// until the read model takes it (or refuses it for good, which is logged).
    async fn project_until_done(ctx: &WorkflowContext<Self>, view: OrderView, cap: Duration) {
        if let Err(e) = ctx
            .execute_activity(OrderActivities::project, view, options::until_done(cap))
            .await
            && !ctx.is_replaying()
        {
            tracing::error!(error = %e, "projection refused for good; the read model misses this change");
        }
    }

    /// One change, version 8 on: project `view` and send `notifications` in one local
    /// activity (one marker in history where [`Self::project`] and [`Self::send`] cost one
    /// each). If the read model is down, the projection goes on as in [`Self::project`];
    /// whatever notification the first try did not get through goes to the notification
    /// branch, ahead of anything queued since, and is retried there until it does.
    async fn publish(
        ctx: &WorkflowContext<Self>,
        view: OrderView,
        notifications: Vec<NotifyInput>,
    ) -> WorkflowResult<()> {
        let cap = ctx.state(|s| s.retry_cap());
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

    /// Send one notification; see [`Self::project`] for the two tries. `tried`: a `publish`
    /// already made the first, so only the regular activity is left.
    async fn send(ctx: &WorkflowContext<Self>, n: NotifyInput, tried: bool) -> WorkflowResult<()> {
        let (outage_proof, cap) = ctx.state(|s| (s.outage_proof, s.retry_cap()));
        if !outage_proof {
            ctx.execute_local_activity(OrderActivities::notify, n, options::notify_legacy())
                .await?;
            return Ok(());
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

    fn retry_cap(&self) -> Duration {
        Duration::from_millis(self.input.timeouts.retry_cap_ms.max(100))
    }

    /// Bring the read model, the search attributes and the notification outbox up to date
    /// with the state, however many changes happened since the last call.
    async fn flush(ctx: &WorkflowContext<Self>) -> WorkflowResult<()> {
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
            if ctx.state(|s| s.input.version) >= 8 {
                // Version 8 on: the change's notifications go with its projection.
                let notifications = ctx.state_mut(|s| s.notifications_to_publish());
                Self::publish(ctx, view, notifications).await?;
            } else {
                if new_entries {
                    ctx.state_mut(|s| s.queue_notifications());
                }
                Self::project(ctx, view).await?;
            }
            ctx.state_mut(|s| s.projected_version = s.projected_version.max(target));
        }
    }

    /// Charge until the order is established (answers `None`), or end the attempt (answers
    /// how the workflow closes): declined, or unavailable and not retried in time.
    async fn charge_until_placed(
        ctx: &WorkflowContext<Self>,
    ) -> Option<WorkflowResult<OrderStatus>> {
        let input = ctx.state(|s| s.input.clone());
        let mut first_unavailable: Option<SystemTime> = None;
        // When payment could not be reached, keep the attempt open for the customer's retry
        // (same Idempotency-Key, same body) and charge again then: the PSP's idempotency by
        // order id makes a charge that did land earlier come back as approved, never twice.
        loop {
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
            let result = match charged {
                Ok(ChargeOutcome::Approved { payment }) => ChargeResult::Approved(payment),
                Ok(ChargeOutcome::Declined { .. }) => ChargeResult::Declined,
                // Orders of version 7 on: a record that is not this order's money (refunded,
                // voided, another amount or card) ends the attempt with nothing charged. Older
                // orders waited for a retry, as for any error.
                Err(e) if input.version >= 7 && baedal_activities::is_permanent(&e) => {
                    ChargeResult::Refused {
                        message: refusal_message(&e),
                    }
                }
                Err(e) => ChargeResult::Unavailable {
                    retry_after_secs: breaker::retry_after(&e)
                        .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                        .max(1),
                },
            };
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
            // Since version 7 the window counts from the first "unavailable" (a retry that
            // finds payment down again does not restart it, so an attempt ends in time
            // however often it is retried); before, from the latest.
            Self::upsert_search_attributes(ctx);
            let full = Duration::from_millis(input.timeouts.payment_retry_ms);
            let now = ctx.workflow_time().unwrap_or(SystemTime::UNIX_EPOCH);
            let first = *first_unavailable.get_or_insert(now);
            let window = if input.version >= 7 {
                full.saturating_sub(now.duration_since(first).unwrap_or_default())
                    .max(Duration::from_millis(1))
            } else {
                full
            };
            let retried_or_canceled = |s: &Self| {
                *s.order.placement() == Placement::Charging || s.cancel_requested.is_some()
            };
            let timed_out = Self::condition_or_timeout(ctx, retried_or_canceled, window).await;
            if !timed_out && ctx.state(|s| s.cancel_requested.is_none()) {
                continue;
            }
            // The attempt ends. The charge may have landed after we stopped waiting for it, so
            // make sure no money stays taken for an order that does not exist.
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
            return Some(match refund {
                Ok(r) => {
                    ctx.state_mut(|s| s.order.refunded(r));
                    Ok(Self::close(ctx).await)
                }
                Err(e) => Err(e.into()),
            });
        }
    }

    /// Let the place update take its answer, then mark the workflow as closing.
    async fn close(ctx: &WorkflowContext<Self>) -> OrderStatus {
        Self::wait(ctx, |s| s.inflight_updates == 0).await;
        ctx.state_mut(|s| s.closing = true);
        ctx.state(|s| s.order.status())
    }

    /// The order after the charge: wait for commands, timers and cancel requests until a
    /// terminal status, then settle what is owed.
    async fn lifecycle(ctx: WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let (timeouts, version) = ctx.state(|s| (s.input.timeouts, s.input.version));
        loop {
            // Since version 7 a settled order goes straight to what it owes: its refund
            // starts beside the projection (see [`Self::settle`]), not after it.
            if version >= 7 && ctx.state(|s| s.order.status().is_terminal()) {
                break;
            }
            Self::flush(&ctx).await?;
            let (status, seen, escalations, cancel) = ctx.state(|s| {
                (
                    s.order.status(),
                    s.order.history().len(),
                    s.order.escalations(),
                    s.cancel_requested.clone(),
                )
            });
            if status.is_terminal() {
                break;
            }
            if let Some(reason) = cancel {
                let at = rfc3339(ctx.workflow_time());
                ctx.state_mut(|s| {
                    s.canceled_by_engine = true;
                    s.order.apply(&Command::EngineCancel { reason }, at)
                })
                .expect("an open order can always be canceled");
                continue;
            }
            let changed =
                move |s: &Self| s.order.history().len() > seen || s.cancel_requested.is_some();
            // The deadline of this status, if it has one, and what happens when it passes.
            let deadline = match status {
                OrderStatus::Placed => Some(timeouts.store_accept_ms),
                OrderStatus::ReadyForPickup if escalations < MAX_ESCALATIONS => {
                    Some(timeouts.rider_claim_ms)
                }
                OrderStatus::Delivered => Some(timeouts.auto_confirm_ms),
                // Riders' deadlines (orders placed with them: see `Timeouts`).
                OrderStatus::RiderAssigned => timeouts.pickup_deadline_ms,
                OrderStatus::PickedUp if !ctx.state(|s| s.delivery_late) => {
                    timeouts.delivery_deadline_ms
                }
                _ => None,
            };
            let Some(ms) = deadline else {
                Self::wait(&ctx, changed).await;
                continue;
            };
            let after = Duration::from_millis(ms);
            if !Self::condition_or_timeout(&ctx, changed, after).await {
                continue;
            }
            let at = rfc3339(ctx.workflow_time());
            ctx.state_mut(|s| match status {
                OrderStatus::ReadyForPickup => s.escalate(after),
                OrderStatus::Placed => {
                    s.order.apply(&Command::StoreTimeout, at).ok();
                }
                OrderStatus::RiderAssigned => s.pickup_missed(after, at),
                OrderStatus::PickedUp => s.delivery_overdue(after),
                _ => {
                    s.order.apply(&Command::AutoConfirm, at).ok();
                }
            });
        }
        if version >= 7 {
            Self::settle(&ctx).await?;
            return Ok(Self::close(&ctx).await);
        }
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
            Self::flush(&ctx).await?;
        }
        Ok(Self::close(&ctx).await)
    }

    /// Settle a closed order (version 7 on): project its end and, when it owes a refund, start
    /// the refund at the same time, so neither waits for the other: a read model that is down
    /// holds no customer's money, and a PSP that is down holds no one's view of the order (the
    /// order shows the refund `pending`, with its attempts, until the PSP confirms it). Once
    /// the money has moved, the customer is told so and the order shows the refund.
    async fn settle(ctx: &WorkflowContext<Self>) -> WorkflowResult<()> {
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
        let seq = notify::PICKUP_MISSED_SEQ_BASE + self.order.history().len() as u32;
        self.outbox.push_back(NotifyInput {
            order_id: self.input.order_id.clone(),
            seq,
            recipients: vec![format!("rider:{rider}"), "ops".to_owned()],
            status: self.order.status().as_str().to_owned(),
            message: format!(
                "[{}] 픽업 시간({}분)이 지나 배달이 다른 라이더에게 넘어갔습니다 / rider {rider} did not pick up within {}s: the delivery is back on the board",
                self.input.store_name,
                waited.as_secs().div_ceil(60),
                waited.as_secs()
            ),
            store_id: None,
            order: None,
        });
    }

    /// The food was picked up `waited` ago and is not delivered: tell ops, once.
    fn delivery_overdue(&mut self, waited: Duration) {
        self.delivery_late = true;
        self.outbox.push_back(NotifyInput {
            order_id: self.input.order_id.clone(),
            seq: notify::DELIVERY_LATE_SEQ,
            recipients: vec!["ops".to_owned()],
            status: self.order.status().as_str().to_owned(),
            message: format!(
                "[{}] order {} was picked up by rider {} {}s ago and is not delivered yet: look into it",
                self.input.store_name,
                self.input.order_id,
                self.order.rider_id().unwrap_or("?"),
                waited.as_secs()
            ),
            store_id: None,
            order: None,
        });
    }

    /// Nobody claimed the delivery in time: widen the riders' search radius and tell ops.
    fn escalate(&mut self, waited: Duration) {
        if !self.order.escalate() {
            return;
        }
        self.outbox.push_back(NotifyInput {
            order_id: self.input.order_id.clone(),
            seq: ESCALATION_SEQ_BASE + self.order.escalations(),
            recipients: vec!["ops".to_owned()],
            status: self.order.status().as_str().to_owned(),
            message: format!(
                "[{}] no rider claimed within {}s; search radius widened by {} km",
                self.input.store_name,
                waited.as_secs(),
                self.order.radius_bonus_km()
            ),
            store_id: None,
            order: None,
        });
    }

    /// Deliver queued notifications one at a time, in order, until the order closes. Runs
    /// beside the lifecycle so a notification outage never holds up an order.
    async fn deliver_notifications(ctx: WorkflowContext<Self>) -> WorkflowResult<()> {
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

    /// Turn a cancel request from Temporal (Web UI, `temporal workflow cancel`) into state the
    /// order's waits look at, so it is handled like an ops cancel: refund, projection and
    /// notification before the workflow closes. Ends when the order closes.
    async fn watch_cancel(ctx: WorkflowContext<Self>) {
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

    /// Shared body of the command updates.
    async fn command(ctx: &mut WorkflowContext<Self>, cmd: Command) -> Result<OrderView, BoxError> {
        let at = rfc3339(ctx.workflow_time());
        let version = ctx
            .state_mut(|s| s.order.apply(&cmd, at))
            .map_err(refused)?;
        ctx.state_mut(|s| s.inflight_updates += 1);
        Self::wait(ctx, move |s| s.projected_version >= version).await;
        ctx.state_mut(|s| s.inflight_updates -= 1);
        Ok(ctx.state(|s| s.view()))
    }

    fn validate(&self, cmd: Command) -> Result<(), BoxError> {
        self.order.check(&cmd).map(|_| ()).map_err(refused)
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

/// What ops filter orders by, for an order of `input` in `status`.
fn indexed(input: &OrderInput, status: OrderStatus) -> [(SearchAttributeKey<String>, String); 4] {
    [
        (ORDER_STATUS, status.as_str().to_owned()),
        (STORE_ID, input.store_id.clone()),
        (CUSTOMER_ID, input.customer_id.clone()),
        (REGION, input.delivery.region.clone()),
    ]
}

/// Search attributes to start an order's workflow with: the order as `placed`. Set at start
/// they cost no visibility write of their own (the start writes the record anyway); an order
/// whose charge fails moves on to `payment_failed` at once.
pub fn start_search_attributes(input: &OrderInput) -> SearchAttributes {
    SearchAttributes::new(
        indexed(input, OrderStatus::Placed)
            .into_iter()
            .map(|(key, value)| key.value_set(value)),
    )
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
        // Orders that carry their version are outage-proof without a marker; only orders
        // from before the field (version 0) ask their history for it.
        let outage_proof = ctx.state(|s| s.input.version) >= 7 || ctx.patched(OUTAGE_PROOF);
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
