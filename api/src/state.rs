//! What every handler can reach: the process's settings ([`ApiConfig`], [`ApiRole`]) and its
//! connections ([`AppState`]). The bottom of the crate: of its modules it imports only `door`
//! and `limits`.

use crate::door::PaymentDoor;
use crate::limits::{Limiters, RateLimits};
use baedal_auth::Identity;
use baedal_domain::{Party, Timeouts};
use baedal_readmodel::ReadModel;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::Client;

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
    pub hooks: Option<HookService>,
    /// Rate limits, stream bounds and the hook cap (`BAEDAL_RATE_*`).
    pub limits: RateLimits,
    /// Where riders must be for their steps, and where stores deliver.
    pub plausibility: baedal_domain::plausible::Plausibility,
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

/// Where the notification service is, and the token it takes from the api.
#[derive(Debug, Clone)]
pub struct HookService {
    pub url: String,
    pub service_token: String,
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

impl ApiRole {
    /// Whether a process of this role serves what `party` calls. Every role serves ops (and
    /// health, hooks): a party's outage never takes the ops endpoints with it.
    pub fn serves(self, party: Party) -> bool {
        matches!(
            (self, party),
            (ApiRole::All, _)
                | (_, Party::Ops)
                | (ApiRole::Order, Party::Customer)
                | (ApiRole::Store, Party::StoreOwner)
                | (ApiRole::Rider, Party::Rider)
        )
    }
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
    pub door: Arc<PaymentDoor>,
    /// The read model's change log as it grows, for live streams.
    pub feed: baedal_readmodel::Feed,
    /// For the notification service's hooks door.
    pub http: reqwest::Client,
    /// This replica's rate limiters and stream slots.
    pub limits: Arc<Limiters>,
    /// One claim at a time per rider (`crate::turns`).
    pub(crate) claim_turns: Arc<crate::turns::Turns>,
    /// One card attempt at a time per customer (`crate::turns`).
    pub(crate) card_turns: Arc<crate::turns::Turns>,
    /// What `/readyz` answers from (`crate::health::watch`).
    pub(crate) readiness: baedal_http::readiness::Readiness,
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
            readiness: crate::health::watch(&read_model, &temporal),
            limits: Limiters::new(config.limits.clone()),
            feed,
            read_model,
            temporal,
            identity,
            config: Arc::new(config),
            door: Arc::default(),
            claim_turns: Arc::new(crate::turns::Turns::new(crate::turns::CLAIM_STRIPES)),
            card_turns: Arc::new(crate::turns::Turns::new(crate::turns::CARD_STRIPES)),
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
