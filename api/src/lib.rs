//! The HTTP api (axum): the v1 contract of DESIGN.md for customers, stores, riders and ops.
//!
//! Handlers are thin: validate the input, authenticate and authorize the caller (object-level
//! checks against the read model), then either start/update an order workflow or read the read
//! model. The api must never query a workflow on a hot path, never compute order rules of its
//! own (the workflow's validators decide transitions), and never trust prices from the client.

mod command_routes;
mod commands;
pub mod door;
mod door_keeping;
pub use baedal_http as error;
mod extract;
pub mod hooks;
mod live;
pub use live::ETA_EVERY;
mod location;
mod me;
mod menu;
mod openapi;
mod ops;
mod place;
mod routes;

pub use place::{order_id_for, request_hash_of};
pub use routes::temporal_answers;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use baedal_auth::Identity;
use baedal_domain::Timeouts;
use baedal_readmodel::ReadModel;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::Client;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest request body accepted; an order is a few hundred bytes.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// Settings the api runs with.
#[derive(Clone)]
pub struct ApiConfig {
    /// Serve `POST /v1/dev/tokens`: only `baedal dev` sets this, no other role can.
    pub dev_mode: bool,
    /// Timer durations new orders are placed with.
    pub timeouts: Timeouts,
    /// Lifetime of dev tokens.
    pub token_ttl: Duration,
    /// Which endpoints this process serves.
    pub role: ApiRole,
    /// Renders the Prometheus text for `/metrics`, when this process exports metrics.
    pub metrics: Option<MetricsRender>,
    /// An open order that has not moved for this long is listed as stuck.
    pub stuck_after: Duration,
    /// A place-order's Idempotency-Key answers the same for this long, and is refused after.
    pub idempotency_window: Duration,
    /// Base URL of the Temporal Web UI and the namespace, for links to an order's workflow.
    pub temporal_ui: Option<String>,
    pub namespace: String,
    /// Every request is answered within this (503 with Retry-After past it).
    pub request_timeout: Duration,
    /// Live streams send a comment this often when idle, so proxies keep them open.
    pub sse_heartbeat: Duration,
    /// The notification service that keeps webhook subscriptions (`/v1/hooks`).
    pub hooks: Option<hooks::HookService>,
}

impl ApiConfig {
    /// Where ops see the order's workflow in the Temporal Web UI.
    pub fn temporal_ui_link(&self, order_id: &str) -> Option<String> {
        self.temporal_ui.as_ref().map(|ui| {
            format!(
                "{}/namespaces/{}/workflows/{order_id}",
                ui.trim_end_matches('/'),
                self.namespace
            )
        })
    }
}

/// Renders the process's metrics in the Prometheus text format.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Which endpoints one api process serves (`baedal api --role`), so the customer-facing order
/// api keeps taking orders while the store or rider api is down, and each scales on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRole {
    /// Catalog, customer orders, dev tokens.
    Order,
    /// The store owners' endpoints.
    Store,
    /// The riders' endpoints.
    Rider,
    /// Everything.
    All,
}

impl std::str::FromStr for ApiRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "order" => Ok(ApiRole::Order),
            "store" => Ok(ApiRole::Store),
            "rider" => Ok(ApiRole::Rider),
            "all" => Ok(ApiRole::All),
            other => Err(format!(
                "unknown api role '{other}': use order, store, rider or all"
            )),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub read_model: ReadModel,
    pub temporal: Client,
    pub identity: Identity,
    pub config: Arc<ApiConfig>,
    pub door: Arc<door::PaymentDoor>,
    /// The read model's change log as it grows, for live streams.
    pub feed: baedal_readmodel::Feed,
    /// For the notification service's hooks door.
    pub http: reqwest::Client,
}

impl AppState {
    pub fn new(
        read_model: ReadModel,
        temporal: Client,
        identity: Identity,
        config: ApiConfig,
        feed: baedal_readmodel::Feed,
    ) -> Self {
        Self {
            feed,
            read_model,
            temporal,
            identity,
            config: Arc::new(config),
            door: Arc::default(),
            http: {
                // reqwest's TLS needs a process-wide crypto provider; a library user may not
                // have installed one.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
            }
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(8))
            .build()
            .expect("an http client"),
        }
    }
}

/// The whole v1 router with its layers. From the outside in: a request id is set (or taken
/// from the caller) and echoed, the request's span carries it, a 500 gets it in its body, and
/// the handler runs under the request deadline.
pub fn router(state: AppState) -> Router {
    let role = state.config.role;
    routes::for_role(role)
        .merge(openapi::routes())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
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
        .with_state(state)
}
