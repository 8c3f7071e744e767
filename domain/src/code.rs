//! [`OrderCode`]: why an order said no, as a code.
//!
//! Where the error codes live, from the bottom up:
//! - here, the codes the order itself answers with: a refused command ([`crate::Refusal`])
//!   and a placement that established no order ([`crate::PlaceFailure`], kept in workflow
//!   histories). Pure data: no HTTP status, no retry rule, since the domain does not know how
//!   a caller is answered;
//! - `baedal_http`, the mechanism every door shares: the `ErrorCode` trait (a code's wire
//!   name, HTTP status and retry rule), the codes every door answers with (`CommonCode`), and
//!   the error shape (`ApiError<C>`);
//! - each door's own enum of codes with their statuses and retry rules: the api's `ApiCode`
//!   (which answers each of these codes under the same name, but `not_assigned_rider`, which
//!   it answers as `order_not_found`), the payment service's `PaymentCode`, the notification
//!   service's `NotifyCode`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an order said no. Serialized as its snake_case name (`payment_declined`), which is what
/// the workflow failure types and the place answers in histories hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderCode {
    /// A command not allowed in the order's status.
    InvalidTransition,
    /// Another rider claimed the delivery first.
    AlreadyClaimed,
    /// The rider is not the one assigned to the delivery.
    NotAssignedRider,
    /// A place-order retry whose Idempotency-Key belongs to another request body.
    IdempotencyKeyReused,
    /// A place-order attempt that expired without a charge (payment stayed unavailable).
    IdempotencyKeyExpired,
    /// The card was declined.
    PaymentDeclined,
    /// Payment could not be reached: the same request may be retried later.
    PaymentUnavailable,
    /// The payment service refused the charge for good; nothing was charged.
    PaymentRefused,
}

impl OrderCode {
    pub const ALL: [OrderCode; 8] = [
        OrderCode::InvalidTransition,
        OrderCode::AlreadyClaimed,
        OrderCode::NotAssignedRider,
        OrderCode::IdempotencyKeyReused,
        OrderCode::IdempotencyKeyExpired,
        OrderCode::PaymentDeclined,
        OrderCode::PaymentUnavailable,
        OrderCode::PaymentRefused,
    ];

    /// The code as it is written (the serde name).
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderCode::InvalidTransition => "invalid_transition",
            OrderCode::AlreadyClaimed => "already_claimed",
            OrderCode::NotAssignedRider => "not_assigned_rider",
            OrderCode::IdempotencyKeyReused => "idempotency_key_reused",
            OrderCode::IdempotencyKeyExpired => "idempotency_key_expired",
            OrderCode::PaymentDeclined => "payment_declined",
            OrderCode::PaymentUnavailable => "payment_unavailable",
            OrderCode::PaymentRefused => "payment_refused",
        }
    }

    /// The code written as `s`, reading it back (a failure type, say).
    pub fn parse(s: &str) -> Option<OrderCode> {
        OrderCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for OrderCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serde_name_is_the_code_and_reads_back() {
        for c in OrderCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert_eq!(
                serde_json::from_value::<OrderCode>(c.as_str().into()).unwrap(),
                c
            );
            assert_eq!(OrderCode::parse(c.as_str()), Some(c));
        }
        assert_eq!(OrderCode::parse("nonsense"), None);
    }
}
