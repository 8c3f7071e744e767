//! Where each part listens and where its callers find it; which Temporal.

use clap::Args;
use std::time::Duration;

/// Which Temporal, and its Web UI.
#[derive(Debug, Clone, Args)]
pub struct Temporal {
    /// Address of an existing Temporal frontend (`http://host:7233`); default: the dev server.
    #[arg(long, env = "TEMPORAL_ADDRESS")]
    pub temporal_address: Option<String>,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub temporal_namespace: String,
    /// gRPC port of the embedded dev server.
    #[arg(long, env = "BAEDAL_TEMPORAL_PORT", default_value_t = 7233)]
    pub temporal_port: u16,
    /// The CA (PEM file) Temporal's frontend certificate is checked against; set with the
    /// client certificate when the frontend requires mTLS (deploy/temporal/values.yaml).
    #[arg(long, env = "BAEDAL_TEMPORAL_TLS_CA")]
    pub temporal_tls_ca: Option<std::path::PathBuf>,
    /// This process's client certificate (PEM file) for Temporal's frontend (mTLS).
    #[arg(long, env = "BAEDAL_TEMPORAL_TLS_CERT")]
    pub temporal_tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM file) of BAEDAL_TEMPORAL_TLS_CERT.
    #[arg(long, env = "BAEDAL_TEMPORAL_TLS_KEY")]
    pub temporal_tls_key: Option<std::path::PathBuf>,
}

impl Temporal {
    /// TLS to the frontend, with a client certificate (mTLS) when one is given; `None` when
    /// no TLS setting is (plain gRPC: the dev server).
    pub fn tls(&self) -> anyhow::Result<Option<temporalio_client::TlsOptions>> {
        use anyhow::Context;
        let read = |p: &std::path::Path| {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        };
        let client = match (&self.temporal_tls_cert, &self.temporal_tls_key) {
            (Some(cert), Some(key)) => Some(
                temporalio_client::ClientTlsOptions::builder()
                    .client_cert(read(cert)?)
                    .client_private_key(read(key)?)
                    .build(),
            ),
            (None, None) => None,
            _ => anyhow::bail!(
                "set both BAEDAL_TEMPORAL_TLS_CERT and BAEDAL_TEMPORAL_TLS_KEY, or neither"
            ),
        };
        let ca = self.temporal_tls_ca.as_deref().map(read).transpose()?;
        if client.is_none() && ca.is_none() {
            return Ok(None);
        }
        Ok(Some(
            temporalio_client::TlsOptions::builder()
                .maybe_server_root_ca_cert(ca)
                .maybe_client_tls_options(client)
                .build(),
        ))
    }

    pub fn address(&self) -> String {
        self.temporal_address
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.temporal_port))
    }
}

/// The Temporal Web UI: where ops' links point and which origin may call the codec server.
#[derive(Debug, Clone, Args)]
pub struct TemporalUi {
    /// Web UI port of the embedded dev server.
    #[arg(long, env = "BAEDAL_TEMPORAL_UI_PORT", default_value_t = 8233)]
    pub temporal_ui_port: u16,
    /// Base URL of the Temporal Web UI, for links from ops endpoints (default: the dev
    /// server's UI on BAEDAL_TEMPORAL_UI_PORT).
    #[arg(long, env = "BAEDAL_TEMPORAL_UI_URL")]
    pub temporal_ui_url: Option<String>,
}

impl TemporalUi {
    pub fn url(&self) -> String {
        self.temporal_ui_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", self.temporal_ui_port))
    }
}

/// Where the payment service listens.
#[derive(Debug, Clone, Args)]
pub struct PaymentAddr {
    #[arg(long, env = "BAEDAL_PAYMENT_ADDR", default_value = "127.0.0.1:8081")]
    pub payment_addr: String,
}

/// Where the payment service's callers find it (by default where it listens).
#[derive(Debug, Clone, Args)]
pub struct PaymentDoor {
    #[command(flatten)]
    pub addr: PaymentAddr,
    /// Base URL of the payment service (default: `http://` + BAEDAL_PAYMENT_ADDR).
    #[arg(long, env = "BAEDAL_PAYMENT_URL")]
    pub payment_url: Option<String>,
}

impl PaymentDoor {
    pub fn url(&self) -> String {
        self.payment_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr.payment_addr))
    }
}

/// Where the notification service listens.
#[derive(Debug, Clone, Args)]
pub struct NotifyAddr {
    #[arg(long, env = "BAEDAL_NOTIFY_ADDR", default_value = "127.0.0.1:8082")]
    pub notify_addr: String,
}

/// Where the notification service's callers find it (by default where it listens).
#[derive(Debug, Clone, Args)]
pub struct NotifyDoor {
    #[command(flatten)]
    pub addr: NotifyAddr,
    /// Base URL of the notification service (default: `http://` + BAEDAL_NOTIFY_ADDR).
    #[arg(long, env = "BAEDAL_NOTIFY_URL")]
    pub notify_url: Option<String>,
}

impl NotifyDoor {
    pub fn url(&self) -> String {
        self.notify_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr.notify_addr))
    }
}

/// The api's own door.
#[derive(Debug, Clone, Args)]
pub struct ApiDoor {
    #[arg(long, env = "BAEDAL_API_ADDR", default_value = "127.0.0.1:8080")]
    pub api_addr: String,
    /// Every api request is answered within this: past it, 503 with Retry-After naming what
    /// is slow.
    #[arg(long, env = "BAEDAL_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Live streams (SSE) send a heartbeat comment this often when idle, so proxies and load
    /// balancers keep them open.
    #[arg(long, env = "BAEDAL_SSE_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub sse_heartbeat: Duration,
}

/// Where the codec server listens.
#[derive(Debug, Clone, Args)]
pub struct CodecDoor {
    /// Where `baedal dev` and `baedal codec-server` serve the Web UI's codec endpoint.
    #[arg(long, env = "BAEDAL_CODEC_ADDR", default_value = "127.0.0.1:8083")]
    pub codec_addr: String,
}

/// Where a process serves `/metrics` (never on an api's public port).
#[derive(Debug, Clone, Args)]
pub struct Metrics {
    /// Where this process serves `/metrics` (an api never serves it on its public port;
    /// unset: not served).
    #[arg(long, env = "BAEDAL_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
}
