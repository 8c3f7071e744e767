//! A baedal configured as a deployment runs it, for the probes that only make sense there: no
//! dev mode (no dev tokens, no dev routes in the document), people's tokens from an identity
//! provider (a local JWKS server whose answers say `Cache-Control: max-age=1`), the worker's
//! own payment token, no fault injection, a codec that refuses unsealed payloads, `/metrics` on
//! a port of its own and a two-second header-read timeout. One per test binary, started on
//! first use on a thread and runtime of its own (like the shared test system).

use axum::Router;
use axum::routing::get;
use baedal::system::{ApiSpec, Endpoint, System, SystemConfig, TemporalSource};
use baedal_domain::Timeouts;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub const JWT_SECRET: &str = "prod-like-jwt-secret-0123456789abcdefghij";
pub const SERVICE_TOKEN: &str = "prod-like-service-token-0123456789abcdef";
pub const PAYMENT_TOKEN: &str = "prod-like-payment-token-0123456789abcdef";
pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "baedal-api";
/// The header-read timeout of every listener of this system.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Prod {
    pub api: String,
    pub payment: String,
    pub notify: String,
    pub metrics: String,
    pub temporal_address: String,
    /// The identity provider's published keys (kid `key-a` always; tests may add or withdraw
    /// others).
    pub idp_keys: Arc<Mutex<Vec<Value>>>,
    pub idp_url: String,
}

static PROD: OnceLock<Prod> = OnceLock::new();

fn key_file(name: &str) -> String {
    format!("{}/../auth/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn jwk(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(key_file(&format!("{name}.jwk.json"))).unwrap())
        .unwrap()
}

/// A token as the identity provider signs it: `key` (`rsa-a`, `rsa-b`) under `kid`, with the
/// given claims besides issuer and audience.
pub fn idp_token(key: &str, kid: &str, mut claims: Value) -> String {
    let enc = EncodingKey::from_rsa_pem(&std::fs::read(key_file(&format!("{key}.pem"))).unwrap())
        .unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    claims["iss"] = json!(ISSUER);
    claims["aud"] = json!(AUDIENCE);
    jsonwebtoken::encode(&header, &claims, &enc).unwrap()
}

/// An hour-long provider token for `role` (`store_id` for store owners).
pub fn token(role: &str, sub: &str, store_id: Option<&str>) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = json!({"sub": sub, "role": role, "iat": now, "exp": now + 3600});
    if let Some(s) = store_id {
        claims["store_id"] = json!(s);
    }
    idp_token("rsa-a", "key-a", claims)
}

pub fn prod() -> &'static Prod {
    PROD.get_or_init(|| {
        baedal_activities::install_crypto_provider();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listen =
                    || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
                // The identity provider.
                let idp_keys = Arc::new(Mutex::new(vec![jwk("rsa-a")]));
                let keys = idp_keys.clone();
                let idp = Router::new().route(
                    "/jwks.json",
                    get(move || {
                        let body = json!({"keys": *keys.lock().unwrap()});
                        async move { ([("cache-control", "max-age=1")], axum::Json(body)) }
                    }),
                );
                let idp_listener = listen().await;
                let idp_url = format!("http://{}/jwks.json", idp_listener.local_addr().unwrap());
                tokio::spawn(async move { axum::serve(idp_listener, idp).await });

                let dir = std::env::temp_dir().join(format!(
                    "baedal-prodlike-{}-{}",
                    std::process::id(),
                    baedal::devserver::free_local_port()
                ));
                std::fs::create_dir_all(&dir).unwrap();
                let identity = baedal_auth::Identity::new(baedal_auth::TokenKeys::with_expected(
                    JWT_SECRET,
                    baedal_auth::Expected {
                        issuer: ISSUER.into(),
                        audience: AUDIENCE.into(),
                    },
                ))
                .with_jwks(baedal_auth::Jwks::new(&idp_url).min_refresh(Duration::ZERO));
                let codec = baedal_codec::EncryptionCodec::new(
                    baedal_codec::PayloadKeys::parse(
                        "prod:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                    )
                    .unwrap(),
                )
                .refusing_unsealed();
                let cli = baedal::devserver::find_cli().expect("temporal CLI (run ./scripts/test)");
                let cfg = SystemConfig {
                    data_dir: dir.clone(),
                    database_url: baedal_db::scratch_url_in(&dir, "readmodel.db"),
                    database_listen_url: None,
                    payment_database_url: baedal_db::scratch_url_in(&dir, "payment.db"),
                    notify_database_url: baedal_db::scratch_url_in(&dir, "notify.db"),
                    temporal: TemporalSource::DevServer {
                        cli,
                        port: baedal::devserver::free_local_port(),
                        ui_port: baedal::devserver::free_local_port(),
                    },
                    namespace: "default".into(),
                    identity,
                    payload_codec: codec,
                    codec_server: None,
                    service_token: SERVICE_TOKEN.into(),
                    payment_token: PAYMENT_TOKEN.into(),
                    fault_injection: false,
                    serve_limits: baedal::listen::ServeLimits {
                        header_read_timeout: HEADER_READ_TIMEOUT,
                        ..Default::default()
                    },
                    metrics_listener: Some(listen().await),
                    apis: vec![ApiSpec {
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
                        role: baedal_api::ApiRole::All,
                        idempotency_window: Duration::from_secs(24 * 3600),
                        request_timeout: Duration::from_secs(10),
                        sse_heartbeat: Duration::from_secs(1),
                    }],
                    payment: Endpoint::Serve(listen().await),
                    notify: Endpoint::Serve(listen().await),
                    hook_delivery: Default::default(),
                    kakao: None,
                    worker: true,
                    worker_settings: Default::default(),
                    breaker: Default::default(),
                    dev_mode: false,
                    metrics: Some(std::sync::Arc::new(|| "# prod-like\n".to_owned())),
                    stuck_after: Duration::from_secs(45 * 60),
                    idempotency_window: Duration::from_secs(24 * 3600),
                    retention: baedal_domain::retention::Retention::default(),
                    temporal_ui: None,
                    limits: baedal_api::RateLimits::LOAD_TEST,
                    plausibility: crate::common::PLAUSIBILITY,
                };
                let sys = System::start(cfg)
                    .await
                    .expect("the prod-like baedal starts");
                tx.send(Prod {
                    api: sys.api_urls[0].clone(),
                    payment: sys.payment_url.clone(),
                    notify: sys.notify_url.clone(),
                    metrics: sys.metrics_url.clone().expect("metrics served"),
                    temporal_address: sys.temporal_address.clone(),
                    idp_keys,
                    idp_url,
                })
                .unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv_timeout(Duration::from_secs(180))
            .expect("the prod-like baedal did not start within 180 s")
    })
}

/// A client per call (see the shared harness: pooled connections die with a test's runtime).
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The body of a paid order at st_1.
pub fn order_body() -> Value {
    json!({
        "store_id": "st_1",
        "items": [{"menu_item_id": "mi_1_1", "quantity": 1}],
        "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.4990, "lon": 127.0300},
        "payment": {"card_token": "tok_ok"}
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
