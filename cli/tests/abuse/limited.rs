//! The abuse suite's own baedal: the shared test system's parts on one api, with limits tight
//! enough that a test reaches each in a handful of requests ([`LIMITS`]), and a gateway in
//! front (one trusted proxy hop), so a test can speak from several client addresses.

use crate::common::{self, TestSystem};
use baedal::system::{ApiSpec, Endpoint, System, SystemConfig, TemporalSource};
use baedal_api::{ApiRole, Rate, RateLimits};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::OnceLock;
use std::time::Duration;

const MIN: Duration = Duration::from_secs(60);

/// What the abuse suite's api limits.
pub const LIMITS: RateLimits = RateLimits {
    place_orders: Rate::new(10, MIN),
    card_declines: Rate::new(5, Duration::from_secs(15 * 60)),
    commands: Rate::new(6, MIN),
    location_reports: Rate::new(3, MIN),
    hook_changes: Rate::new(8, MIN),
    catalog_reads: Rate::new(20, MIN),
    streams_per_principal: 5,
    streams_per_replica: 12,
    hooks_per_owner: 3,
    trusted_proxy_hops: 1,
};

/// Idle streams send a heartbeat this often (a stream whose client left is noticed at the next).
pub const HEARTBEAT: Duration = Duration::from_millis(500);

static SYSTEM: OnceLock<TestSystem> = OnceLock::new();

/// The limited system, started on first use (on a thread and runtime of its own, as the shared
/// one, so every test's runtime can use it).
pub fn system() -> &'static TestSystem {
    SYSTEM.get_or_init(|| {
        baedal_activities::install_crypto_provider();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let dir = std::env::temp_dir().join(format!(
                    "baedal-abuse-{}-{}",
                    std::process::id(),
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let listen =
                    || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
                let free_port = baedal::devserver::free_local_port;
                let read_model_url = baedal_db::scratch_url_in(&dir, "readmodel.db");
                let cfg = SystemConfig {
                    data_dir: dir.clone(),
                    database_url: read_model_url.clone(),
                    database_listen_url: None,
                    payment_database_url: baedal_db::scratch_url_in(&dir, "payment.db"),
                    notify_database_url: baedal_db::scratch_url_in(&dir, "notify.db"),
                    temporal: TemporalSource::DevServer {
                        cli: baedal::devserver::find_cli().expect("temporal CLI"),
                        port: free_port(),
                        ui_port: free_port(),
                    },
                    namespace: "default".into(),
                    identity: baedal_auth::Identity::new(baedal_auth::TokenKeys::new(
                        common::JWT_SECRET,
                    )),
                    payload_codec: common::payload_codec(),
                    codec_server: None,
                    service_token: common::SERVICE_TOKEN.into(),
                    payment_token: common::PAYMENT_TOKEN.into(),
                    fault_injection: true,
                    serve_limits: Default::default(),
                    metrics_listener: None,
                    apis: vec![ApiSpec {
                        listener: listen().await,
                        timeouts: common::FAST,
                        role: ApiRole::All,
                        idempotency_window: Duration::from_secs(24 * 3600),
                        request_timeout: Duration::from_secs(10),
                        sse_heartbeat: HEARTBEAT,
                    }],
                    payment: Endpoint::Serve(listen().await),
                    notify: Endpoint::Serve(listen().await),
                    hook_delivery: common::hook_delivery(),
                    kakao: None,
                    worker: true,
                    worker_settings: Default::default(),
                    breaker: common::BREAKER.clone(),
                    dev_mode: true,
                    metrics: None,
                    stuck_after: common::STUCK_AFTER,
                    idempotency_window: Duration::from_secs(24 * 3600),
                    retention: baedal_domain::retention::Retention::default(),
                    temporal_ui: None,
                    limits: LIMITS,
                    plausibility: common::PLAUSIBILITY,
                };
                let sys = System::start(cfg).await.expect("baedal starts");
                let api = sys.api_urls[0].clone();
                tx.send(TestSystem {
                    api: api.clone(),
                    fast_api: api.clone(),
                    window_api: api.clone(),
                    impatient_api: api,
                    read_model_url,
                    payment: sys.payment_url.clone(),
                    notify: sys.notify_url.clone(),
                    kakao_provider: String::new(),
                    temporal_address: sys.temporal_address.clone(),
                    log: dir.join("no-log"),
                    // Not served: this system has no metrics listener.
                    metrics: String::new(),
                })
                .unwrap();
                let _keep = sys;
                std::future::pending::<()>().await;
            });
        });
        rx.recv_timeout(Duration::from_secs(180))
            .expect("the abuse suite's baedal did not start within 180 s")
    })
}

/// An answer with its headers.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A 429 as the contract has it: the error shape with `code`, a `Retry-After` of whole
    /// seconds within `max_wait`, and (for a rate) the `RateLimit` headers saying none is left.
    pub fn assert_refused(&self, code: &str, max_wait: u64) {
        assert_eq!(self.status, 429, "{:?}", self.body);
        assert_eq!(self.code(), code, "{:?}", self.body);
        assert!(
            self.body["error"]["message"].as_str().unwrap_or("").len() > 10,
            "a message that says what to do: {:?}",
            self.body
        );
        let wait: u64 = self.header("retry-after").parse().expect("Retry-After");
        assert!((1..=max_wait).contains(&wait), "Retry-After {wait}");
        if code == "rate_limited" {
            assert!(
                self.header("ratelimit").contains(";r=0;t="),
                "{:?}",
                self.headers
            );
            assert!(
                self.header("ratelimit-policy").contains(";q="),
                "{:?}",
                self.headers
            );
        }
    }
}

/// `method path` on the limited api, as `token`, from the client at `addr` (as the gateway
/// forwards it), with `body` and an `Idempotency-Key` when given.
pub async fn send(
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    addr: Option<&str>,
    body: Option<Value>,
    key: Option<&str>,
) -> Answer {
    // The system first: it installs the TLS provider every client needs.
    let url = format!("{}{path}", system().api);
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = addr {
        req = req.header("x-forwarded-for", a);
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the api answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// Place an order for `customer` paid with `card`, under a fresh key.
pub async fn place(customer: &str, card: &str) -> Answer {
    let sys = system();
    send(
        reqwest::Method::POST,
        "/v1/orders",
        Some(customer),
        None,
        Some(sys.order_body(1, card)),
        Some(&common::unique("key")),
    )
    .await
}

/// A token for `role` `sub` (of `store`) that expires at `exp` (seconds since the epoch).
pub fn token_until(role: baedal_auth::Role, sub: &str, store: Option<&str>, exp: u64) -> String {
    baedal_auth::TokenKeys::new(common::JWT_SECRET).sign(&baedal_auth::Claims {
        sub: sub.into(),
        role,
        store_id: store.map(Into::into),
        exp,
    })
}

/// Seconds since the epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
