//! The api's errors: the one error shape of every baedal door ([`baedal_http`]), and the
//! answers several features give alike.

pub use baedal_http::{ApiError, ApiResult};

/// No route matches the request's path.
pub fn route_not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such endpoint; see /openapi.json")
}

/// The path exists, but not with the request's method.
pub fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
}
