//! [`NotifyCode`]: every code the notification service answers with, each with its status and
//! retry rule (the mechanism is `baedal_http`'s; see `baedal_domain::code` for where each
//! door's codes live). The service's own enum, as the payment service has its own: a client
//! reads this door's codes and only these (`parse`).

baedal_http::error_codes! {
    /// Every code the notification service answers with (besides the common ones).
    pub enum NotifyCode {
        /// The fault switch turned the service off: retry after `Retry-After`.
        Unavailable = ("unavailable", SERVICE_UNAVAILABLE, retry_after = 5),
        InvalidNotification = ("invalid_notification", UNPROCESSABLE_ENTITY),
        MissingFilter = ("missing_filter", BAD_REQUEST),
        /// The api did not name whom the request is for (`x-baedal-owner`).
        MissingOwner = ("missing_owner", BAD_REQUEST),
        HookNotFound = ("hook_not_found", NOT_FOUND),
        DeliveryNotFound = ("delivery_not_found", NOT_FOUND),
        InvalidHook = ("invalid_hook", UNPROCESSABLE_ENTITY),
        InvalidHookUrl = ("invalid_hook_url", UNPROCESSABLE_ENTITY),
        InvalidLimit = ("invalid_limit", UNPROCESSABLE_ENTITY),
        HookDisabled = ("hook_disabled", CONFLICT),
        InvalidPhone = ("invalid_phone", UNPROCESSABLE_ENTITY),
        /// KakaoTalk asked for and no phone number on file.
        PhoneRequired = ("phone_required", CONFLICT),
        /// KakaoTalk asked for a number the customer has not proven with a code.
        PhoneNotVerified = ("phone_not_verified", CONFLICT),
        /// This deployment has no KakaoTalk gateway: no code can be sent.
        KakaoOff = ("kakao_off", CONFLICT),
        /// Too many codes sent to the customer, or to the number, lately.
        TooManyCodes = ("too_many_codes", TOO_MANY_REQUESTS, retry_after = 60),
        /// The gateway did not take the code: retry shortly.
        KakaoUnavailable = ("kakao_unavailable", SERVICE_UNAVAILABLE, retry_after = 5),
        /// Not six digits.
        InvalidCode = ("invalid_code", UNPROCESSABLE_ENTITY),
        /// The code does not match the one sent (tries are left). A conflict with the code on
        /// file, not a malformed request: the request itself is well formed.
        WrongCode = ("wrong_code", CONFLICT),
        /// No code waiting: none was asked for, or the last one proved its number.
        NoCodePending = ("no_code_pending", CONFLICT),
        CodeExpired = ("code_expired", CONFLICT),
        /// The code was tried as often as allowed: ask for a new one.
        TooManyAttempts = ("too_many_attempts", TOO_MANY_REQUESTS, retry_after = 1),
    }
}

/// An error answer of the notification service.
pub type ApiError = baedal_http::ApiError<NotifyCode>;
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_written_once_and_retried_where_it_should_be() {
        assert_eq!(baedal_http::check_codes(super::NotifyCode::OWN), Ok(()));
    }
}
