//! The api's client of the notification service, which keeps the webhook subscriptions
//! (`/v1/hooks`) and the customers' notification channels (`/v1/me/notifications`): one
//! request on behalf of an owner the api has authorized, answered as the service answered.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Serialize;

/// Send one request to the notification service on behalf of `owner` (whom the api has
/// authorized: `ops`, `store:<id>`, `customer:<id>`) and answer what it answered.
pub async fn forward_as(
    state: &AppState,
    owner: String,
    method: reqwest::Method,
    path: &str,
    body: Option<&impl Serialize>,
) -> ApiResult<Response> {
    let Some(service) = &state.config.hooks else {
        return Err(ApiError::new(
            ApiCode::HooksUnavailable,
            "this api has no notification service configured (BAEDAL_NOTIFY_URL); retry after Retry-After, or ask its operator to set it",
        ));
    };
    crate::door_keeping::waiting_on("the notification service");
    let mut req = state
        .http
        .request(
            method,
            format!("{}{path}", service.url.trim_end_matches('/')),
        )
        .bearer_auth(&service.service_token)
        .header("x-baedal-owner", owner);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ApiError::dependency_down("the notification service", e))?;
    let status = StatusCode::from_u16(resp.status().as_u16())
        .map_err(|e| ApiError::internal("the notification service's status", e))?;
    if status.is_server_error() {
        return Err(ApiError::dependency_down(
            "the notification service",
            format!("it answered {status}"),
        ));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ApiError::dependency_down("the notification service", e))?;
    let mut out = Response::builder().status(status);
    if !bytes.is_empty() {
        out = out.header(header::CONTENT_TYPE, "application/json");
    }
    out.body(Body::from(bytes))
        .map_err(|e| ApiError::internal("answering a notification-service request", e))
}
