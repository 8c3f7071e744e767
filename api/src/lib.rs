//! The HTTP api (axum): the v1 contract (docs/contract.md) for customers, stores, riders and ops.
//!
//! Handlers are thin: validate the input, authenticate and authorize the caller (object-level
//! checks against the read model), then either start/update an order workflow or read the read
//! model. The api must never query a workflow on a hot path, never compute order rules of its
//! own (the workflow's validators decide transitions), and never trust prices from the client.
//!
//! The crate is layered, and a module imports only modules below it, never one that imports
//! it:
//! - shared helpers: [`state`] (settings and connections), [`door`], `error` (`ApiCode`, every
//!   code the api answers with, and its status and retry rule), `limits` (rate limits and
//!   bounded streams, under every feature that takes requests), `extract` (the
//!   caller, bodies, queries), `door_keeping` (deadline, request id), `commands` (sending a
//!   command to an order's workflow), `authz` (who may see an order), `pagination`, `eta`,
//!   `live` (following the read model's change log), `notification` (the notification
//!   service's client), `views` (what each party sees of an order: the one projection every
//!   order answer and stream goes through);
//! - features, each a `router()` of its handlers registered for routing and the document at
//!   once, importing shared helpers only, never another feature: `health`, `dev`, `catalog`,
//!   `orders`, `me`, `tracking`, `store`, `rider`, `ops`, [`hooks`], and `command_routes` (the endpoints of
//!   the domain's command table);
//! - the top: `routes` (which features each [`ApiRole`] serves), `openapi` (the document
//!   they registered) and [`router`] (the served router with its layers).

// Shared helpers.
mod authz;
mod commands;
pub mod door;
mod door_keeping;
mod error;
mod eta;
mod extract;
mod limits;
mod live;
mod notification;
mod pagination;
pub mod state;
mod turns;
mod views;
// Features.
mod catalog;
mod command_routes;
mod dev;
mod health;
pub mod hooks;
mod me;
mod ops;
mod orders;
mod rider;
mod store;
mod tracking;
// The top.
mod openapi;
mod routes;

pub use extract::BODY_LIMIT_BYTES;
pub use health::watch as watch_readiness;
pub use limits::{Rate, RateLimits};
pub use live::ETA_EVERY;
pub use orders::{order_id_for, request_hash_of};
pub use state::{ApiConfig, ApiRole, AppState, MetricsRender};

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, header};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The whole v1 router with its layers. From the outside in: the security headers are added
/// to every answer, a caller's request id is dropped unless it is a plain token, a request id
/// is set (or taken from the caller) and echoed, the request's span carries it, a 500 gets it in its body, and
/// the handler runs under the request deadline.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes::api(state.config.role).split_for_parts();
    // Every role serves the whole document: a client reads one contract whichever door it
    // comes through.
    let doc = Bytes::from(
        serde_json::to_vec(&openapi::document(state.config.dev_mode))
            .expect("the document serializes"),
    );
    // The browser pages come through the customers' door (the gateway routes `/` and
    // `/assets` there); they call the same JSON API as any client.
    let web = if state.config.role.serves(baedal_domain::Party::Customer) {
        baedal_web::router(baedal_web::WebConfig {
            dev_mode: state.config.dev_mode,
            temporal_ui: state.config.temporal_ui.clone(),
            namespace: state.config.namespace.clone(),
        })
    } else {
        Router::new()
    };
    routes
        .merge(web)
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.clone()) }),
        )
        .fallback(|| async { error::route_not_found() })
        .method_not_allowed_fallback(|| async { error::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(door_keeping::refuse_nul_in_path))
        .layer(axum::middleware::from_fn(limits::rate_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            door_keeping::deadline,
        ))
        .layer(axum::middleware::from_fn(door_keeping::stamp_request_id))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let request_id = req
                    .headers()
                    .get(door_keeping::REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!(
                    "http",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id,
                    caller = tracing::field::Empty,
                    order_id = tracing::field::Empty,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(door_keeping::REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            door_keeping::REQUEST_ID,
            MakeRequestUuid,
        ))
        // Before any of the above sees it: a caller's request id that is not a plain token is
        // dropped (and replaced by a fresh one), so it is never echoed or logged.
        .layer(axum::middleware::from_fn(
            door_keeping::drop_invalid_request_id,
        ))
        .layer(axum::middleware::from_fn(
            baedal_http::hardening::security_headers,
        ))
        .with_state(state)
}
