//! The order: what a placed order carries, the commands that move it, and the rules that say
//! which command is allowed in which status.

use crate::code::OrderCode;
use crate::commands::{Action, Rule, internal};
use crate::status::OrderStatus;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One priced line of an order. Prices come from the catalog at placement time, never from the
/// client, and are frozen into the order so a later menu change does not alter what was paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    pub menu_item_id: String,
    pub name: String,
    pub unit_price: i64,
    pub quantity: u32,
    pub line_total: i64,
}

/// What a message to a person says about their order (a KakaoTalk template's variables): set
/// by the workflow on each status change, from what the order was placed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderBrief {
    pub store_name: String,
    /// [`summary`] of the items.
    pub summary: String,
    /// What the customer paid, in won.
    pub total: i64,
    /// Minutes until the food is at the door, where baedal knows it (once picked up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_minutes: Option<u32>,
}

/// How an order is named in a message: the first item and how many other lines it has
/// ("김치찌개 2개 외 1건", the way Korean delivery apps say it).
pub fn summary(items: &[LineItem]) -> String {
    let Some(first) = items.first() else {
        return String::new();
    };
    let mut s = first.name.clone();
    if first.quantity > 1 {
        s.push_str(&format!(" {}개", first.quantity));
    }
    if items.len() > 1 {
        s.push_str(&format!(" 외 {}건", items.len() - 1));
    }
    s
}

/// Where the food goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAddress {
    pub address: String,
    pub region: String,
    pub lat: f64,
    pub lon: f64,
}

/// Timer durations an order runs with, fixed when it is placed so that a configuration change
/// never alters the timers of orders already in flight (and replay stays deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub store_accept_ms: u64,
    pub rider_claim_ms: u64,
    pub auto_confirm_ms: u64,
    /// How long an attempt whose payment was unavailable waits for the customer's retry
    /// (same Idempotency-Key) before it expires and voids any charge.
    #[serde(default = "default_payment_retry_ms")]
    pub payment_retry_ms: u64,
    /// The longest wait between two retries of a notification or projection that is failing
    /// (the service or the database is down). Retries past the first few seconds are the
    /// engine's regular activity retries, which add nothing to the order's history.
    #[serde(default = "default_retry_cap_ms")]
    pub retry_cap_ms: u64,
    /// How long the assigned rider has to pick the food up before the delivery returns to the
    /// board (`BAEDAL_PICKUP_DEADLINE`). `None` on orders placed before riders had deadlines:
    /// they run no such timer (so their histories replay as recorded).
    #[serde(default)]
    pub pickup_deadline_ms: Option<u64>,
    /// How long after the pickup the food should be at the door before ops are alerted
    /// (`BAEDAL_DELIVERY_DEADLINE`); `None` as above.
    #[serde(default)]
    pub delivery_deadline_ms: Option<u64>,
}

fn default_payment_retry_ms() -> u64 {
    15 * 60 * 1000
}

fn default_retry_cap_ms() -> u64 {
    60 * 1000
}

/// The order workflow's behaviour version new orders are placed with (`OrderInput::version`).
///
/// A change to what the workflow does for new orders bumps it, and the workflow branches on the
/// version its order carries: fixed in the input, it costs the engine nothing, where a patch
/// marker costs every order one more visibility write (the `TemporalChangeVersion` upsert,
/// measured at ~9% of throughput). 0: orders placed before the field existed, whose history
/// tells the rest (the `outage-proof-delivery` patch marker). 7 (the histories' v7): no patch
/// marker; the payment attempt's retry window counts from its first answer; a charge is
/// checked against this run. 8: a change's projection and its notifications go out in one
/// local activity (one history marker per change instead of two).
pub const WORKFLOW_VERSION: u32 = 8;

/// Everything the workflow needs to run one order: the workflow's start input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderInput {
    /// [`WORKFLOW_VERSION`] when the order was placed (0 when absent: older orders).
    #[serde(default)]
    pub version: u32,
    pub order_id: String,
    pub customer_id: String,
    pub store_id: String,
    pub store_name: String,
    pub store_lat: f64,
    pub store_lon: f64,
    pub items: Vec<LineItem>,
    pub total: i64,
    pub delivery: DeliveryAddress,
    pub card_token: String,
    /// Hash of the customer's request body: a retry with the same idempotency key must carry
    /// the same body, or it is refused instead of silently returning another order.
    pub request_hash: String,
    pub timeouts: Timeouts,
}

/// Who issues a command, as the api authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: String,
    pub id: String,
}

/// A command that moves an order: a person's [`Action`], or one the workflow sends itself —
/// its timers (`StoreTimeout`, `AutoConfirm`) and `EngineCancel` (a cancel request from
/// Temporal: the Web UI's button, `temporal workflow cancel`), never an api caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// `actor` is who sent it (the rider, for a rider's action); `reason` is given where the
    /// table says the action needs one.
    Person {
        action: Action,
        actor: String,
        reason: Option<String>,
    },
    StoreTimeout,
    AutoConfirm,
    PickupTimeout,
    EngineCancel {
        reason: String,
    },
}

impl Action {
    /// This action sent by `actor`, with `reason` where it takes one.
    pub fn by(self, actor: impl Into<String>, reason: Option<String>) -> Command {
        Command::Person {
            action: self,
            actor: actor.into(),
            reason,
        }
    }
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Person { action, .. } => action.name(),
            Command::StoreTimeout => "store_timeout",
            Command::AutoConfirm => "auto_confirm",
            Command::PickupTimeout => "pickup_timeout",
            Command::EngineCancel { .. } => "engine_cancel",
        }
    }

    /// The command's row of the table.
    pub fn rule(&self) -> Rule {
        match self {
            Command::Person { action, .. } => action.rule(),
            Command::StoreTimeout => internal::STORE_TIMEOUT,
            Command::AutoConfirm => internal::AUTO_CONFIRM,
            Command::PickupTimeout => internal::PICKUP_TIMEOUT,
            Command::EngineCancel { .. } => internal::ENGINE_CANCEL,
        }
    }

    /// The reason the history records for the transition this command makes.
    pub fn reason(&self) -> Option<String> {
        match self {
            Command::Person {
                action: Action::OpsCancel,
                reason,
                ..
            } => Some(format!(
                "canceled by ops: {}",
                reason.as_deref().unwrap_or_default()
            )),
            Command::Person { action, reason, .. } if action.rule().needs_reason => {
                Some(reason.clone().unwrap_or_default())
            }
            Command::Person { .. } => None,
            Command::EngineCancel { reason } => Some(format!("{}: {reason}", self.rule().doc)),
            Command::StoreTimeout | Command::AutoConfirm | Command::PickupTimeout => {
                Some(self.rule().doc.to_owned())
            }
        }
    }
}

/// Why a command was refused. The `code` is what the api puts in its error body, and the
/// failure type the refusal carries across the workflow boundary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The command is not allowed in the order's current status.
    InvalidTransition {
        status: OrderStatus,
        command: String,
    },
    /// Another rider claimed the delivery first.
    AlreadyClaimed,
    /// The rider is not the one assigned to this delivery.
    NotAssignedRider,
    /// A place-order retry whose Idempotency-Key belongs to another request body.
    IdempotencyKeyReused,
    /// A place-order retry after its payment attempt expired.
    AttemptExpired,
}

impl Refusal {
    /// Every code a refusal can carry, for turning a failure type back into a refusal kind.
    pub const CODES: [OrderCode; 5] = [
        OrderCode::InvalidTransition,
        OrderCode::AlreadyClaimed,
        OrderCode::NotAssignedRider,
        OrderCode::IdempotencyKeyReused,
        OrderCode::IdempotencyKeyExpired,
    ];

    pub fn code(&self) -> OrderCode {
        match self {
            Refusal::InvalidTransition { .. } => OrderCode::InvalidTransition,
            Refusal::AlreadyClaimed => OrderCode::AlreadyClaimed,
            Refusal::NotAssignedRider => OrderCode::NotAssignedRider,
            Refusal::IdempotencyKeyReused => OrderCode::IdempotencyKeyReused,
            Refusal::AttemptExpired => OrderCode::IdempotencyKeyExpired,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::InvalidTransition { status, command } => write!(
                f,
                "invalid_transition: cannot {command} an order that is {status}"
            ),
            Refusal::AlreadyClaimed => write!(
                f,
                "already_claimed: another rider claimed this delivery first; pick another one from the board"
            ),
            Refusal::NotAssignedRider => {
                write!(f, "not_found: this delivery is not assigned to you")
            }
            Refusal::IdempotencyKeyReused => write!(
                f,
                "idempotency_key_reused: this Idempotency-Key was used for a different order; use a new key"
            ),
            Refusal::AttemptExpired => write!(
                f,
                "idempotency_key_expired: payment was unavailable and this attempt has expired; place the order again with a new Idempotency-Key"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The order state machine: the status `cmd` moves an order to from `status`, given the rider
/// assigned so far. The statuses come from the command table ([`Action::rule`]); this adds
/// only what a row cannot say: who lost a race for a delivery, and who is its rider.
pub fn decide(
    status: OrderStatus,
    rider_id: Option<&str>,
    cmd: &Command,
) -> Result<OrderStatus, Refusal> {
    let rule = cmd.rule();
    let actor = match cmd {
        Command::Person { actor, .. } => Some(actor.as_str()),
        _ => None,
    };
    if let Command::Person {
        action: Action::Claim,
        ..
    } = cmd
        && status.has_rider()
        && rider_id != actor
    {
        return Err(Refusal::AlreadyClaimed);
    }
    if !rule.from.allows(status) {
        return Err(Refusal::InvalidTransition {
            status,
            command: cmd.name().to_owned(),
        });
    }
    if rule.assigned_rider_only && (rider_id.is_none() || rider_id != actor) {
        return Err(Refusal::NotAssignedRider);
    }
    Ok(rule.to)
}

/// Payment as the order shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    pub id: String,
    pub status: String,
    pub amount: i64,
}

/// A refund as the order shows it: `{"status":"pending"|"succeeded","amount","attempts"?,
/// "last_error"?}` (and the PSP's `id` once there is one). The attempts and the last error come
/// from the refund activity's own record (the read model's `refunds`), merged in when the
/// order is read while its refund is pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub status: String,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl RefundView {
    /// Status of a refund owed and not yet confirmed by the PSP.
    pub const PENDING: &'static str = "pending";

    /// A refund of `amount` owed and not yet confirmed.
    pub fn pending(amount: i64) -> Self {
        Self {
            id: String::new(),
            status: Self::PENDING.to_owned(),
            amount,
            attempts: None,
            last_error: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.status == Self::PENDING
    }
}

impl From<PaymentInfo> for RefundView {
    fn from(p: PaymentInfo) -> Self {
        Self {
            id: p.id,
            status: p.status,
            amount: p.amount,
            attempts: None,
            last_error: None,
        }
    }
}

/// One step of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: u32,
    pub status: OrderStatus,
    /// RFC 3339, from the workflow's clock (deterministic on replay).
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// The order as customers, stores and riders see it: the API's order view and the read model's
/// row. The workflow builds it; the projection stores it; the api serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub status: OrderStatus,
    pub customer_id: String,
    pub store_id: String,
    pub store_name: String,
    pub region: String,
    pub items: Vec<LineItem>,
    pub total: i64,
    pub delivery: DeliveryAddress,
    pub pickup: Pickup,
    pub payment: PaymentInfo,
    /// What the order owes back, once it owes anything: `pending` from the moment the order is
    /// settled (rejected, canceled) until the PSP confirms the money moved, then the refund.
    pub refund: Option<RefundView>,
    pub rider_id: Option<String>,
    pub history: Vec<HistoryEntry>,
    pub created_at: String,
    pub updated_at: String,
    /// Sequence number of the latest history entry.
    pub seq: u32,
    /// Bumped by the workflow on every change to this view (a transition, a refund, a widened
    /// search): the read model keeps the view with the highest version.
    pub version: u32,
    /// Extra kilometres added to riders' search radius after nobody claimed in time.
    pub search_radius_bonus_km: f64,
    /// When the read model erased this closed order's personal data (RFC 3339): set by the
    /// read model's retention (`baedal_readmodel::ERASED_MARK`), never by the workflow, whose
    /// views therefore serialize exactly as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data_erased_at: Option<String>,
}

/// Where the rider picks the food up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pickup {
    pub store_name: String,
    pub lat: f64,
    pub lon: f64,
}

/// Why an order could not be established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceFailure {
    /// `payment_declined`, `payment_unavailable`, `payment_refused` or
    /// `idempotency_key_expired` (serialized as that name, as histories hold it).
    pub code: OrderCode,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

/// What the `place` update answers: the paid order, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PlaceOutcome {
    Placed { order: Box<OrderView> },
    Failed { failure: PlaceFailure },
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as S;

    #[test]
    fn an_order_is_summed_up_by_its_first_item_and_how_many_more() {
        let line = |name: &str, quantity| LineItem {
            menu_item_id: "m".into(),
            name: name.into(),
            unit_price: 1,
            quantity,
            line_total: quantity as i64,
        };
        assert_eq!(summary(&[]), "");
        assert_eq!(summary(&[line("김치찌개", 1)]), "김치찌개");
        assert_eq!(summary(&[line("김치찌개", 2)]), "김치찌개 2개");
        assert_eq!(
            summary(&[line("김치찌개", 2), line("공기밥", 1), line("콜라", 3)]),
            "김치찌개 2개 외 2건"
        );
    }

    /// Every action (by rider r1, with a reason where needed) and the workflow's own commands.
    fn all_commands() -> Vec<Command> {
        Action::ALL
            .iter()
            .map(|a| a.by("r1", a.rule().needs_reason.then(|| "x".to_owned())))
            .chain([
                Command::StoreTimeout,
                Command::AutoConfirm,
                Command::PickupTimeout,
                Command::EngineCancel {
                    reason: "web ui".into(),
                },
            ])
            .collect()
    }

    /// The transition table (docs/contract.md "Statuses and commands"), written out: (from, command name) → to, for rider r1 assigned.
    fn allowed(from: S, cmd: &str) -> Option<S> {
        Some(match (from, cmd) {
            (S::Placed, "accept") => S::Accepted,
            (S::Placed, "reject") => S::Rejected,
            (S::Placed, "store_timeout") => S::Rejected,
            (S::Placed, "cancel") | (S::Accepted, "cancel") => S::Canceled,
            (S::Accepted, "start_cooking") => S::Cooking,
            (S::Cooking, "finish_cooking") => S::ReadyForPickup,
            (S::ReadyForPickup, "claim") => S::RiderAssigned,
            (S::RiderAssigned, "pickup") => S::PickedUp,
            (S::RiderAssigned, "release" | "pickup_timeout") => S::ReadyForPickup,
            (S::PickedUp, "deliver") => S::Delivered,
            (S::Delivered, "confirm") | (S::Delivered, "auto_confirm") => S::Completed,
            (s, "ops_cancel" | "engine_cancel") if !s.is_terminal() => S::Canceled,
            _ => return None,
        })
    }

    #[test]
    fn every_status_and_command_follows_the_design_table() {
        for from in S::ALL {
            let rider = (!matches!(
                from,
                S::Placed | S::Accepted | S::Cooking | S::ReadyForPickup
            ))
            .then_some("r1");
            for cmd in all_commands() {
                let got = decide(from, rider, &cmd);
                match allowed(from, cmd.name()) {
                    Some(to) => assert_eq!(got, Ok(to), "{from} --{}-->", cmd.name()),
                    None => assert!(got.is_err(), "{from} --{}--> should be refused", cmd.name()),
                }
            }
        }
    }

    #[test]
    fn terminal_statuses_refuse_everything() {
        for from in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            for cmd in all_commands() {
                assert!(decide(from, Some("r1"), &cmd).is_err());
            }
        }
    }

    #[test]
    fn cancel_after_cooking_started_is_an_invalid_transition() {
        for from in [S::Cooking, S::ReadyForPickup, S::RiderAssigned, S::PickedUp] {
            let err = decide(from, Some("r1"), &Action::Cancel.by("someone", None)).unwrap_err();
            assert_eq!(err.code(), OrderCode::InvalidTransition);
            assert!(err.to_string().contains(from.as_str()));
        }
    }

    #[test]
    fn second_rider_gets_already_claimed() {
        let claim = |r: &str| Action::Claim.by(r, None);
        assert_eq!(
            decide(S::RiderAssigned, Some("r1"), &claim("r2")),
            Err(Refusal::AlreadyClaimed)
        );
        // The winner claiming again is just an invalid transition, not a lost race.
        assert_eq!(
            decide(S::RiderAssigned, Some("r1"), &claim("r1"))
                .unwrap_err()
                .code(),
            OrderCode::InvalidTransition
        );
    }

    #[test]
    fn only_the_assigned_rider_picks_up_and_delivers() {
        let pickup = |r: &str| Action::Pickup.by(r, None);
        let deliver = |r: &str| Action::Deliver.by(r, None);
        assert_eq!(
            decide(S::RiderAssigned, Some("r1"), &pickup("r2")),
            Err(Refusal::NotAssignedRider)
        );
        assert_eq!(
            decide(S::PickedUp, Some("r1"), &deliver("r2")),
            Err(Refusal::NotAssignedRider)
        );
        assert_eq!(
            decide(S::PickedUp, Some("r1"), &deliver("r1")),
            Ok(S::Delivered)
        );
    }

    /// A place answer as histories and placement queries hold it (the code a string) reads
    /// back typed, and writes the same text again.
    #[test]
    fn a_stored_place_failure_reads_back_typed_and_writes_the_same() {
        let stored = serde_json::json!({"outcome": "failed", "failure": {
            "code": "payment_declined",
            "message": "the card was declined: use another card",
            "retry_after_secs": null,
        }});
        let outcome: PlaceOutcome = serde_json::from_value(stored.clone()).unwrap();
        let PlaceOutcome::Failed { failure } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(failure.code, OrderCode::PaymentDeclined);
        assert_eq!(serde_json::to_value(&outcome).unwrap(), stored);
    }

    #[test]
    fn every_refusal_code_is_listed() {
        for r in [
            Refusal::InvalidTransition {
                status: S::Cooking,
                command: "cancel".into(),
            },
            Refusal::AlreadyClaimed,
            Refusal::NotAssignedRider,
            Refusal::IdempotencyKeyReused,
            Refusal::AttemptExpired,
        ] {
            assert!(Refusal::CODES.contains(&r.code()), "{r}");
        }
    }

    #[test]
    fn ops_can_cancel_any_open_order_and_nothing_closed() {
        let cancel = Action::OpsCancel.by("someone", Some("x".into()));
        for from in S::ALL {
            let got = decide(from, Some("r1"), &cancel);
            if from.is_terminal() {
                assert_eq!(
                    got.unwrap_err().code(),
                    OrderCode::InvalidTransition,
                    "{from}"
                );
            } else {
                assert_eq!(got, Ok(S::Canceled), "{from}");
            }
        }
    }
}
