//! `OrderWorkflow`: state, update handlers with validators, and the run loop.
//!
//! Update handlers only change state (through `domain::decide`) and then wait until the run
//! loop has projected that change, so a caller that gets 200 reads its own write from the read
//! model. All side effects (projection, search attributes, notifications, refunds) happen in
//! `run`, driven by the state rather than by "the next thing happened": several updates can land
//! in one workflow task, and each transition still gets its own history entry, projection and
//! notification.

use crate::notify::{self, ESCALATION_SEQ_BASE};
use crate::options;
use baedal_activities::{
    ChargeInput, ChargeOutcome, NotifyInput, OrderActivities, RefundInput, breaker,
};
use baedal_domain::{
    Actor, Command, HistoryEntry, OrderInput, OrderStatus, OrderView, PaymentInfo, Pickup,
    PlaceFailure, PlaceOutcome, Refusal, decide,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, SystemTime};
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::workflows::{join, select};
use temporalio_sdk::{
    ActivityExecutionError, CancellableFuture, WorkflowContext, WorkflowContextView, WorkflowResult,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
const STORE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("StoreId");
const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
const REGION: SearchAttributeKey<String> = SearchAttributeKey::keyword("Region");

/// Refusal of a place-order retry whose attempt has expired (the api answers 409).
pub const EXPIRED: &str = "idempotency_key_expired: payment was unavailable and this attempt has expired; place the order again with a new Idempotency-Key";

/// How much each unanswered rider-claim timer widens the search, and how often it may.
const RADIUS_STEP_KM: f64 = 2.0;
const MAX_ESCALATIONS: u32 = 3;

/// The `place` update's input: the hash of the customer's request, so a retry with the same
/// idempotency key but another body is refused instead of answered with this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRequest {
    pub request_hash: String,
}

/// Input of every command update: who is asking, and a reason where the command takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub actor: Actor,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Where the order is relative to its charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Stage {
    Charging,
    Established,
    NotEstablished(PlaceFailure),
}

#[workflow]
pub struct OrderWorkflow {
    input: OrderInput,
    stage: Stage,
    status: OrderStatus,
    payment: Option<PaymentInfo>,
    refund: Option<PaymentInfo>,
    rider_id: Option<String>,
    history: Vec<HistoryEntry>,
    created_at: String,
    updated_at: String,
    /// Bumped on every change to the view; `projected_version` is what the read model has.
    version: u32,
    projected_version: u32,
    /// History entries whose notifications are queued.
    notified_seq: u32,
    outbox: VecDeque<NotifyInput>,
    closing: bool,
    radius_bonus_km: f64,
    escalations: u32,
    /// A customer retried a place-order whose payment was unavailable: charge again.
    retry_requested: bool,
    /// The unavailable attempt was not retried in time and is being voided: refuse retries.
    expired: bool,
    /// Update handlers still waiting for their change to be projected; `run` does not return
    /// while one is, or its caller would get an error instead of the answer.
    inflight_updates: u32,
}

fn rfc3339(t: Option<SystemTime>) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.unwrap_or(SystemTime::UNIX_EPOCH).into();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl OrderWorkflow {
    fn view(&self) -> OrderView {
        let i = &self.input;
        OrderView {
            id: i.order_id.clone(),
            status: self.status,
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
            payment: self.payment.clone().unwrap_or(PaymentInfo {
                id: String::new(),
                status: "pending".into(),
                amount: i.total,
            }),
            refund: self.refund.clone(),
            rider_id: self.rider_id.clone(),
            history: self.history.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            seq: self.history.len() as u32,
            version: self.version,
            search_radius_bonus_km: self.radius_bonus_km,
        }
    }

    fn record(&mut self, status: OrderStatus, at: String, reason: Option<String>) -> u32 {
        self.status = status;
        self.history.push(HistoryEntry {
            seq: self.history.len() as u32 + 1,
            status,
            at: at.clone(),
            reason,
        });
        self.updated_at = at;
        self.version += 1;
        self.version
    }

    /// The check validators run: refuse at once, leaving no trace in history.
    fn check(&self, cmd: &Command) -> Result<(), Refusal> {
        if self.stage != Stage::Established {
            return Err(Refusal::InvalidTransition {
                status: self.status,
                command: cmd.name().to_owned(),
            });
        }
        decide(self.status, self.rider_id.as_deref(), cmd).map(|_| ())
    }

    /// Apply `cmd`; returns the version the read model must reach before the caller is answered.
    fn transition(&mut self, cmd: &Command, at: String) -> Result<u32, Refusal> {
        self.check(cmd)?;
        let to = decide(self.status, self.rider_id.as_deref(), cmd)?;
        if let Command::Claim { rider_id } = cmd {
            self.rider_id = Some(rider_id.clone());
        }
        let reason = match cmd {
            Command::Reject { reason } => Some(reason.clone()),
            Command::StoreTimeout => Some("the store did not answer in time".to_owned()),
            Command::AutoConfirm => Some("confirmed automatically after delivery".to_owned()),
            _ => None,
        };
        Ok(self.record(to, at, reason))
    }

    /// Queue one notification per history entry not yet notified.
    fn queue_notifications(&mut self) {
        while (self.notified_seq as usize) < self.history.len() {
            let entry = &self.history[self.notified_seq as usize];
            self.outbox.push_back(NotifyInput {
                order_id: self.input.order_id.clone(),
                seq: entry.seq,
                recipients: notify::recipients(&self.input, entry.status, self.rider_id.as_deref()),
                status: entry.status.as_str().to_owned(),
                message: notify::message(&self.input, entry.status),
            });
            self.notified_seq += 1;
        }
    }

    fn place_outcome(&self) -> Option<PlaceOutcome> {
        match &self.stage {
            Stage::Charging => None,
            Stage::Established if self.projected_version == 0 => None,
            Stage::Established => Some(PlaceOutcome::Placed {
                order: Box::new(self.view()),
            }),
            Stage::NotEstablished(f) => Some(PlaceOutcome::Failed { failure: f.clone() }),
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
            .state(|s| indexed(&s.input, s.status))
            .into_iter()
            .filter(|(key, value)| current.get(key).as_ref() != Some(value))
            .map(|(key, value)| key.value_set(value))
            .collect();
        if !changed.is_empty() {
            ctx.upsert_search_attributes(changed);
        }
    }

    /// Bring the read model, the search attributes and the notification outbox up to date
    /// with the state, however many changes happened since the last call.
    async fn flush(ctx: &WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            let (view, target, projected, new_entries) = ctx.state(|s| {
                (
                    s.view(),
                    s.version,
                    s.projected_version,
                    (s.notified_seq as usize) < s.history.len(),
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
                ctx.state_mut(|s| s.queue_notifications());
            }
            ctx.execute_local_activity(OrderActivities::project, view, options::project())
                .await?;
            ctx.state_mut(|s| s.projected_version = s.projected_version.max(target));
        }
    }

    /// Wait until the history grows past `seen` (answer `false`) or `after` passes with no
    /// change (answer `true`). The timer is cancelled when a change wins, so it does not fire
    /// later into the history.
    async fn changed_or_timeout(
        ctx: &WorkflowContext<Self>,
        seen: usize,
        after: Duration,
    ) -> WorkflowResult<bool> {
        let changed = Box::pin(ctx.wait_condition(move |s: &Self| s.history.len() > seen));
        Self::condition_or_timeout(ctx, changed, after).await
    }

    /// Race a condition against a timer: `true` when the timer fired first. The timer is
    /// cancelled when the condition wins.
    async fn condition_or_timeout<F>(
        ctx: &WorkflowContext<Self>,
        mut condition: std::pin::Pin<Box<F>>,
        after: Duration,
    ) -> WorkflowResult<bool>
    where
        F: futures::future::FusedFuture<
                Output = Result<(), temporalio_sdk::WorkflowCancellationError>,
            >,
    {
        let mut timer = Box::pin(ctx.timer(after));
        select! {
            r = condition => {
                timer.cancel();
                r?;
                Ok(false)
            }
            _ = timer => Ok(true),
        }
    }

    /// The order after the charge: wait for commands and timers until a terminal status, then
    /// settle what is owed.
    async fn lifecycle(ctx: WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let timeouts = ctx.state(|s| s.input.timeouts);
        loop {
            Self::flush(&ctx).await?;
            let (status, seen, escalations) =
                ctx.state(|s| (s.status, s.history.len(), s.escalations));
            if status.is_terminal() {
                break;
            }
            match status {
                OrderStatus::Placed => {
                    let after = Duration::from_millis(timeouts.store_accept_ms);
                    if Self::changed_or_timeout(&ctx, seen, after).await? {
                        let at = rfc3339(ctx.workflow_time());
                        ctx.state_mut(|s| s.transition(&Command::StoreTimeout, at))
                            .ok();
                    }
                }
                OrderStatus::ReadyForPickup if escalations < MAX_ESCALATIONS => {
                    let after = Duration::from_millis(timeouts.rider_claim_ms);
                    if Self::changed_or_timeout(&ctx, seen, after).await? {
                        ctx.state_mut(|s| s.escalate(after));
                    }
                }
                OrderStatus::Delivered => {
                    let after = Duration::from_millis(timeouts.auto_confirm_ms);
                    if Self::changed_or_timeout(&ctx, seen, after).await? {
                        let at = rfc3339(ctx.workflow_time());
                        ctx.state_mut(|s| s.transition(&Command::AutoConfirm, at))
                            .ok();
                    }
                }
                _ => {
                    ctx.wait_condition(move |s: &Self| s.history.len() > seen)
                        .await?;
                }
            }
        }
        let (status, order_id, total) =
            ctx.state(|s| (s.status, s.input.order_id.clone(), s.input.total));
        if status.owes_refund() {
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
            ctx.state_mut(|s| {
                s.refund = refund;
                s.version += 1;
            });
            Self::flush(&ctx).await?;
        }
        ctx.wait_condition(|s: &Self| s.inflight_updates == 0)
            .await?;
        ctx.state_mut(|s| s.closing = true);
        Ok(status)
    }

    /// Nobody claimed the delivery in time: widen the riders' search radius and tell ops.
    fn escalate(&mut self, waited: Duration) {
        self.escalations += 1;
        self.radius_bonus_km += RADIUS_STEP_KM;
        self.version += 1;
        self.outbox.push_back(NotifyInput {
            order_id: self.input.order_id.clone(),
            seq: ESCALATION_SEQ_BASE + self.escalations,
            recipients: vec!["ops".to_owned()],
            status: self.status.as_str().to_owned(),
            message: format!(
                "[{}] no rider claimed within {}s; search radius widened by {} km",
                self.input.store_name,
                waited.as_secs(),
                self.radius_bonus_km
            ),
        });
    }

    /// Deliver queued notifications one at a time, in order, until the order closes. Runs
    /// beside the lifecycle so a notification outage never holds up an order.
    async fn deliver_notifications(ctx: WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            ctx.wait_condition(|s: &Self| !s.outbox.is_empty() || s.closing)
                .await?;
            let Some(n) = ctx.state_mut(|s| s.outbox.pop_front()) else {
                return Ok(());
            };
            ctx.execute_local_activity(OrderActivities::notify, n, options::notify())
                .await?;
        }
    }

    /// Shared body of the command updates.
    async fn command(ctx: &mut WorkflowContext<Self>, cmd: Command) -> Result<OrderView, BoxError> {
        let at = rfc3339(ctx.workflow_time());
        let version = ctx.state_mut(|s| s.transition(&cmd, at))?;
        ctx.state_mut(|s| s.inflight_updates += 1);
        let projected = ctx
            .wait_condition(move |s: &Self| s.projected_version >= version)
            .await;
        ctx.state_mut(|s| s.inflight_updates -= 1);
        projected?;
        Ok(ctx.state(|s| s.view()))
    }

    fn validate(&self, cmd: Command) -> Result<(), BoxError> {
        self.check(&cmd).map_err(Into::into)
    }
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

/// When to ask the customer to come back: the breaker's time until it half-opens when it is
/// open (carried in the failure message, so replay reads the same value), else a short default.
fn retry_after(e: &ActivityExecutionError) -> u64 {
    const DEFAULT_SECS: u64 = 5;
    let mut failure = e.failure();
    while let Some(f) = failure {
        if let Some(secs) = breaker::retry_after_from_message(&f.message) {
            return secs.max(1);
        }
        failure = f.cause.as_deref();
    }
    DEFAULT_SECS
}

fn rider(req: &CommandRequest) -> String {
    req.actor.id.clone()
}

#[workflow_methods]
impl OrderWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: OrderInput) -> Self {
        let created_at = rfc3339(ctx.start_time());
        Self {
            input,
            stage: Stage::Charging,
            status: OrderStatus::Placed,
            payment: None,
            refund: None,
            rider_id: None,
            history: Vec::new(),
            updated_at: created_at.clone(),
            created_at,
            version: 0,
            projected_version: 0,
            notified_seq: 0,
            outbox: VecDeque::new(),
            closing: false,
            radius_bonus_km: 0.0,
            escalations: 0,
            retry_requested: false,
            expired: false,
            inflight_updates: 0,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<OrderStatus> {
        let input = ctx.state(|s| s.input.clone());
        // Charge; when payment could not be reached, keep the attempt open for the customer's
        // retry (same Idempotency-Key, same body) and charge again then: the PSP's idempotency
        // by order id makes a charge that did land earlier come back as approved, never twice.
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
            let at = rfc3339(ctx.workflow_time());
            match charged {
                Ok(ChargeOutcome::Approved { payment }) => {
                    ctx.state_mut(|s| {
                        s.payment = Some(payment);
                        s.stage = Stage::Established;
                        s.record(OrderStatus::Placed, at, None);
                    });
                    break;
                }
                Ok(ChargeOutcome::Declined { .. }) => {
                    ctx.state_mut(|s| {
                        s.status = OrderStatus::PaymentFailed;
                        s.stage = Stage::NotEstablished(PlaceFailure {
                            code: "payment_declined".into(),
                            message: "the card was declined: use another card".into(),
                            retry_after_secs: None,
                        });
                    });
                    Self::upsert_search_attributes(ctx);
                    // Give the place update its answer before the workflow closes.
                    ctx.wait_condition(|s: &Self| s.inflight_updates == 0)
                        .await?;
                    return Ok(OrderStatus::PaymentFailed);
                }
                Err(e) => {
                    let retry_after = retry_after(&e);
                    ctx.state_mut(|s| {
                        s.status = OrderStatus::PaymentFailed;
                        s.retry_requested = false;
                        s.stage = Stage::NotEstablished(PlaceFailure {
                            code: "payment_unavailable".into(),
                            message: "payment is unavailable right now: please pay a little later"
                                .into(),
                            retry_after_secs: Some(retry_after),
                        });
                    });
                    Self::upsert_search_attributes(ctx);
                    let window = Duration::from_millis(input.timeouts.payment_retry_ms);
                    let waiting = Box::pin(ctx.wait_condition(|s: &Self| s.retry_requested));
                    if !Self::condition_or_timeout(ctx, waiting, window).await? {
                        continue;
                    }
                    // Nobody retried: the attempt expires. The charge may have landed after we
                    // stopped waiting for it, so make sure no money stays taken for an order
                    // that does not exist.
                    ctx.state_mut(|s| s.expired = true);
                    ctx.wait_condition(|s: &Self| s.inflight_updates == 0)
                        .await?;
                    ctx.execute_activity(
                        OrderActivities::refund,
                        RefundInput {
                            order_id: input.order_id.clone(),
                            amount: input.total,
                        },
                        options::refund(),
                    )
                    .await?;
                    return Ok(OrderStatus::PaymentFailed);
                }
            }
        }

        let (status, notified) = join!(
            Self::lifecycle(ctx.clone()),
            Self::deliver_notifications(ctx.clone())
        );
        notified?;
        status
    }

    #[update_validator(place)]
    fn validate_place(
        &self,
        _ctx: &WorkflowContextView,
        req: &PlaceRequest,
    ) -> Result<(), BoxError> {
        if req.request_hash != self.input.request_hash {
            return Err("idempotency_key_reused: this Idempotency-Key was used for a different order; use a new key".into());
        }
        if self.expired {
            return Err(EXPIRED.into());
        }
        Ok(())
    }

    /// Answer the customer's place-order request: the paid order, or why there is none.
    #[update]
    pub async fn place(ctx: &mut WorkflowContext<Self>, _req: PlaceRequest) -> PlaceOutcome {
        ctx.state_mut(|s| {
            s.inflight_updates += 1;
            // A retry after payment was unavailable: charge again and answer that outcome.
            if matches!(&s.stage, Stage::NotEstablished(f) if f.code == "payment_unavailable") {
                s.stage = Stage::Charging;
                s.retry_requested = true;
            }
        });
        let _ = ctx
            .wait_condition(|s: &Self| s.place_outcome().is_some())
            .await;
        let outcome = ctx.state(|s| s.place_outcome());
        ctx.state_mut(|s| s.inflight_updates -= 1);
        outcome.unwrap_or(PlaceOutcome::Failed {
            failure: PlaceFailure {
                code: "payment_unavailable".into(),
                message: "the order was cancelled before payment finished".into(),
                retry_after_secs: Some(30),
            },
        })
    }

    #[update_validator(accept)]
    fn validate_accept(&self, _: &WorkflowContextView, _: &CommandRequest) -> Result<(), BoxError> {
        self.validate(Command::Accept)
    }
    #[update]
    pub async fn accept(
        ctx: &mut WorkflowContext<Self>,
        _req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(ctx, Command::Accept).await
    }

    #[update_validator(reject)]
    fn validate_reject(
        &self,
        _: &WorkflowContextView,
        req: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::Reject {
            reason: req.reason.clone().unwrap_or_default(),
        })
    }
    #[update]
    pub async fn reject(
        ctx: &mut WorkflowContext<Self>,
        req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        let reason = req.reason.unwrap_or_default();
        Self::command(ctx, Command::Reject { reason }).await
    }

    #[update_validator(start_cooking)]
    fn validate_start_cooking(
        &self,
        _: &WorkflowContextView,
        _: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::StartCooking)
    }
    #[update]
    pub async fn start_cooking(
        ctx: &mut WorkflowContext<Self>,
        _req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(ctx, Command::StartCooking).await
    }

    #[update_validator(finish_cooking)]
    fn validate_finish_cooking(
        &self,
        _: &WorkflowContextView,
        _: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::FinishCooking)
    }
    #[update]
    pub async fn finish_cooking(
        ctx: &mut WorkflowContext<Self>,
        _req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(ctx, Command::FinishCooking).await
    }

    #[update_validator(cancel)]
    fn validate_cancel(&self, _: &WorkflowContextView, _: &CommandRequest) -> Result<(), BoxError> {
        self.validate(Command::Cancel)
    }
    #[update]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        _req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(ctx, Command::Cancel).await
    }

    #[update_validator(claim)]
    fn validate_claim(
        &self,
        _: &WorkflowContextView,
        req: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::Claim {
            rider_id: rider(req),
        })
    }
    #[update]
    pub async fn claim(
        ctx: &mut WorkflowContext<Self>,
        req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(
            ctx,
            Command::Claim {
                rider_id: rider(&req),
            },
        )
        .await
    }

    #[update_validator(pickup)]
    fn validate_pickup(
        &self,
        _: &WorkflowContextView,
        req: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::Pickup {
            rider_id: rider(req),
        })
    }
    #[update]
    pub async fn pickup(
        ctx: &mut WorkflowContext<Self>,
        req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(
            ctx,
            Command::Pickup {
                rider_id: rider(&req),
            },
        )
        .await
    }

    #[update_validator(deliver)]
    fn validate_deliver(
        &self,
        _: &WorkflowContextView,
        req: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::Deliver {
            rider_id: rider(req),
        })
    }
    #[update]
    pub async fn deliver(
        ctx: &mut WorkflowContext<Self>,
        req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(
            ctx,
            Command::Deliver {
                rider_id: rider(&req),
            },
        )
        .await
    }

    #[update_validator(confirm)]
    fn validate_confirm(
        &self,
        _: &WorkflowContextView,
        _: &CommandRequest,
    ) -> Result<(), BoxError> {
        self.validate(Command::Confirm)
    }
    #[update]
    pub async fn confirm(
        ctx: &mut WorkflowContext<Self>,
        _req: CommandRequest,
    ) -> Result<OrderView, BoxError> {
        Self::command(ctx, Command::Confirm).await
    }

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
