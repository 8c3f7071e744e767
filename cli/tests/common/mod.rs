//! Test harness: one real baedal per test binary (Temporal dev server on a free port, SQLite
//! stores in a temp dir, payment and notification services, worker, and two apis), driven over
//! real HTTP.
//!
//! The system runs on a thread and runtime of its own so that every `#[tokio::test]` (each with
//! its own runtime) can share it. The "fast" api places orders with second-long timers so the
//! timeout paths can be tested without waiting minutes.

#![allow(dead_code)]

pub mod kakao_provider;

use baedal::system::{ApiSpec, Endpoint, System, SystemConfig, TemporalSource, connect_temporal};
use baedal_activities::BreakerSettings;
use baedal_api::ApiRole;
use baedal_domain::Timeouts;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use temporalio_client::{
    WorkflowCountOptions, WorkflowExecutionStatus, WorkflowFetchHistoryOptions,
};

pub const SERVICE_TOKEN: &str = "test-service-token";
/// The worker's credential at the payment service (charges and refunds take only it).
pub const PAYMENT_TOKEN: &str = "test-payment-token";
pub const JWT_SECRET: &str = "test-jwt-secret";
/// The test system's payload key.
pub const PAYLOAD_KEY: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The codec the test system seals payloads with.
/// Webhooks of the shared test system: local receivers allowed, and a schedule of seconds
/// instead of a day (the same shape: each wait longer than the last).
pub fn hook_delivery() -> baedal_notification::delivery::DeliverySettings {
    baedal_notification::delivery::DeliverySettings {
        allow_private: true,
        schedule: [300, 600, 1200, 2000, 3000]
            .into_iter()
            .map(Duration::from_millis)
            .collect(),
        disable_after: Duration::from_secs(3600),
        poll: Duration::from_millis(50),
        ..Default::default()
    }
}

/// The KakaoTalk channel of the shared test system: the fake gateway, retries in milliseconds.
pub fn kakao_settings(provider: &str) -> baedal_notification::kakao::KakaoSettings {
    let mut k = baedal_notification::kakao::KakaoSettings::new(
        format!("{provider}/v2/alimtalk/send"),
        kakao_provider::KEY.into(),
        kakao_provider::SENDER.into(),
    );
    k.schedule = [300, 600, 1200]
        .into_iter()
        .map(Duration::from_millis)
        .collect();
    k.poll = Duration::from_millis(50);
    k
}

pub fn payload_codec() -> baedal_codec::EncryptionCodec {
    baedal_codec::EncryptionCodec::new(baedal_codec::PayloadKeys::parse(PAYLOAD_KEY).unwrap())
}

/// Timers of the fast api (and a one-second cap on notification and projection retries).
pub const FAST: Timeouts = Timeouts {
    store_accept_ms: 2_000,
    rider_claim_ms: 2_000,
    auto_confirm_ms: 2_000,
    payment_retry_ms: 3_000,
    retry_cap_ms: 1_000,
    pickup_deadline_ms: Some(4_000),
    delivery_deadline_ms: Some(4_000),
};

/// The rider rules of the test system: the defaults, but for the speed. Test riders are
/// reported at the store and then at the door a few milliseconds apart (`TestSystem::ride`),
/// which no real rider does; 1,000,000 km/h still refuses Seoul to New York in a second (the
/// default's own limits are tested in `baedal_domain::plausible`).
pub const PLAUSIBILITY: baedal_domain::plausible::Plausibility =
    baedal_domain::plausible::Plausibility {
        position_fresh_ms: 2 * 60 * 1000,
        claim_radius_km: baedal_domain::plausible::MAX_BOARD_RADIUS_KM,
        max_active: 2,
        max_speed_kmh: 1_000_000.0,
        at_store_m: 200.0,
        at_door_m: 200.0,
        delivery_radius_km: 3.0,
    };

/// Open orders that have not moved for this long are stuck in the test system.
pub const STUCK_AFTER: Duration = Duration::from_secs(4);

/// The request deadline of the impatient api (the others: 10 s).
pub const IMPATIENT: Duration = Duration::from_secs(1);

/// The idempotency window of the window api (the others keep the default day).
pub const SHORT_WINDOW: Duration = Duration::from_secs(3);

/// The tests' breaker: opens after 3 failures, half-opens after 3 s.
pub static BREAKER: std::sync::LazyLock<BreakerSettings> =
    std::sync::LazyLock::new(|| BreakerSettings {
        window: Duration::from_secs(30),
        min_calls: 3,
        open_for: Duration::from_secs(3),
        half_open_calls: 1,
        ..Default::default()
    });

pub struct TestSystem {
    pub api: String,
    pub fast_api: String,
    /// An api whose idempotency keys are kept only [`SHORT_WINDOW`].
    pub window_api: String,
    /// An api that answers every request within [`IMPATIENT`].
    pub impatient_api: String,
    /// The read model's database (SQLite, or PostgreSQL under `scripts/with-postgres`).
    pub read_model_url: String,
    pub payment: String,
    pub notify: String,
    /// The fake KakaoTalk gateway ([`kakao_provider`]).
    pub kakao_provider: String,
    pub temporal_address: String,
    /// Where `/metrics` is served (not on the apis' ports).
    pub metrics: String,
    /// Where the system's warnings and errors go (tracing, WARN and up).
    pub log: std::path::PathBuf,
}

/// Idle live streams of the test system send a heartbeat this often.
pub const SSE_HEARTBEAT: Duration = Duration::from_secs(1);

static SYSTEM: OnceLock<TestSystem> = OnceLock::new();

const DAY: Duration = Duration::from_secs(24 * 3600);

use baedal::devserver::free_local_port as free_port;

/// The shared system, started on first use.
pub fn system() -> &'static TestSystem {
    SYSTEM.get_or_init(|| {
        baedal_activities::install_crypto_provider();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                remove_dirs_of_finished_runs("baedal-test-");
                let dir = std::env::temp_dir().join(format!(
                    "baedal-test-{}-{}",
                    std::process::id(),
                    Instant::now().elapsed().as_nanos() ^ (free_port() as u128)
                ));
                let listen =
                    || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
                let cli = baedal::devserver::find_cli().expect("temporal CLI (run ./scripts/test)");
                std::fs::create_dir_all(&dir).unwrap();
                // The system's own account of what went wrong, for a failing test to show.
                let log = dir.join("system.log");
                let _ = tracing_subscriber::fmt()
                    .with_writer(std::sync::Mutex::new(std::fs::File::create(&log).unwrap()))
                    .with_ansi(false)
                    .with_max_level(tracing::Level::WARN)
                    .try_init();
                let read_model_url = baedal_db::scratch_url_in(&dir, "readmodel.db");
                let kakao_listener = listen().await;
                let kakao_provider = format!("http://{}", kakao_listener.local_addr().unwrap());
                tokio::spawn(kakao_provider::serve(kakao_listener));
                let cfg = SystemConfig {
                    data_dir: dir.clone(),
                    database_url: read_model_url.clone(),
                    database_listen_url: None,
                    payment_database_url: baedal_db::scratch_url_in(&dir, "payment.db"),
                    notify_database_url: baedal_db::scratch_url_in(&dir, "notify.db"),
                    temporal: TemporalSource::DevServer {
                        cli,
                        port: free_port(),
                        ui_port: free_port(),
                    },
                    namespace: "default".into(),
                    identity: baedal_auth::Identity::new(baedal_auth::TokenKeys::new(JWT_SECRET)),
                    payload_codec: payload_codec(),
                    codec_server: None,
                    service_token: SERVICE_TOKEN.into(),
                    payment_token: PAYMENT_TOKEN.into(),
                    fault_injection: true,
                    serve_limits: Default::default(),
                    metrics_listener: Some(listen().await),
                    apis: vec![
                        ApiSpec {
                            listener: listen().await,
                            timeouts: Timeouts {
                                store_accept_ms: 600_000,
                                rider_claim_ms: 600_000,
                                auto_confirm_ms: 1_800_000,
                                payment_retry_ms: 900_000,
                                retry_cap_ms: 60_000,
                                pickup_deadline_ms: Some(900_000),
                                delivery_deadline_ms: Some(3_600_000),
                            },
                            role: ApiRole::All,
                            idempotency_window: DAY,
                            request_timeout: Duration::from_secs(10),
                            sse_heartbeat: SSE_HEARTBEAT,
                        },
                        ApiSpec {
                            listener: listen().await,
                            timeouts: FAST,
                            role: ApiRole::All,
                            idempotency_window: DAY,
                            request_timeout: Duration::from_secs(10),
                            sse_heartbeat: SSE_HEARTBEAT,
                        },
                        ApiSpec {
                            listener: listen().await,
                            timeouts: FAST,
                            role: ApiRole::All,
                            idempotency_window: SHORT_WINDOW,
                            request_timeout: Duration::from_secs(10),
                            sse_heartbeat: SSE_HEARTBEAT,
                        },
                        ApiSpec {
                            listener: listen().await,
                            timeouts: FAST,
                            role: ApiRole::All,
                            idempotency_window: DAY,
                            request_timeout: IMPATIENT,
                            sse_heartbeat: SSE_HEARTBEAT,
                        },
                    ],
                    payment: Endpoint::Serve(listen().await),
                    notify: Endpoint::Serve(listen().await),
                    hook_delivery: hook_delivery(),
                    kakao: Some(kakao_settings(&kakao_provider)),
                    worker: true,
                    worker_settings: Default::default(),
                    breaker: BREAKER.clone(),
                    dev_mode: true,
                    metrics: Some(metrics_render()),
                    stuck_after: STUCK_AFTER,
                    idempotency_window: DAY,
                    retention: baedal_domain::retention::Retention::default(),
                    temporal_ui: None,
                    limits: baedal_api::RateLimits::LOAD_TEST,
                    plausibility: PLAUSIBILITY,
                };
                let sys = System::start(cfg).await.expect("baedal starts");
                tx.send(TestSystem {
                    api: sys.api_urls[0].clone(),
                    fast_api: sys.api_urls[1].clone(),
                    window_api: sys.api_urls[2].clone(),
                    impatient_api: sys.api_urls[3].clone(),
                    read_model_url,
                    payment: sys.payment_url.clone(),
                    notify: sys.notify_url.clone(),
                    kakao_provider,
                    temporal_address: sys.temporal_address.clone(),
                    metrics: sys.metrics_url.clone().expect("metrics served"),
                    log,
                })
                .unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv_timeout(Duration::from_secs(180))
            .expect("baedal test system did not start within 180 s")
    })
}

/// The shared system lives until its test binary exits, so it cannot remove its own data dir:
/// each run removes those of earlier runs instead (`<prefix><pid>-…` whose process is gone).
fn remove_dirs_of_finished_runs(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// This test binary's Prometheus recorder (one per process).
fn metrics_render() -> baedal_api::MetricsRender {
    let handle = baedal::process::prometheus_builder()
        .install_recorder()
        .expect("one recorder per test binary");
    std::sync::Arc::new(move || handle.render())
}

/// A unique name per test run, so tests sharing the system never see each other's orders.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<String>,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// A client per call: pooled connections would belong to the runtime of the test that made
/// them, and die with it.
fn http() -> reqwest::Client {
    reqwest::Client::new()
}

impl TestSystem {
    /// The last `n` ERROR lines the system logged, for a failure message.
    pub fn errors_logged(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
        errors[errors.len().saturating_sub(n)..].join("\n")
    }

    pub async fn call(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Resp {
        let mut req = http().request(method, format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the api");
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            retry_after,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Resp {
        self.call(
            &self.api,
            reqwest::Method::GET,
            path,
            Some(token),
            None,
            None,
        )
        .await
    }

    pub async fn post(&self, token: &str, path: &str) -> Resp {
        self.call(
            &self.api,
            reqwest::Method::POST,
            path,
            Some(token),
            None,
            None,
        )
        .await
    }

    /// The store accepts, cooks and finishes order `id` (as `owner`, on [`Self::api`]): it is
    /// then ready for pickup.
    pub async fn make_ready(&self, owner: &str, id: &str) {
        for step in ["accept", "start-cooking", "finish-cooking"] {
            let r = self
                .post(owner, &format!("/v1/store/orders/{id}/{step}"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
        }
    }

    /// `POST /v1/rider/location` with `body`, as `rider`.
    pub async fn report_position(&self, rider: &str, body: Value) -> Resp {
        self.call(
            &self.api,
            reqwest::Method::POST,
            "/v1/rider/location",
            Some(rider),
            Some(body),
            None,
        )
        .await
    }

    /// Report `rider` where `step` on order `id` happens, as a rider's app does before each
    /// step (`baedal_domain::plausible`): at the store for `claim` and `pickup`, at the door
    /// for `deliver`. Nothing for other steps.
    pub async fn report_for(&self, rider: &str, id: &str, step: &str) {
        if !["claim", "pickup", "deliver"].contains(&step) {
            return;
        }
        let rm = baedal_readmodel::ReadModel::open(&self.read_model_url)
            .await
            .unwrap();
        let order = rm
            .get_order(id)
            .await
            .unwrap()
            .expect("the order is projected");
        let (lat, lon) = if step == "deliver" {
            (order.delivery.lat, order.delivery.lon)
        } else {
            (order.pickup.lat, order.pickup.lon)
        };
        let r = self
            .report_position(rider, json!({"lat": lat, "lon": lon}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "report for {step}: {:?}", r.body);
    }

    /// A rider's `step` on delivery `id` (claim, release, pickup, deliver) on `base`, reported
    /// where it happens first ([`Self::report_for`]).
    pub async fn ride(&self, base: &str, rider: &str, id: &str, step: &str) -> Resp {
        self.report_for(rider, id, step).await;
        self.call(
            base,
            reqwest::Method::POST,
            &format!("/v1/rider/deliveries/{id}/{step}"),
            Some(rider),
            None,
            None,
        )
        .await
    }

    /// Prove `number` for the customer of `token`, as its owner would: ask for a code, read it
    /// off the fake gateway, give it back. KakaoTalk can then be switched on for it.
    pub async fn verify_phone(&self, token: &str, number: &str) {
        let r = self
            .call(
                &self.api,
                reqwest::Method::POST,
                "/v1/me/phone/verify",
                Some(token),
                Some(json!({"phone": number})),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{number}: {:?}", r.body);
        let code = kakao_provider::code_for(&self.kakao_provider, number)
            .await
            .expect("the gateway got the code");
        let r = self
            .call(
                &self.api,
                reqwest::Method::POST,
                "/v1/me/phone/confirm",
                Some(token),
                Some(json!({"code": code})),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{number}: {:?}", r.body);
    }

    pub async fn token(&self, role: &str, sub: &str, store_id: Option<&str>) -> String {
        let mut body = json!({"role": role, "sub": sub});
        if let Some(s) = store_id {
            body["store_id"] = json!(s);
        }
        let r = self
            .call(
                &self.api,
                reqwest::Method::POST,
                "/v1/dev/tokens",
                None,
                Some(body),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["token"].as_str().unwrap().to_owned()
    }

    /// A body for store st_1: `qty` of its first item (5000 won) and one of its second (4000).
    pub fn order_body(&self, qty: u32, card: &str) -> Value {
        json!({
            "store_id": "st_1",
            "items": [{"menu_item_id": "mi_1_1", "quantity": qty}, {"menu_item_id": "mi_1_2", "quantity": 1}],
            "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.4990, "lon": 127.0300},
            "payment": {"card_token": card}
        })
    }

    pub async fn place_on(&self, base: &str, token: &str, key: &str, body: Value) -> Resp {
        self.call(
            base,
            reqwest::Method::POST,
            "/v1/orders",
            Some(token),
            Some(body),
            Some(key),
        )
        .await
    }

    /// Place a paid order on `base` and return its id.
    pub async fn placed_order_on(&self, base: &str, customer: &str) -> String {
        let r = self
            .place_on(base, customer, &unique("key"), self.order_body(1, "tok_ok"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Ledger lines for one order, from the payment service.
    pub async fn payments(&self, order_id: &str) -> Vec<Value> {
        let r = http()
            .get(format!("{}/v1/payments?order_id={order_id}", self.payment))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let v: Value = r.json().await.unwrap();
        v["payments"].as_array().unwrap().clone()
    }

    pub async fn count(&self, order_id: &str, kind: &str, status: &str) -> usize {
        self.payments(order_id)
            .await
            .iter()
            .filter(|p| p["kind"] == kind && p["status"] == status)
            .count()
    }

    pub async fn notifications(&self, query: &str) -> Vec<Value> {
        let r = http()
            .get(format!("{}/v1/notifications?{query}", self.notify))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["notifications"].as_array().cloned().unwrap_or_default()
    }

    /// Switch the notification service off (it answers 503) or on.
    pub async fn set_notify_unavailable(&self, unavailable: bool) {
        let r = http()
            .put(format!("{}/v1/admin/faults", self.notify))
            .bearer_auth(SERVICE_TOKEN)
            .json(&json!({"unavailable": unavailable}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Poll the notification inbox for `query` until `enough` of them arrived (or `secs` pass).
    pub async fn notifications_until(&self, query: &str, enough: usize, secs: u64) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.notifications(query).await;
            if got.len() >= enough || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn set_payment_faults(&self, faults: Value) {
        let r = http()
            .put(format!("{}/v1/admin/faults", self.payment))
            .bearer_auth(SERVICE_TOKEN)
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Poll the order (as `token`) until `pred` holds, or fail after `secs`.
    pub async fn wait_for(
        &self,
        base: &str,
        token: &str,
        order_id: &str,
        secs: u64,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self
                .call(
                    base,
                    reqwest::Method::GET,
                    &format!("/v1/orders/{order_id}"),
                    Some(token),
                    None,
                    None,
                )
                .await;
            if r.status == StatusCode::OK && pred(&r.body) {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "order {order_id} did not reach the expected state in {secs}s; last: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The order's workflow: its status and the number of events in its history.
    pub async fn workflow(&self, order_id: &str) -> (WorkflowExecutionStatus, usize) {
        let client = self.temporal().await;
        let handle =
            client.get_workflow_handle::<baedal_workflows::OrderWorkflow>(order_id.to_owned());
        let described = handle
            .describe(Default::default())
            .await
            .expect("the order's workflow exists");
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .expect("history")
            .len();
        (described.status(), events)
    }

    /// Wait until the order's workflow has closed; answer how it closed and its event count.
    pub async fn closed_workflow(
        &self,
        order_id: &str,
        secs: u64,
    ) -> (WorkflowExecutionStatus, usize) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, events) = self.workflow(order_id).await;
            if status != WorkflowExecutionStatus::Running || Instant::now() > deadline {
                return (status, events);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// A client that seals and opens payloads as baedal's own do.
    pub async fn temporal(&self) -> temporalio_client::Client {
        connect_temporal(
            &self.temporal_address,
            "default",
            Duration::from_secs(10),
            Some(&payload_codec()),
        )
        .await
        .unwrap()
    }

    /// The order's history as the server stores it (and the Web UI or `temporal workflow show`
    /// shows it without the codec server): JSON, payloads untouched.
    pub async fn raw_history(&self, order_id: &str) -> String {
        let client = connect_temporal(
            &self.temporal_address,
            "default",
            Duration::from_secs(10),
            None,
        )
        .await
        .unwrap();
        client
            .get_workflow_handle::<baedal_workflows::OrderWorkflow>(order_id.to_owned())
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .map(|json| String::from_utf8(json).unwrap())
            .unwrap()
    }

    /// How many workflows match the visibility `query`, polled until `enough` holds or
    /// `within` passes (visibility is eventually consistent): the last count either way.
    pub async fn visible_workflows(
        &self,
        query: &str,
        within: Duration,
        enough: impl Fn(usize) -> bool,
    ) -> usize {
        let client = self.temporal().await;
        let deadline = Instant::now() + within;
        loop {
            let found = client
                .count_workflows(query.to_owned(), WorkflowCountOptions::default())
                .await
                .unwrap()
                .count();
            if enough(found) || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub fn statuses(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_owned())
        .collect()
}

/// With `BAEDAL_RECORD_HISTORIES=<version>`, save this order's history as
/// `workflows/tests/histories/<name>-<version>.json` for the replay test. Keep the files of
/// earlier versions: orders started by older code may still be running.
pub async fn maybe_record(order_id: &str, name: &str) {
    let Some(version) = std::env::var_os("BAEDAL_RECORD_HISTORIES") else {
        return;
    };
    let name = format!("{name}-{}", version.to_string_lossy());
    let client = system().temporal().await;
    let history = client
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(order_id.to_owned())
        .fetch_history(WorkflowFetchHistoryOptions::default());
    let json = history.to_json().await.unwrap();
    let path = format!(
        "{}/../workflows/tests/histories/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&path, json).unwrap();
}
