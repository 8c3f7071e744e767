//! Every setting is a flag and an environment variable (DESIGN.md "Configuration").

use anyhow::Context;
use baedal_domain::Timeouts;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The JWT secret `baedal dev` runs with when none is given. Refused by every other role.
pub const DEV_JWT_SECRET: &str = "baedal-dev-jwt-secret-change-me";
/// The service token `baedal dev` runs with when none is given. Refused by every other role.
pub const DEV_SERVICE_TOKEN: &str = "baedal-dev-service-token";
/// The shortest secret a role outside `baedal dev` accepts.
pub const MIN_SECRET_BYTES: usize = 32;

/// Settings shared by every role.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Where the embedded stores live (Temporal, read model, ledger, inbox).
    #[arg(long, env = "BAEDAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The read model (`sqlite://path` or `postgres://…`; default: `readmodel.db` in the data
    /// dir).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The payment service's own ledger database (default: SQLite in the data dir).
    #[arg(long, env = "BAEDAL_PAYMENT_DATABASE_URL", hide_env_values = true)]
    pub payment_database_url: Option<String>,
    /// The notification service's own database (default: SQLite in the data dir).
    #[arg(long, env = "BAEDAL_NOTIFY_DATABASE_URL", hide_env_values = true)]
    pub notify_database_url: Option<String>,
    /// Address of an existing Temporal frontend (`http://host:7233`); default: the dev server.
    #[arg(long, env = "TEMPORAL_ADDRESS")]
    pub temporal_address: Option<String>,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub temporal_namespace: String,
    /// gRPC port of the embedded dev server.
    #[arg(long, env = "BAEDAL_TEMPORAL_PORT", default_value_t = 7233)]
    pub temporal_port: u16,
    /// Web UI port of the embedded dev server.
    #[arg(long, env = "BAEDAL_TEMPORAL_UI_PORT", default_value_t = 8233)]
    pub temporal_ui_port: u16,
    /// Secret that signs and verifies user JWTs.
    #[arg(
        long,
        env = "BAEDAL_JWT_SECRET",
        default_value = DEV_JWT_SECRET,
        hide_env_values = true
    )]
    pub jwt_secret: String,
    /// Bearer token services use with each other.
    #[arg(
        long,
        env = "BAEDAL_SERVICE_TOKEN",
        default_value = DEV_SERVICE_TOKEN,
        hide_env_values = true
    )]
    pub service_token: String,
    /// AES-256 keys sealing every payload sent to Temporal: `id:<base64 of 32 bytes>`,
    /// comma-separated, the first seals and all open (rotate by listing a new one first).
    /// Required by every role that talks to Temporal but `baedal dev`, which keeps one in the
    /// data dir.
    #[arg(long, env = "BAEDAL_PAYLOAD_KEY", hide_env_values = true)]
    pub payload_key: Option<String>,
    /// Where `baedal dev` and `baedal codec-server` serve the Web UI's codec endpoint.
    #[arg(long, env = "BAEDAL_CODEC_ADDR", default_value = "127.0.0.1:8083")]
    pub codec_addr: String,
    /// Issuer (`iss`) every user JWT must carry; dev tokens are stamped with it.
    #[arg(long, env = "BAEDAL_JWT_ISSUER", default_value = baedal_auth::DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// Audience (`aud`) every user JWT must be meant for; dev tokens are stamped with it.
    #[arg(long, env = "BAEDAL_JWT_AUDIENCE", default_value = baedal_auth::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// The identity provider's JWKS: RS256/ES256 tokens are verified with its keys (by `kid`)
    /// besides HS256 tokens signed with BAEDAL_JWT_SECRET.
    #[arg(long, env = "BAEDAL_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    #[arg(long, env = "BAEDAL_API_ADDR", default_value = "127.0.0.1:8080")]
    pub api_addr: String,
    #[arg(long, env = "BAEDAL_PAYMENT_ADDR", default_value = "127.0.0.1:8081")]
    pub payment_addr: String,
    #[arg(long, env = "BAEDAL_NOTIFY_ADDR", default_value = "127.0.0.1:8082")]
    pub notify_addr: String,
    /// Base URL of the payment service (default: `http://` + BAEDAL_PAYMENT_ADDR).
    #[arg(long, env = "BAEDAL_PAYMENT_URL")]
    pub payment_url: Option<String>,
    /// Base URL of the notification service (default: `http://` + BAEDAL_NOTIFY_ADDR).
    #[arg(long, env = "BAEDAL_NOTIFY_URL")]
    pub notify_url: Option<String>,
    /// Store does not answer within this → auto-reject and refund.
    #[arg(long, env = "BAEDAL_STORE_ACCEPT_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub store_accept_timeout: Duration,
    /// No rider claims within this → widen the search radius and notify ops.
    #[arg(long, env = "BAEDAL_RIDER_CLAIM_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub rider_claim_timeout: Duration,
    /// Delivered but not confirmed within this → complete automatically.
    #[arg(long, env = "BAEDAL_AUTO_CONFIRM_AFTER", default_value = "30m", value_parser = humantime::parse_duration)]
    pub auto_confirm_after: Duration,
    /// A rider who claimed a delivery and has not picked it up within this loses it: it goes
    /// back on the board, and the rider and ops are told.
    #[arg(long, env = "BAEDAL_PICKUP_DEADLINE", default_value = "15m", value_parser = humantime::parse_duration)]
    pub pickup_deadline: Duration,
    /// Food picked up and not delivered within this → ops are alerted (once per order).
    #[arg(long, env = "BAEDAL_DELIVERY_DEADLINE", default_value = "60m", value_parser = humantime::parse_duration)]
    pub delivery_deadline: Duration,
    /// A place-order whose payment was unavailable can be retried with the same
    /// Idempotency-Key for this long; then the attempt expires.
    #[arg(long, env = "BAEDAL_PAYMENT_RETRY_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub payment_retry_window: Duration,
    /// The longest wait between two retries of a failing notification or projection (the
    /// notification service or the read model is down). Those retries are the engine's and
    /// add nothing to an order's history.
    #[arg(long, env = "BAEDAL_RETRY_CAP", default_value = "60s", value_parser = humantime::parse_duration)]
    pub retry_cap: Duration,
    /// An open order that has not moved for this long is listed at /v1/ops/orders/stuck and
    /// alerted to ops once.
    #[arg(long, env = "BAEDAL_STUCK_AFTER", default_value = "45m", value_parser = humantime::parse_duration)]
    pub stuck_after: Duration,
    /// A place-order's Idempotency-Key returns the same order for this long after its first
    /// use, and is refused (422) after it. The dev server keeps closed workflows longer.
    #[arg(long, env = "BAEDAL_IDEMPOTENCY_WINDOW", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_window: Duration,
    /// Every api request is answered within this: past it, 503 with Retry-After naming what
    /// is slow.
    #[arg(long, env = "BAEDAL_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Live streams (SSE) send a heartbeat comment this often when idle, so proxies and load
    /// balancers keep them open.
    #[arg(long, env = "BAEDAL_SSE_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub sse_heartbeat: Duration,
    /// Base URL of the Temporal Web UI, for links from ops endpoints (default: the dev
    /// server's UI on BAEDAL_TEMPORAL_UI_PORT).
    #[arg(long, env = "BAEDAL_TEMPORAL_UI_URL")]
    pub temporal_ui_url: Option<String>,
    /// Order workflows a worker keeps in memory between tasks (its sticky cache); evicted
    /// ones are replayed from history on their next task. Trades memory for replay CPU.
    #[arg(long, env = "BAEDAL_WORKER_CACHE", default_value_t = 500)]
    pub worker_cache: usize,
    /// Concurrent workflow-task polls a worker keeps open (most on its sticky queue). Too few
    /// and tasks wait in the server's queue while the engine has CPU to spare.
    #[arg(long, env = "BAEDAL_WORKER_POLLERS", default_value_t = 5)]
    pub worker_pollers: usize,
    /// Where a worker, payment or notification process serves `/metrics` (apis serve it on
    /// their own port).
    #[arg(long, env = "BAEDAL_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Let webhooks point at loopback, private, link-local and metadata addresses, and use
    /// plain http: for tests with a local receiver only (`baedal dev` refuses them too).
    #[arg(long, env = "BAEDAL_HOOKS_ALLOW_PRIVATE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub hooks_allow_private: bool,
    /// Waits between a webhook delivery's attempts, comma-separated (default: the Standard
    /// Webhooks schedule, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h).
    #[arg(long, env = "BAEDAL_HOOKS_RETRY_SCHEDULE", value_delimiter = ',', value_parser = humantime::parse_duration)]
    pub hooks_retry_schedule: Vec<Duration>,
    /// A webhook whose every delivery has failed for this long is disabled (its owner is told).
    #[arg(long, env = "BAEDAL_HOOKS_DISABLE_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    pub hooks_disable_after: Duration,
    /// The KakaoTalk message provider's send URL (an AlimTalk gateway); unset, the KakaoTalk
    /// channel is off and customers hear through their inbox only.
    #[arg(long, env = "BAEDAL_KAKAO_URL")]
    pub kakao_url: Option<String>,
    /// The provider's API key (sent as a bearer token).
    #[arg(long, env = "BAEDAL_KAKAO_KEY", hide_env_values = true)]
    pub kakao_key: Option<String>,
    /// The KakaoTalk channel's sender key (발신 프로필 키) the templates are approved for.
    #[arg(long, env = "BAEDAL_KAKAO_SENDER")]
    pub kakao_sender: Option<String>,
    /// Waits between a KakaoTalk message's attempts, comma-separated (default 5s, 30s, 2m,
    /// 10m, 30m: a status message is stale after an hour).
    #[arg(long, env = "BAEDAL_KAKAO_RETRY_SCHEDULE", value_delimiter = ',', value_parser = humantime::parse_duration)]
    pub kakao_retry_schedule: Vec<Duration>,
    #[command(flatten)]
    pub breaker: Breaker,
}

/// Circuit breaker around charges (in the worker).
#[derive(Debug, Clone, Args)]
pub struct Breaker {
    /// How far back the breaker's sliding window remembers calls.
    #[arg(long, env = "BAEDAL_BREAKER_WINDOW", default_value = "30s", value_parser = humantime::parse_duration)]
    pub breaker_window: Duration,
    /// Calls needed in the window before the breaker judges rates.
    #[arg(long, env = "BAEDAL_BREAKER_MIN_CALLS", default_value_t = 5)]
    pub breaker_min_calls: usize,
    /// Failure rate (0..1] at which the breaker opens.
    #[arg(long, env = "BAEDAL_BREAKER_FAILURE_RATE", default_value_t = 0.5)]
    pub breaker_failure_rate: f64,
    /// A charge slower than this counts as slow.
    #[arg(long, env = "BAEDAL_BREAKER_SLOW_CALL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub breaker_slow_call: Duration,
    /// Slow-call rate (0..1] at which the breaker opens.
    #[arg(long, env = "BAEDAL_BREAKER_SLOW_RATE", default_value_t = 0.8)]
    pub breaker_slow_rate: f64,
    /// How long the breaker stays open before letting probes through.
    #[arg(long, env = "BAEDAL_BREAKER_OPEN_FOR", default_value = "10s", value_parser = humantime::parse_duration)]
    pub breaker_open_for: Duration,
    /// Probe charges let through while half-open.
    #[arg(long, env = "BAEDAL_BREAKER_HALF_OPEN_CALLS", default_value_t = 2)]
    pub breaker_half_open_calls: usize,
}

impl Breaker {
    pub fn settings(&self) -> anyhow::Result<baedal_activities::BreakerSettings> {
        for (name, rate) in [
            ("BAEDAL_BREAKER_FAILURE_RATE", self.breaker_failure_rate),
            ("BAEDAL_BREAKER_SLOW_RATE", self.breaker_slow_rate),
        ] {
            anyhow::ensure!(
                rate > 0.0 && rate <= 1.0,
                "{name} must be within (0, 1], got {rate}"
            );
        }
        anyhow::ensure!(
            self.breaker_window >= Duration::from_secs(1),
            "BAEDAL_BREAKER_WINDOW must be at least 1s"
        );
        Ok(baedal_activities::BreakerSettings {
            window: self.breaker_window,
            min_calls: self.breaker_min_calls.max(1),
            failure_rate: self.breaker_failure_rate,
            slow_call: self.breaker_slow_call,
            slow_rate: self.breaker_slow_rate,
            open_for: self.breaker_open_for,
            half_open_calls: self.breaker_half_open_calls.max(1),
        })
    }
}

impl Common {
    /// Outside `baedal dev`, refuse to run on a secret that is unset (the dev default), the
    /// dev default, or shorter than [`MIN_SECRET_BYTES`]: a forged token or a service call
    /// must not be one guess away. The error names the variable to set.
    pub fn require_production_secrets(&self) -> anyhow::Result<()> {
        for (name, value, dev) in [
            ("BAEDAL_JWT_SECRET", &self.jwt_secret, DEV_JWT_SECRET),
            (
                "BAEDAL_SERVICE_TOKEN",
                &self.service_token,
                DEV_SERVICE_TOKEN,
            ),
        ] {
            anyhow::ensure!(
                value != dev,
                "{name} is unset or the dev default: set it to a random secret of at least \
                 {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`); only `baedal dev` runs \
                 on the dev default"
            );
            anyhow::ensure!(
                value.len() >= MIN_SECRET_BYTES,
                "{name} is {} bytes: set it to a random secret of at least {MIN_SECRET_BYTES} bytes \
                 (e.g. `openssl rand -base64 48`)",
                value.len()
            );
        }
        Ok(())
    }

    /// The payload codec of a role outside dev: refuses to run without BAEDAL_PAYLOAD_KEY.
    pub fn payload_codec(&self) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        let spec = self.payload_key.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "BAEDAL_PAYLOAD_KEY is unset: card data would reach Temporal in plaintext. Set it \
                 to `k1:$(openssl rand -base64 32)` (the same on every api and worker)"
            )
        })?;
        Ok(baedal_codec::EncryptionCodec::new(
            baedal_codec::PayloadKeys::parse(spec)?,
        ))
    }

    /// The payload codec of `baedal dev`: BAEDAL_PAYLOAD_KEY if set, else the key kept in the
    /// data dir (made on first start, so a resumed data dir opens its own history).
    pub fn dev_payload_codec(&self) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        self.key_or_data_dir_key(true)
    }

    /// The codec of a client of a running `baedal dev` (loadgen's query reads): its key, never
    /// a new one.
    pub fn client_payload_codec(&self) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        self.key_or_data_dir_key(false)
    }

    fn key_or_data_dir_key(&self, create: bool) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        if self.payload_key.is_some() {
            return self.payload_codec();
        }
        let path = self.data_dir.join("payload.key");
        let spec = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!(
                    "no payload key: set BAEDAL_PAYLOAD_KEY, or BAEDAL_DATA_DIR to the running \
                     `baedal dev`'s data dir ({} has no payload.key)",
                    self.data_dir.display()
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&self.data_dir)?;
                let key = baedal_codec::PayloadKeys::generate();
                write_private(&path, &key)?;
                key
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let keys = baedal_codec::PayloadKeys::parse(&spec)
            .with_context(|| format!("the payload key in {}", path.display()))?;
        Ok(baedal_codec::EncryptionCodec::new(keys))
    }

    /// How this process verifies people's tokens (and signs dev tokens).
    pub fn identity(&self) -> baedal_auth::Identity {
        let keys = baedal_auth::TokenKeys::with_expected(
            &self.jwt_secret,
            baedal_auth::Expected {
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
            },
        );
        let identity = baedal_auth::Identity::new(keys);
        match &self.jwt_jwks_url {
            Some(url) => identity.with_jwks(baedal_auth::Jwks::new(url)),
            None => identity,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| self.sqlite_in_data_dir("readmodel.db"))
    }

    pub fn payment_database_url(&self) -> String {
        self.payment_database_url
            .clone()
            .unwrap_or_else(|| self.sqlite_in_data_dir("payment.db"))
    }

    pub fn notify_database_url(&self) -> String {
        self.notify_database_url
            .clone()
            .unwrap_or_else(|| self.sqlite_in_data_dir("notify.db"))
    }

    fn sqlite_in_data_dir(&self, file: &str) -> String {
        format!("sqlite://{}", self.data_dir.join(file).display())
    }

    pub fn payment_url(&self) -> String {
        self.payment_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.payment_addr))
    }

    pub fn notify_url(&self) -> String {
        self.notify_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.notify_addr))
    }

    pub fn temporal_address(&self) -> String {
        self.temporal_address
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.temporal_port))
    }

    /// How the notification service delivers webhooks.
    pub fn hook_delivery(&self) -> baedal_notification::delivery::DeliverySettings {
        let mut settings = baedal_notification::delivery::DeliverySettings {
            allow_private: self.hooks_allow_private,
            disable_after: self.hooks_disable_after,
            ..Default::default()
        };
        if !self.hooks_retry_schedule.is_empty() {
            settings.schedule = self.hooks_retry_schedule.clone();
        }
        settings
    }

    /// The KakaoTalk channel, when BAEDAL_KAKAO_URL is set (then the key and sender must be).
    pub fn kakao(&self) -> anyhow::Result<Option<baedal_notification::kakao::KakaoSettings>> {
        let Some(url) = self.kakao_url.clone().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        anyhow::ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "BAEDAL_KAKAO_URL must be the provider's http(s) send URL, not {url:?}"
        );
        let need = |name: &str, v: &Option<String>| {
            v.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                anyhow::anyhow!("BAEDAL_KAKAO_URL is set but {name} is not: set both, or neither")
            })
        };
        let mut settings = baedal_notification::kakao::KakaoSettings::new(
            url,
            need("BAEDAL_KAKAO_KEY", &self.kakao_key)?,
            need("BAEDAL_KAKAO_SENDER", &self.kakao_sender)?,
        );
        if !self.kakao_retry_schedule.is_empty() {
            settings.schedule = self.kakao_retry_schedule.clone();
        }
        Ok(Some(settings))
    }

    /// Everything `baedal worker` runs with besides Temporal and the read model.
    pub fn worker_role(&self) -> anyhow::Result<baedal_worker::WorkerRole> {
        Ok(baedal_worker::WorkerRole {
            payment_url: self.payment_url(),
            notify_url: self.notify_url(),
            service_token: self.service_token.clone(),
            breaker: self.breaker.settings()?,
            stuck_after: self.stuck_after,
            settings: self.worker_settings(),
        })
    }

    pub fn worker_settings(&self) -> baedal_worker::WorkerSettings {
        baedal_worker::WorkerSettings {
            max_cached_workflows: self.worker_cache.max(1),
            workflow_pollers: self.worker_pollers,
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            store_accept_ms: self.store_accept_timeout.as_millis() as u64,
            rider_claim_ms: self.rider_claim_timeout.as_millis() as u64,
            auto_confirm_ms: self.auto_confirm_after.as_millis() as u64,
            payment_retry_ms: self.payment_retry_window.as_millis() as u64,
            retry_cap_ms: self.retry_cap.as_millis() as u64,
            pickup_deadline_ms: Some(self.pickup_deadline.as_millis() as u64),
            delivery_deadline_ms: Some(self.delivery_deadline.as_millis() as u64),
        }
    }

    pub fn temporal_ui_url(&self) -> String {
        self.temporal_ui_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.temporal_ui_port))
    }
}

/// Write a secret readable by its owner only.
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}
