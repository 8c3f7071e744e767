//! One function per role: what `baedal <role>`, `baedal dev` and the tests all call to
//! assemble the api, the worker, the payment service and the notification service, with
//! their background tasks. A role's parts are put together here and nowhere else, so the
//! process a Deployment runs and the one the tests run cannot drift apart (they once did: the
//! deployed worker never deleted riders' positions, because only the dev copy started that).
//!
//! Callers bring what a role needs from outside (a listener, clients, settings); the role
//! returns its router or runs until `shutdown`. Every HTTP role's router reports its requests
//! the same way (`baedal_http::observe`: RED metrics by route template, server spans).

use anyhow::Context;
use baedal_api::{ApiConfig, ApiRole, AppState};
use baedal_auth::Identity;
use baedal_domain::Timeouts;
use baedal_readmodel::{Feed, ReadModel};
use std::future::Future;
use std::time::Duration;
use temporalio_client::Client;

/// What an api process runs with besides its clients.
#[derive(Clone)]
pub struct ApiSettings {
    /// Which endpoints it serves.
    pub role: ApiRole,
    /// Timer durations the orders it places run with.
    pub timeouts: Timeouts,
    /// How long a place-order's Idempotency-Key is answered the same way.
    pub idempotency_window: Duration,
    /// Each request is answered within this.
    pub request_timeout: Duration,
    /// Idle live streams get a heartbeat this often.
    pub sse_heartbeat: Duration,
    /// Open orders that have not moved for this long are listed as stuck.
    pub stuck_after: Duration,
    /// Serve `POST /v1/dev/tokens` (only `baedal dev`).
    pub dev_mode: bool,
    /// The Temporal Web UI and namespace, for ops' links to an order's workflow.
    pub temporal_ui: Option<String>,
    pub namespace: String,
    /// The notification service keeping webhook subscriptions, and the token to call it.
    pub notify_url: String,
    pub service_token: String,
    /// Rate limits, stream bounds and the hook cap.
    pub limits: baedal_api::RateLimits,
    /// Where riders must be for their steps, and where stores deliver.
    pub plausibility: baedal_domain::plausible::Plausibility,
}

/// The api: its router over the read model, Temporal and one follower of the change log
/// (`feed`, shared by every api of a process).
pub fn api(
    settings: ApiSettings,
    read_model: ReadModel,
    temporal: Client,
    identity: Identity,
    feed: Feed,
) -> axum::Router {
    let config = ApiConfig {
        dev_mode: settings.dev_mode,
        timeouts: settings.timeouts,
        token_ttl: Duration::from_secs(24 * 3600),
        role: settings.role,
        stuck_after: settings.stuck_after,
        idempotency_window: settings.idempotency_window,
        temporal_ui: settings.temporal_ui,
        namespace: settings.namespace,
        request_timeout: settings.request_timeout,
        sse_heartbeat: settings.sse_heartbeat,
        hooks: Some(baedal_api::hooks::HookService {
            url: settings.notify_url,
            service_token: settings.service_token,
        }),
        limits: settings.limits,
        plausibility: settings.plausibility,
    };
    // The public door: every request a trace of its own (a caller's `traceparent` is not
    // trusted).
    baedal_api::router(AppState::new(read_model, temporal, identity, config, feed)).layer(
        axum::middleware::from_fn(baedal_http::observe::observe_public),
    )
}

/// An internal service's `router` with every request reported (`baedal_http::observe`, its
/// caller's trace continued), outermost: the whole time of each request is measured, whatever
/// layer answers it.
fn observed(router: axum::Router) -> axum::Router {
    router.layer(axum::middleware::from_fn(baedal_http::observe::observe))
}

/// The payment service over its ledger at `database_url` (migrated on open): charges and
/// refunds take `payment_token` only; the fault switch is served with `fault_injection` only.
pub async fn payment(
    database_url: &str,
    service_token: &str,
    payment_token: &str,
    identity: Identity,
    fault_injection: bool,
) -> anyhow::Result<axum::Router> {
    let state = baedal_payment::PaymentState::open(database_url, service_token, identity)
        .await
        .map(|s| {
            s.with_payment_token(payment_token)
                .with_fault_injection(fault_injection)
        })
        .with_context(|| {
            format!(
                "opening the payment ledger at {}",
                baedal_db::redact(database_url)
            )
        })?;
    Ok(observed(baedal_payment::router(state)))
}

/// The notification service over its store at `database_url` (migrated on open), with its
/// webhook and KakaoTalk delivery loops running, its store pruned to `retention` every
/// [`baedal_domain::retention::Retention::notification_every`] (it owns that store: no other
/// role reaches it) and its webhook backlog gauges refreshed.
pub async fn notify(
    database_url: &str,
    service_token: &str,
    identity: Identity,
    hooks: baedal_notification::delivery::DeliverySettings,
    kakao: Option<baedal_notification::kakao::KakaoSettings>,
    retention: baedal_domain::retention::Retention,
    fault_injection: bool,
) -> anyhow::Result<axum::Router> {
    let state =
        baedal_notification::NotifyState::open(database_url, service_token, identity, hooks, kakao)
            .await
            .map(|s| s.with_fault_injection(fault_injection))
            .with_context(|| {
                format!(
                    "opening the notification store at {}",
                    baedal_db::redact(database_url)
                )
            })?;
    baedal_notification::retention::spawn(state.db().clone(), retention);
    baedal_notification::backlog::spawn(state.db().clone(), baedal_notification::backlog::EVERY);
    Ok(observed(baedal_notification::router(state)))
}

/// The worker with everything that runs beside it (the payment breaker's publisher, the stuck
/// sweep, the expiry of riders' positions, the read model's pruning) until `shutdown`, then drained. The SDK's worker
/// future is not `Send`, so it runs on a thread of its own.
pub async fn worker(
    temporal: Client,
    read_model: ReadModel,
    role: baedal_worker::WorkerRole,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current()
            .block_on(baedal_worker::serve(temporal, read_model, role, shutdown))
    })
    .await?
}
