//! Every setting is a flag and an environment variable (DESIGN.md "Configuration").

use baedal_domain::Timeouts;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by every role.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Where the embedded stores live (Temporal, read model, ledger, inbox).
    #[arg(long, env = "BAEDAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Read model: a SQLite URL (default: `readmodel.db` in the data dir).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
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
        default_value = "baedal-dev-jwt-secret-change-me",
        hide_env_values = true
    )]
    pub jwt_secret: String,
    /// Bearer token services use with each other.
    #[arg(
        long,
        env = "BAEDAL_SERVICE_TOKEN",
        default_value = "baedal-dev-service-token",
        hide_env_values = true
    )]
    pub service_token: String,
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
}

impl Common {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("readmodel.db").display()))
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

    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            store_accept_ms: self.store_accept_timeout.as_millis() as u64,
            rider_claim_ms: self.rider_claim_timeout.as_millis() as u64,
            auto_confirm_ms: self.auto_confirm_after.as_millis() as u64,
        }
    }
}
