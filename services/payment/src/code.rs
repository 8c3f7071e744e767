//! [`PaymentCode`]: every code the payment service answers with, each with its status and
//! retry rule (the mechanism is `baedal_http`'s; see `baedal_domain::code` for where each
//! door's codes live). The service's own enum rather than one shared with the api or the
//! notification service: a client of this service reads these and only these (`parse`), and
//! names alike in two doors need not mean the same (this `unavailable` is the fault switch).

baedal_http::error_codes! {
    /// Every code the payment service answers with (besides the common ones).
    pub enum PaymentCode {
        /// The fault switch turned payment off: retry after `Retry-After`.
        Unavailable = ("unavailable", SERVICE_UNAVAILABLE, retry_after = 5),
        /// The fault switch's error rate hit this request.
        InjectedError = ("injected_error", INTERNAL_SERVER_ERROR),
        InvalidRequest = ("invalid_request", UNPROCESSABLE_ENTITY),
        InvalidAmount = ("invalid_amount", UNPROCESSABLE_ENTITY),
        InvalidFaults = ("invalid_faults", UNPROCESSABLE_ENTITY),
        /// The key was first used for other money: use a new key.
        IdempotencyKeyMismatch = ("idempotency_key_mismatch", CONFLICT),
        /// Nothing was charged for the order: a refund owed is settled.
        NoSucceededCharge = ("no_succeeded_charge", CONFLICT),
        RefundExceedsCharge = ("refund_exceeds_charge", CONFLICT),
    }
}

/// An error answer of the payment service.
pub type ApiError = baedal_http::ApiError<PaymentCode>;
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    /// The client crate names two codes its callers act on; they are these.
    #[test]
    fn the_clients_codes_are_the_services() {
        use super::PaymentCode;
        assert_eq!(
            PaymentCode::NoSucceededCharge.as_str(),
            baedal_payment_client::NO_SUCCEEDED_CHARGE
        );
        assert_eq!(
            PaymentCode::IdempotencyKeyMismatch.as_str(),
            baedal_payment_client::IDEMPOTENCY_KEY_MISMATCH
        );
    }

    #[test]
    fn every_code_is_written_once_and_retried_where_it_should_be() {
        assert_eq!(baedal_http::check_codes(super::PaymentCode::OWN), Ok(()));
    }
}
