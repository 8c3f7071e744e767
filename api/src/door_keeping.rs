//! What every request passes through on its way in and out: a deadline, a request id, and
//! the note of what the request is waiting on, so a request that runs out of time is told what
//! was slow and a bug is answered with the id to report.

use crate::error::{ApiCode, ApiError, CommonCode};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::cell::Cell;

/// The header carrying the request id (set on the way in, echoed on the way out).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static WAITING_ON: Cell<&'static str>;
}

/// Note what the current request is about to wait on ("the order engine", "the read model"),
/// for the message of a request that runs past its deadline. Outside a request: no effect.
pub fn waiting_on(what: &'static str) {
    let _ = WAITING_ON.try_with(|w| w.set(what));
}

/// Answer 503 with `Retry-After` when the request takes longer than `BAEDAL_REQUEST_TIMEOUT`,
/// naming what it was waiting on. The work itself is dropped; anything it started in the
/// engine carries on and a retry with the same key or command finds it.
pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    WAITING_ON
        .scope(Cell::new("the api"), async move {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => {
                    let what = WAITING_ON.with(Cell::get);
                    metrics::counter!("baedal_request_timeouts_total", "waiting_on" => what)
                        .increment(1);
                    ApiError::new(
                        ApiCode::RequestTimeout,
                        format!(
                            "no answer within {}: {what} is slow right now; retry shortly \
                             (place-order: with the same Idempotency-Key)",
                            humantime::format_duration(limit)
                        ),
                    )
                    .into_response()
                }
            }
        })
        .await
}

/// The longest request id taken from a caller.
pub const MAX_REQUEST_ID_CHARS: usize = 64;

/// Whether a caller's request id may be echoed and logged: 1..64 of `[A-Za-z0-9._-]` (a UUID, a
/// trace id). Anything else (line breaks, markup, a megabyte) could forge log lines or carry a
/// payload into whatever reads the logs.
pub fn valid_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_CHARS).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drop a request id the caller sent that is not [`valid_request_id`]: a fresh one is made in
/// its place.
pub async fn drop_invalid_request_id(mut req: Request, next: Next) -> Response {
    let ids = req.headers().get_all(REQUEST_ID).iter().count();
    let valid = req
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|v| valid_request_id(v.as_bytes()));
    if ids > 1 || (ids == 1 && !valid) {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// Put the request id into the body of every 500, so the caller can report it and ops can
/// find the log line (the request's span carries the same id).
pub async fn stamp_request_id(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let resp = next.run(req).await;
    if resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        let code = CommonCode::InternalError.as_str();
        serde_json::json!({"error": {"code": code, "message": "internal error: report the request_id"}})
    });
    doc["error"]["request_id"] = serde_json::Value::String(id);
    let mut resp = Response::from_parts(parts, Body::from(doc.to_string()));
    resp.headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    resp
}

/// 404 for a path holding a NUL character (`%00`): no id has one, and PostgreSQL refuses it in
/// a bound text, so a lookup would otherwise fail as a 500 instead of finding nothing.
pub async fn refuse_nul_in_path(req: Request, next: Next) -> Response {
    if req.uri().path().to_ascii_lowercase().contains("%00") {
        return ApiError::new(
            ApiCode::RouteNotFound,
            "nothing here: no path holds a NUL character (%00)",
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

    #[tokio::test]
    async fn a_bug_is_a_500_with_the_request_id_and_no_retry_after() {
        let app = Router::new()
            .route(
                "/bug",
                get(|| async { ApiError::internal("the test", "boom").into_response() }),
            )
            .route(
                "/down",
                get(|| async { ApiError::dependency_down("the test", "gone").into_response() }),
            )
            .layer(axum::middleware::from_fn(stamp_request_id))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid));
        let resp = app
            .clone()
            .oneshot(Request::get("/bug").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            resp.headers().get("retry-after").is_none(),
            "bugs are not retried"
        );
        let id = resp.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        let body = axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["error"]["code"], "internal_error");
        assert_eq!(doc["error"]["request_id"], id.as_str());
        assert!(!id.is_empty());

        let down = app
            .oneshot(Request::get("/down").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            down.headers().get("retry-after").is_some(),
            "an outage is retried"
        );
    }
}
