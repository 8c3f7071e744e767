//! The command table: who may do what to an order, from which statuses, to which status. This
//! is the one place it is written. The state machine ([`crate::decide`]) reads it; the workflow
//! generates one named Temporal update (with its validator) per [`Action`] from
//! [`with_actions!`]; the api derives its command routes, role checks and OpenAPI entries from
//! [`Action::ALL`] and [`Action::rule`].

use crate::OrderStatus;
use serde::{Deserialize, Serialize};

/// Every command a person sends, written once: `Variant update_name validator_name`. The update
/// name is also the command's name in history and the Web UI. Whatever lists the actions
/// expands this with a macro of its own (`$then`), so a new action cannot be forgotten there.
#[macro_export]
macro_rules! with_actions {
    ($then:ident) => {
        $then! {
            Accept accept validate_accept,
            Reject reject validate_reject,
            StartCooking start_cooking validate_start_cooking,
            FinishCooking finish_cooking validate_finish_cooking,
            Cancel cancel validate_cancel,
            Claim claim validate_claim,
            Release release validate_release,
            Pickup pickup validate_pickup,
            Deliver deliver validate_deliver,
            Confirm confirm validate_confirm,
            OpsCancel ops_cancel validate_ops_cancel,
        }
    };
}

macro_rules! define_actions {
    ($($variant:ident $name:ident $validator:ident),* $(,)?) => {
        /// A command a person sends through the api (timers and the engine send theirs from
        /// inside the workflow: [`crate::Command`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($variant),*
        }

        impl Action {
            /// Every action, in the table's order.
            pub const ALL: &[Action] = &[$(Action::$variant),*];

            /// The action's name: its Temporal update, its history entry, its api path segment.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => stringify!($name)),*
                }
            }
        }
    };
}

with_actions!(define_actions);

/// Who sends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Customer,
    StoreOwner,
    Rider,
    Ops,
    /// One of the order's own timers.
    Timer,
    /// Temporal itself (a cancel request from the Web UI or CLI).
    Engine,
}

/// The statuses a command is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statuses {
    These(&'static [OrderStatus]),
    /// Any status the order has not ended in.
    AnyOpen,
}

impl Statuses {
    pub fn allows(self, status: OrderStatus) -> bool {
        match self {
            Statuses::These(these) => these.contains(&status),
            Statuses::AnyOpen => !status.is_terminal(),
        }
    }
}

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub by: Party,
    pub from: Statuses,
    pub to: OrderStatus,
    /// The sender must say why (1..[`MAX_REASON_CHARS`] characters).
    pub needs_reason: bool,
    /// Only the rider assigned to the delivery may send it.
    pub assigned_rider_only: bool,
    /// What the command does, for people reading the api's documentation.
    pub doc: &'static str,
}

/// The longest reason a reject or an ops cancel may carry.
pub const MAX_REASON_CHARS: usize = 300;

const fn rule(by: Party, from: Statuses, to: OrderStatus, doc: &'static str) -> Rule {
    Rule {
        by,
        from,
        to,
        needs_reason: false,
        assigned_rider_only: false,
        doc,
    }
}

const fn with_reason(r: Rule) -> Rule {
    Rule {
        needs_reason: true,
        ..r
    }
}

const fn assigned_only(r: Rule) -> Rule {
    Rule {
        assigned_rider_only: true,
        ..r
    }
}

use OrderStatus as S;
use Party as P;

impl Action {
    /// Where the action is sent in the api: its party's prefix, then `{id}`, then its name in
    /// kebab-case (without the `ops_` that only tells it apart in the table). The api routes
    /// it there and its clients (the tools) call it there; both read it from here.
    pub fn path(self) -> String {
        let prefix = match self.rule().by {
            Party::Customer => "/v1/orders",
            Party::StoreOwner => "/v1/store/orders",
            Party::Rider => "/v1/rider/deliveries",
            Party::Ops | Party::Timer | Party::Engine => "/v1/ops/orders",
        };
        let name = self.name();
        let segment = name.strip_prefix("ops_").unwrap_or(name).replace('_', "-");
        format!("{prefix}/{{id}}/{segment}")
    }
}

impl Action {
    /// The table.
    pub const fn rule(self) -> Rule {
        match self {
            Action::Accept => rule(
                P::StoreOwner,
                Statuses::These(&[S::Placed]),
                S::Accepted,
                "The store takes the order.",
            ),
            Action::Reject => with_reason(rule(
                P::StoreOwner,
                Statuses::These(&[S::Placed]),
                S::Rejected,
                "The store turns the order down, saying why; the customer is refunded in full.",
            )),
            Action::StartCooking => rule(
                P::StoreOwner,
                Statuses::These(&[S::Accepted]),
                S::Cooking,
                "The kitchen starts cooking; from now on the customer can no longer cancel.",
            ),
            Action::FinishCooking => rule(
                P::StoreOwner,
                Statuses::These(&[S::Cooking]),
                S::ReadyForPickup,
                "The food is ready: the delivery goes on the riders' board.",
            ),
            Action::Cancel => rule(
                P::Customer,
                Statuses::These(&[S::Placed, S::Accepted]),
                S::Canceled,
                "The customer cancels before cooking starts, with a full refund.",
            ),
            Action::Claim => rule(
                P::Rider,
                Statuses::These(&[S::ReadyForPickup]),
                S::RiderAssigned,
                "A rider takes a delivery from the board; the first claim wins, later ones get 409 already_claimed.",
            ),
            Action::Release => assigned_only(rule(
                P::Rider,
                Statuses::These(&[S::RiderAssigned]),
                S::ReadyForPickup,
                "The assigned rider gives the delivery back before picking it up: it returns to the board for another rider.",
            )),
            Action::Pickup => assigned_only(rule(
                P::Rider,
                Statuses::These(&[S::RiderAssigned]),
                S::PickedUp,
                "The assigned rider picks the food up at the store.",
            )),
            Action::Deliver => assigned_only(rule(
                P::Rider,
                Statuses::These(&[S::PickedUp]),
                S::Delivered,
                "The assigned rider hands the food over.",
            )),
            Action::Confirm => rule(
                P::Customer,
                Statuses::These(&[S::Delivered]),
                S::Completed,
                "The customer confirms receipt (otherwise it is confirmed automatically).",
            ),
            Action::OpsCancel => with_reason(rule(
                P::Ops,
                Statuses::AnyOpen,
                S::Canceled,
                "Ops cancel an order in any open status, saying why, with a full refund.",
            )),
        }
    }
}

/// The rows of the commands only the workflow sends.
pub mod internal {
    use super::*;

    /// The store did not answer in time.
    pub const STORE_TIMEOUT: Rule = rule(
        P::Timer,
        Statuses::These(&[S::Placed]),
        S::Rejected,
        "the store did not answer in time",
    );
    /// Nobody confirmed a delivered order in time.
    pub const AUTO_CONFIRM: Rule = rule(
        P::Timer,
        Statuses::These(&[S::Delivered]),
        S::Completed,
        "confirmed automatically after delivery",
    );
    /// The assigned rider did not pick the food up in time (`BAEDAL_PICKUP_DEADLINE`): the
    /// delivery returns to the board.
    pub const PICKUP_TIMEOUT: Rule = rule(
        P::Timer,
        Statuses::These(&[S::RiderAssigned]),
        S::ReadyForPickup,
        "the rider did not pick the food up in time: back on the board",
    );
    /// Temporal was asked to cancel the workflow.
    pub const ENGINE_CANCEL: Rule = rule(
        P::Engine,
        Statuses::AnyOpen,
        S::Canceled,
        "canceled through Temporal",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_round_trip_through_serde() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.name());
            assert!(a.name().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn people_send_actions_and_only_the_workflow_sends_the_rest() {
        for a in Action::ALL {
            assert!(
                !matches!(a.rule().by, Party::Timer | Party::Engine),
                "{a:?}"
            );
        }
        for r in [
            internal::STORE_TIMEOUT,
            internal::AUTO_CONFIRM,
            internal::PICKUP_TIMEOUT,
            internal::ENGINE_CANCEL,
        ] {
            assert!(matches!(r.by, Party::Timer | Party::Engine));
        }
    }
}
