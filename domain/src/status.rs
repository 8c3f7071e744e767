//! Order statuses and the transition table (docs/contract.md "Statuses and commands"; the commands that move
//! between them are the command table in `commands.rs`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where an order is in its life. The snake_case form is the API's `status`, the read model's
/// column and the `OrderStatus` search attribute, so all three always agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Accepted,
    Cooking,
    ReadyForPickup,
    RiderAssigned,
    PickedUp,
    Delivered,
    Completed,
    Rejected,
    Canceled,
    PaymentFailed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 11] = [
        OrderStatus::Placed,
        OrderStatus::Accepted,
        OrderStatus::Cooking,
        OrderStatus::ReadyForPickup,
        OrderStatus::RiderAssigned,
        OrderStatus::PickedUp,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Rejected,
        OrderStatus::Canceled,
        OrderStatus::PaymentFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Accepted => "accepted",
            OrderStatus::Cooking => "cooking",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::RiderAssigned => "rider_assigned",
            OrderStatus::PickedUp => "picked_up",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Canceled => "canceled",
            OrderStatus::PaymentFailed => "payment_failed",
        }
    }

    /// No command moves an order out of a terminal status; its workflow ends there.
    /// Whether a rider has taken the delivery (claimed it, and maybe more since).
    pub fn has_rider(self) -> bool {
        matches!(
            self,
            OrderStatus::RiderAssigned
                | OrderStatus::PickedUp
                | OrderStatus::Delivered
                | OrderStatus::Completed
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Rejected
                | OrderStatus::Canceled
                | OrderStatus::PaymentFailed
        )
    }

    /// Terminal statuses reached after the charge succeeded: the customer is owed a refund.
    pub fn owes_refund(self) -> bool {
        matches!(self, OrderStatus::Rejected | OrderStatus::Canceled)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unknown string, for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown order status '{}'", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_round_trips_and_matches_serde() {
        for st in OrderStatus::ALL {
            assert_eq!(st.as_str().parse::<OrderStatus>().unwrap(), st);
            assert_eq!(
                serde_json::to_string(&st).unwrap(),
                format!("\"{}\"", st.as_str())
            );
        }
        assert!("cooked".parse::<OrderStatus>().is_err());
    }

    #[test]
    fn only_rejected_and_canceled_owe_refunds() {
        let owed: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|s| s.owes_refund())
            .collect();
        assert_eq!(owed, vec![OrderStatus::Rejected, OrderStatus::Canceled]);
    }
}
