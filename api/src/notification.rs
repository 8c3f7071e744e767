//! The api's client of the notification service, which keeps the webhook subscriptions
//! (`/v1/hooks`) and the customers' notification channels (`/v1/me/notifications`): typed
//! calls (`baedal-notification-client`, the contract the service itself serves) on behalf of
//! an owner the api has authorized, answered as the service answered.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baedal_notification_client::{CallError, NotificationClient};
use serde::Serialize;

/// The notification service's client, or 503 when this api has none configured.
pub fn notification_service(state: &AppState) -> ApiResult<NotificationClient> {
    let Some(service) = &state.config.hooks else {
        return Err(ApiError::new(
            ApiCode::HooksUnavailable,
            "this api has no notification service configured (BAEDAL_NOTIFY_URL); retry after \
             Retry-After, or ask its operator to set it",
        ));
    };
    crate::door_keeping::waiting_on("the notification service");
    Ok(NotificationClient::with_http(
        state.http.clone(),
        &service.url,
        &service.service_token,
    ))
}

/// The notification service's answer as the api's: a success with `status`; a refusal (4xx:
/// no such hook, a bad URL, …) passed on as the service gave it, code and message, since the
/// service is the one that judged the request; a service down, failing or unreachable is 503.
pub fn pass_on<T: Serialize>(
    status: StatusCode,
    answer: Result<T, CallError>,
) -> ApiResult<Response> {
    match answer {
        Ok(body) => Ok((status, Json(body)).into_response()),
        Err(e) => refused(e),
    }
}

/// A failed call to the notification service as the api's answer (see [`pass_on`]).
pub fn refused(e: CallError) -> ApiResult<Response> {
    match e {
        // The service refused this api itself (its service token): a configuration fault for
        // the operator, not a bad token of the user's, who must not be told to get a new one.
        CallError::Status { status, .. } if status == 401 || status == 403 => {
            Err(ApiError::internal(
                "calling the notification service",
                format!(
                    "it refused this api's service token ({e}): BAEDAL_SERVICE_TOKEN must be the \
                     same on the api and the notification service"
                ),
            ))
        }
        CallError::Status {
            status,
            body,
            retry_after,
            ..
        } if (400..500).contains(&status) => {
            let status = StatusCode::from_u16(status)
                .map_err(|e| ApiError::internal("the notification service's status", e))?;
            let mut out = Response::builder().status(status);
            if !body.is_empty() {
                out = out.header(header::CONTENT_TYPE, "application/json");
            }
            // A limit's answer (429) says when to come back, as the service said it.
            if let Some(after) = retry_after.filter(|_| status == StatusCode::TOO_MANY_REQUESTS) {
                out = out.header(header::RETRY_AFTER, after);
            }
            out.body(Body::from(body))
                .map_err(|e| ApiError::internal("answering a notification-service request", e))
        }
        e => Err(ApiError::dependency_down("the notification service", e)),
    }
}
