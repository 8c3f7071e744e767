//! One order's state and every way it can change: the payment that establishes it
//! (placement), the commands that move it, the widened rider search and the refund.
//!
//! The workflow holds an [`OrderState`] and changes it only through these methods, so the
//! rules of which status follows which live here and nowhere else. Time comes in as an
//! argument (the workflow's clock); nothing here reads a clock.

use crate::code::OrderCode;
use crate::commands::Action;
use crate::order::{Command, HistoryEntry, PaymentInfo, PlaceFailure, Refusal, decide};
use crate::status::OrderStatus;
use serde::{Deserialize, Serialize};

/// Where the order is relative to its charge. Only an `Established` order exists for the
/// store, riders and the read model; the others are answers to the customer's place request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "placement", rename_all = "snake_case")]
pub enum Placement {
    /// The charge is in flight.
    Charging,
    /// Paid: the order exists.
    Established,
    /// The PSP declined the card. Final.
    Declined,
    /// The PSP could not be reached; the attempt waits for the customer's retry (same
    /// Idempotency-Key), which charges again.
    Unavailable { retry_after_secs: u64 },
    /// Nobody retried in time: any charge that landed late is voided, retries are refused.
    Expired,
    /// The PSP's record for this order's charge key is not money this attempt may take (it was
    /// refunded or voided, or is for another amount or card): final, nothing charged now.
    Refused { message: String },
}

/// What the PSP answered to a charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargeResult {
    Approved(PaymentInfo),
    Declined,
    /// The PSP answered with a record this order may not count as its payment (see
    /// [`Placement::Refused`]).
    Refused {
        message: String,
    },
    /// No answer (PSP down, breaker open): come back after this many seconds.
    Unavailable {
        retry_after_secs: u64,
    },
}

/// How far each unanswered rider-claim timer widens the riders' search, and how often: with
/// the order's other timers in [`crate::timing`].
pub use crate::timing::{MAX_ESCALATIONS, RADIUS_STEP_KM};

/// The order's state: placement, status, history and money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    placement: Placement,
    /// The lifecycle status once established (`placed` before).
    status: OrderStatus,
    rider_id: Option<String>,
    history: Vec<HistoryEntry>,
    updated_at: String,
    /// Bumped on every change a reader can see (transition, refund, widened search): the read
    /// model keeps the highest.
    version: u32,
    payment: Option<PaymentInfo>,
    refund: Option<PaymentInfo>,
    /// The refund owed has been settled (given back, or the PSP held nothing to give back).
    #[serde(default)]
    refund_settled: bool,
    escalations: u32,
    radius_bonus_km: f64,
}

impl OrderState {
    /// A new attempt, charging, as of `created_at`.
    pub fn new(created_at: String) -> Self {
        Self {
            placement: Placement::Charging,
            status: OrderStatus::Placed,
            rider_id: None,
            history: Vec::new(),
            updated_at: created_at,
            version: 0,
            payment: None,
            refund: None,
            refund_settled: false,
            escalations: 0,
            radius_bonus_km: 0.0,
        }
    }

    /// The status the API, the read model and the `OrderStatus` search attribute show: the
    /// lifecycle status once established; `placed` while charging; `payment_failed` when the
    /// charge did not establish the order.
    pub fn status(&self) -> OrderStatus {
        match self.placement {
            Placement::Charging | Placement::Established => self.status,
            Placement::Declined
            | Placement::Unavailable { .. }
            | Placement::Expired
            | Placement::Refused { .. } => OrderStatus::PaymentFailed,
        }
    }

    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    pub fn is_established(&self) -> bool {
        self.placement == Placement::Established
    }

    pub fn rider_id(&self) -> Option<&str> {
        self.rider_id.as_deref()
    }

    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }

    pub fn updated_at(&self) -> &str {
        &self.updated_at
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn payment(&self) -> Option<&PaymentInfo> {
        self.payment.as_ref()
    }

    pub fn refund(&self) -> Option<&PaymentInfo> {
        self.refund.as_ref()
    }

    pub fn escalations(&self) -> u32 {
        self.escalations
    }

    pub fn radius_bonus_km(&self) -> f64 {
        self.radius_bonus_km
    }

    /// The PSP answered (or could not be reached). Only a charge in flight takes an answer.
    pub fn charge_answered(&mut self, result: ChargeResult, at: String) -> Result<(), Refusal> {
        if self.placement != Placement::Charging {
            return Err(self.refuse("charge"));
        }
        self.placement = match result {
            ChargeResult::Approved(payment) => {
                self.payment = Some(payment);
                self.placement = Placement::Established;
                self.record(OrderStatus::Placed, at, None);
                return Ok(());
            }
            ChargeResult::Declined => Placement::Declined,
            ChargeResult::Refused { message } => Placement::Refused { message },
            ChargeResult::Unavailable { retry_after_secs } => {
                Placement::Unavailable { retry_after_secs }
            }
        };
        Ok(())
    }

    /// Whether a place-order retry (same key, same body) is answered now: refused once the
    /// attempt expired, and otherwise taken (it charges again when payment was unavailable).
    pub fn check_place_retry(&self) -> Result<(), Refusal> {
        match self.placement {
            Placement::Expired => Err(Refusal::AttemptExpired),
            _ => Ok(()),
        }
    }

    /// A place-order retry arrived: an attempt waiting after "payment unavailable" charges
    /// again. Answers whether a new charge starts.
    pub fn retry_payment(&mut self) -> bool {
        if matches!(self.placement, Placement::Unavailable { .. }) {
            self.placement = Placement::Charging;
            true
        } else {
            false
        }
    }

    /// Nobody retried an unavailable attempt in time (or the engine was asked to cancel it):
    /// it expires, and whatever may have been charged must be given back.
    pub fn expire(&mut self) -> Result<(), Refusal> {
        match self.placement {
            Placement::Unavailable { .. } | Placement::Charging => {
                self.placement = Placement::Expired;
                Ok(())
            }
            _ => Err(self.refuse("expire")),
        }
    }

    /// Why the place request has no order, once the charge has answered without one.
    pub fn place_failure(&self) -> Option<PlaceFailure> {
        match &self.placement {
            Placement::Declined => Some(PlaceFailure {
                code: OrderCode::PaymentDeclined,
                message: "the card was declined: use another card".into(),
                retry_after_secs: None,
            }),
            Placement::Unavailable { retry_after_secs } => Some(PlaceFailure {
                code: OrderCode::PaymentUnavailable,
                message: "payment is unavailable right now: please pay a little later".into(),
                retry_after_secs: Some(*retry_after_secs),
            }),
            Placement::Refused { message } => Some(PlaceFailure {
                code: OrderCode::PaymentRefused,
                message: format!(
                    "{message}; nothing was charged for this attempt: place the order again with a new Idempotency-Key"
                ),
                retry_after_secs: None,
            }),
            Placement::Expired => Some(PlaceFailure {
                code: OrderCode::IdempotencyKeyExpired,
                message: Refusal::AttemptExpired.to_string(),
                retry_after_secs: None,
            }),
            Placement::Charging | Placement::Established => None,
        }
    }

    /// Whether `cmd` would be taken now, and the status it would lead to. Commands need an
    /// established order.
    pub fn check(&self, cmd: &Command) -> Result<OrderStatus, Refusal> {
        if !self.is_established() {
            return Err(self.refuse(cmd.name()));
        }
        decide(self.status, self.rider_id.as_deref(), cmd)
    }

    /// Apply `cmd` at `at`; answers the version the change has.
    pub fn apply(&mut self, cmd: &Command, at: String) -> Result<u32, Refusal> {
        let to = self.check(cmd)?;
        match cmd {
            Command::Person {
                action: Action::Claim,
                actor,
                ..
            } => self.rider_id = Some(actor.clone()),
            // Back on the board: nobody carries it any more.
            _ if to == OrderStatus::ReadyForPickup => self.rider_id = None,
            _ => {}
        }
        Ok(self.record(to, at, cmd.reason()))
    }

    /// Nobody claimed the delivery in time: widen the riders' search. Answers false once the
    /// search is as wide as it gets (or the order is no longer waiting for a rider).
    pub fn escalate(&mut self) -> bool {
        if self.status != OrderStatus::ReadyForPickup || self.escalations >= MAX_ESCALATIONS {
            return false;
        }
        self.escalations += 1;
        self.radius_bonus_km += RADIUS_STEP_KM;
        self.version += 1;
        true
    }

    /// Whether the order's end leaves money to give back: it was charged and ended without
    /// the food (rejected, canceled), or the attempt expired (a late charge is voided).
    pub fn owes_refund(&self) -> bool {
        match self.placement {
            Placement::Established => self.status.owes_refund(),
            Placement::Expired => true,
            _ => false,
        }
    }

    /// The refund went through (`None`: the PSP holds no charge, nothing was owed).
    pub fn refunded(&mut self, refund: Option<PaymentInfo>) {
        self.refund = refund;
        self.refund_settled = true;
        self.version += 1;
    }

    /// Whether a refund is owed and not yet confirmed: from the moment the order is settled
    /// until the PSP confirms the money moved. The order shows it as `pending`.
    pub fn refund_pending(&self) -> bool {
        self.owes_refund() && !self.refund_settled
    }

    fn refuse(&self, command: &str) -> Refusal {
        Refusal::InvalidTransition {
            status: self.status(),
            command: command.to_owned(),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as S;

    fn paid() -> PaymentInfo {
        PaymentInfo {
            id: "pay_1".into(),
            status: "succeeded".into(),
            amount: 9000,
        }
    }

    fn at(n: u32) -> String {
        format!("2026-01-01T00:00:{n:02}.000Z")
    }

    fn established() -> OrderState {
        let mut s = OrderState::new(at(0));
        s.charge_answered(ChargeResult::Approved(paid()), at(1))
            .unwrap();
        s
    }

    #[test]
    fn an_approved_charge_establishes_the_order_as_placed() {
        let s = established();
        assert!(s.is_established());
        assert_eq!(s.status(), S::Placed);
        assert_eq!(s.history().len(), 1);
        assert_eq!(s.version(), 1);
        assert_eq!(s.place_failure(), None);
    }

    #[test]
    fn nothing_moves_an_order_before_it_is_paid() {
        let mut s = OrderState::new(at(0));
        assert_eq!(s.status(), S::Placed, "indexed as placed while charging");
        for cmd in [
            Action::Accept.by("someone", None),
            Action::Cancel.by("someone", None),
            Action::OpsCancel.by("someone", Some("x".into())),
        ] {
            assert_eq!(
                s.check(&cmd).unwrap_err().code(),
                OrderCode::InvalidTransition
            );
            assert!(s.apply(&cmd, at(1)).is_err());
        }
        assert!(s.history().is_empty());
    }

    #[test]
    fn a_declined_charge_is_final_and_owes_nothing() {
        let mut s = OrderState::new(at(0));
        s.charge_answered(ChargeResult::Declined, at(1)).unwrap();
        assert_eq!(s.status(), S::PaymentFailed);
        assert_eq!(s.place_failure().unwrap().code, OrderCode::PaymentDeclined);
        assert!(!s.retry_payment(), "a decline is not charged again");
        assert!(!s.owes_refund());
        assert!(s.charge_answered(ChargeResult::Declined, at(2)).is_err());
    }

    #[test]
    fn unavailable_payment_charges_again_on_retry_and_expires_without_one() {
        let mut s = OrderState::new(at(0));
        s.charge_answered(
            ChargeResult::Unavailable {
                retry_after_secs: 7,
            },
            at(1),
        )
        .unwrap();
        let f = s.place_failure().unwrap();
        assert_eq!(
            (f.code, f.retry_after_secs),
            (OrderCode::PaymentUnavailable, Some(7))
        );
        assert_eq!(s.status(), S::PaymentFailed);
        assert!(s.check_place_retry().is_ok());
        assert!(s.retry_payment());
        assert_eq!(s.placement(), &Placement::Charging);
        s.charge_answered(ChargeResult::Approved(paid()), at(2))
            .unwrap();
        assert!(s.is_established());

        let mut late = OrderState::new(at(0));
        late.charge_answered(
            ChargeResult::Unavailable {
                retry_after_secs: 7,
            },
            at(1),
        )
        .unwrap();
        late.expire().unwrap();
        assert_eq!(late.check_place_retry(), Err(Refusal::AttemptExpired));
        assert!(!late.retry_payment());
        assert!(late.owes_refund(), "a late charge is voided");
        assert_eq!(late.status(), S::PaymentFailed);
    }

    #[test]
    fn a_refused_charge_is_final_owes_nothing_and_says_why() {
        let mut s = OrderState::new(at(0));
        s.charge_answered(
            ChargeResult::Refused {
                message: "the charge for this key was refunded".into(),
            },
            at(1),
        )
        .unwrap();
        assert_eq!(s.status(), S::PaymentFailed);
        let f = s.place_failure().unwrap();
        assert_eq!(f.code, OrderCode::PaymentRefused);
        assert!(f.message.contains("refunded"), "{}", f.message);
        assert!(!s.retry_payment(), "a refusal is not charged again");
        assert!(!s.owes_refund(), "this attempt took nothing");
        assert!(!s.is_established());
    }

    #[test]
    fn commands_follow_the_table_and_record_reasons() {
        let mut s = established();
        s.apply(&Action::Accept.by("someone", None), at(2)).unwrap();
        assert!(s.apply(&Action::Accept.by("someone", None), at(3)).is_err());
        s.apply(&Action::StartCooking.by("someone", None), at(3))
            .unwrap();
        assert_eq!(
            s.check(&Action::Cancel.by("someone", None))
                .unwrap_err()
                .code(),
            OrderCode::InvalidTransition
        );
        let v = s
            .apply(
                &Action::OpsCancel.by("someone", Some("kitchen fire".into())),
                at(4),
            )
            .unwrap();
        assert_eq!(v, 4);
        assert_eq!(s.status(), S::Canceled);
        assert_eq!(s.updated_at(), at(4));
        let last = s.history().last().unwrap();
        assert!(last.reason.as_deref().unwrap().contains("kitchen fire"));
        assert!(s.owes_refund());
        assert!(s.refund_pending(), "owed from the cancel on");
        s.refunded(Some(paid()));
        assert!(!s.refund_pending(), "settled once the PSP confirms it");
        assert_eq!(s.version(), 5);
    }

    #[test]
    fn a_released_or_unpicked_claim_goes_back_to_the_board_without_its_rider() {
        let mut s = established();
        for cmd in [
            Action::Accept.by("someone", None),
            Action::StartCooking.by("someone", None),
            Action::FinishCooking.by("someone", None),
            Action::Claim.by("r1", None),
        ] {
            s.apply(&cmd, at(2)).unwrap();
        }
        assert_eq!(
            s.check(&Action::Release.by("r2", None)).unwrap_err(),
            Refusal::NotAssignedRider,
            "only the rider carrying it"
        );
        s.apply(&Action::Release.by("r1", None), at(3)).unwrap();
        assert_eq!((s.status(), s.rider_id()), (S::ReadyForPickup, None));
        s.apply(&Action::Claim.by("r2", None), at(4)).unwrap();
        assert_eq!(s.rider_id(), Some("r2"));
        s.apply(&Command::PickupTimeout, at(5)).unwrap();
        assert_eq!((s.status(), s.rider_id()), (S::ReadyForPickup, None));
        assert!(
            s.history()
                .last()
                .unwrap()
                .reason
                .as_deref()
                .unwrap()
                .contains("in time"),
            "the history says why"
        );
        s.apply(&Action::Claim.by("r3", None), at(6)).unwrap();
        s.apply(&Action::Pickup.by("r3", None), at(7)).unwrap();
        assert!(
            s.apply(&Action::Release.by("r3", None), at(8)).is_err(),
            "not once picked up"
        );
        assert!(s.apply(&Command::PickupTimeout, at(8)).is_err());
    }

    #[test]
    fn the_search_widens_three_times_at_most() {
        let mut s = established();
        for cmd in [
            Action::Accept.by("someone", None),
            Action::StartCooking.by("someone", None),
            Action::FinishCooking.by("someone", None),
        ] {
            s.apply(&cmd, at(2)).unwrap();
        }
        assert!(s.escalate() && s.escalate() && s.escalate());
        assert!(!s.escalate());
        assert_eq!(s.radius_bonus_km(), 3.0 * RADIUS_STEP_KM);
        s.apply(&Action::Claim.by("r1", None), at(3)).unwrap();
        assert_eq!(s.rider_id(), Some("r1"));
        assert!(!s.escalate(), "an assigned delivery is not escalated");
    }
}
