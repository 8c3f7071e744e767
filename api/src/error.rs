//! The api's errors: [`ApiCode`], every code the api answers with, each with its HTTP status
//! and retry rule, and the error shape of every baedal door ([`baedal_http::ApiError`]) over
//! it. Handlers match on codes, never on their text.
//!
//! Why here: the status and the retry rule are how the api answers, so they live with the
//! api, on the mechanism `baedal_http` gives every door (see its docs). The codes the order
//! itself answers with (a refused command, a placement without an order) are the domain's
//! `OrderCode`, pure data kept in workflow histories; the api answers each under the same
//! name ([`answer_code`]).

use baedal_domain::OrderCode;

pub use baedal_http::CommonCode;

/// An error answer of the api.
pub type ApiError = baedal_http::ApiError<ApiCode>;
pub type ApiResult<T> = Result<T, ApiError>;

baedal_http::error_codes! {
    /// Every code the api answers with (besides the [`CommonCode`]s every door shares).
    pub enum ApiCode {
        // The request itself.
        RouteNotFound = ("route_not_found", NOT_FOUND),
        MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED),
        MalformedJson = ("malformed_json", BAD_REQUEST),
        UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE),
        BodyTooLarge = ("body_too_large", PAYLOAD_TOO_LARGE),
        InvalidQuery = ("invalid_query", UNPROCESSABLE_ENTITY),
        InvalidLimit = ("invalid_limit", UNPROCESSABLE_ENTITY),
        InvalidStatus = ("invalid_status", UNPROCESSABLE_ENTITY),
        InvalidCursor = ("invalid_cursor", UNPROCESSABLE_ENTITY),
        InvalidCoordinates = ("invalid_coordinates", UNPROCESSABLE_ENTITY),
        InvalidRadius = ("invalid_radius", UNPROCESSABLE_ENTITY),
        InvalidLastEventId = ("invalid_last_event_id", UNPROCESSABLE_ENTITY),
        /// Past `BAEDAL_REQUEST_TIMEOUT`: retry shortly (place-order with the same key).
        RequestTimeout = ("request_timeout", SERVICE_UNAVAILABLE, retry_after = 1),

        // Dev tokens.
        InvalidRole = ("invalid_role", UNPROCESSABLE_ENTITY),
        InvalidSub = ("invalid_sub", UNPROCESSABLE_ENTITY),
        StoreIdRequired = ("store_id_required", UNPROCESSABLE_ENTITY),

        // The catalog and the menu.
        StoreNotFound = ("store_not_found", NOT_FOUND),
        MenuItemNotFound = ("menu_item_not_found", NOT_FOUND),
        ItemNotFound = ("item_not_found", NOT_FOUND),
        ItemUnavailable = ("item_unavailable", CONFLICT),
        InvalidPrice = ("invalid_price", UNPROCESSABLE_ENTITY),

        // Placing an order.
        MissingIdempotencyKey = ("missing_idempotency_key", BAD_REQUEST),
        InvalidIdempotencyKey = ("invalid_idempotency_key", BAD_REQUEST),
        InvalidField = ("invalid_field", UNPROCESSABLE_ENTITY),
        InvalidItems = ("invalid_items", UNPROCESSABLE_ENTITY),
        InvalidQuantity = ("invalid_quantity", UNPROCESSABLE_ENTITY),
        DuplicateItem = ("duplicate_item", UNPROCESSABLE_ENTITY),
        TotalTooLarge = ("total_too_large", UNPROCESSABLE_ENTITY),
        IdempotencyKeyReused = ("idempotency_key_reused", UNPROCESSABLE_ENTITY),
        IdempotencyKeyTooOld = ("idempotency_key_too_old", UNPROCESSABLE_ENTITY),
        IdempotencyKeyExpired = ("idempotency_key_expired", CONFLICT),
        PaymentDeclined = ("payment_declined", PAYMENT_REQUIRED),
        PaymentRefused = ("payment_refused", CONFLICT),
        /// Payment cannot be reached: retry after `Retry-After` (the breaker's time, or this).
        PaymentUnavailable = ("payment_unavailable", SERVICE_UNAVAILABLE, retry_after = 30),

        // Orders and their commands.
        OrderNotFound = ("order_not_found", NOT_FOUND),
        InvalidTransition = ("invalid_transition", CONFLICT),
        AlreadyClaimed = ("already_claimed", CONFLICT),
        InvalidReason = ("invalid_reason", UNPROCESSABLE_ENTITY),
        /// The order took as many commands as the engine allows one workflow.
        OrderLocked = ("order_locked", CONFLICT),
        /// Too many requests to the engine, or to this order, at once.
        EngineBusy = ("engine_busy", TOO_MANY_REQUESTS, retry_after = 1),

        // Tracking links (`crate::tracking`).
        TrackingLinkNotFound = ("tracking_link_not_found", NOT_FOUND),
        /// The order has ended: its tracking link shows nothing any more.
        TrackingLinkExpired = ("tracking_link_expired", GONE),
        /// The order has ended: there is nothing left to share.
        OrderEnded = ("order_ended", CONFLICT),

        // A rider not where the step needs them (`baedal_domain::plausible`).
        RiderPositionUnknown = ("rider_position_unknown", CONFLICT),
        TooFar = ("too_far", CONFLICT),
        RiderTooManyActive = ("rider_too_many_active", CONFLICT),
        ImplausibleSpeed = ("implausible_speed", CONFLICT),
        RiderNotAtStore = ("rider_not_at_store", CONFLICT),
        RiderNotAtDoor = ("rider_not_at_door", CONFLICT),
        /// Two reports of one rider at once: the other one was kept.
        ConcurrentReport = ("concurrent_report", CONFLICT),
        /// The store does not deliver to that point.
        OutsideDeliveryArea = ("outside_delivery_area", UNPROCESSABLE_ENTITY),

        // Hooks.
        InvalidHookUrl = ("invalid_hook_url", UNPROCESSABLE_ENTITY),
        InvalidHook = ("invalid_hook", UNPROCESSABLE_ENTITY),
        HooksUnavailable = ("hooks_unavailable", SERVICE_UNAVAILABLE, retry_after = 30),
        /// The owner has as many hooks as one owner may (`BAEDAL_HOOKS_PER_OWNER`).
        TooManyHooks = ("too_many_hooks", CONFLICT),

        // Limits (`crate::limits`).
        /// Past a rate limit: retry after `Retry-After` (the limiter's time, or this).
        RateLimited = ("rate_limited", TOO_MANY_REQUESTS, retry_after = 1),
        /// Card attempts locked out after repeated declines, for the rest of the window.
        TooManyDeclines = ("too_many_declines", TOO_MANY_REQUESTS, retry_after = 900),
        /// As many live streams open as the principal (or the replica) may have.
        TooManyStreams = ("too_many_streams", TOO_MANY_REQUESTS, retry_after = 5),
    }
}

/// How the api answers a code the order answered with: under the same name, but for
/// `not_assigned_rider` (another rider's delivery), which is answered as if it did not exist.
pub fn answer_code(code: OrderCode) -> ApiCode {
    match code {
        OrderCode::InvalidTransition => ApiCode::InvalidTransition,
        OrderCode::AlreadyClaimed => ApiCode::AlreadyClaimed,
        OrderCode::NotAssignedRider => ApiCode::OrderNotFound,
        OrderCode::IdempotencyKeyReused => ApiCode::IdempotencyKeyReused,
        OrderCode::IdempotencyKeyExpired => ApiCode::IdempotencyKeyExpired,
        OrderCode::PaymentDeclined => ApiCode::PaymentDeclined,
        OrderCode::PaymentUnavailable => ApiCode::PaymentUnavailable,
        OrderCode::PaymentRefused => ApiCode::PaymentRefused,
    }
}

/// A rider's report or step refused by `baedal_domain::plausible`: 409 with the rule's code
/// and what to do instead.
pub fn rider_refused(r: baedal_domain::plausible::RiderRefusal) -> ApiError {
    use baedal_domain::plausible::RiderRefusal as R;
    let code = match r {
        R::PositionUnknown => ApiCode::RiderPositionUnknown,
        R::TooFar { .. } => ApiCode::TooFar,
        R::TooManyActive { .. } => ApiCode::RiderTooManyActive,
        R::ImplausibleSpeed { .. } => ApiCode::ImplausibleSpeed,
        R::NotAtStore { .. } => ApiCode::RiderNotAtStore,
        R::NotAtDoor { .. } => ApiCode::RiderNotAtDoor,
    };
    debug_assert_eq!(code.as_str(), r.code());
    ApiError::new(code, r.to_string())
}

/// No route matches the request's path.
pub fn route_not_found() -> ApiError {
    ApiError::new(
        ApiCode::RouteNotFound,
        "no such endpoint; see /openapi.json for the ones there are",
    )
}

/// The path exists, but not with the request's method.
pub fn method_not_allowed() -> ApiError {
    ApiError::new(
        ApiCode::MethodNotAllowed,
        "this endpoint does not take that method; see /openapi.json for the ones it takes",
    )
}

/// Another party's order, or one that does not exist: the same answer for both.
pub fn order_not_found() -> ApiError {
    ApiError::new(
        ApiCode::OrderNotFound,
        "no such order, or not one you can see; check the order id",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_once_and_retried_where_it_should_be() {
        assert_eq!(baedal_http::check_codes(ApiCode::OWN), Ok(()));
    }

    #[test]
    fn the_orders_codes_are_answered_under_their_own_names() {
        for code in OrderCode::ALL {
            let answer = answer_code(code);
            if code == OrderCode::NotAssignedRider {
                assert_eq!(answer, ApiCode::OrderNotFound);
            } else {
                assert_eq!(answer.as_str(), code.as_str(), "{code}");
            }
        }
    }
}
