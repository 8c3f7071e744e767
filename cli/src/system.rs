//! Starting and stopping baedal's parts in one process: what `baedal dev` runs and what the
//! integration tests spawn.

use crate::devserver::DevServer;
use crate::roles::ApiSettings;
use anyhow::Context;
use baedal_activities::BreakerSettings;
use baedal_api::{ApiRole, MetricsRender};
use baedal_codec::EncryptionCodec;
use baedal_domain::Timeouts;
use baedal_readmodel::{FollowSettings, ReadModel};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, GrpcCompression, Url,
};
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Connect to Temporal, retrying for up to `wait` (a dev server takes a few seconds to start).
/// A client of `namespace` at `address`, retrying for `wait`. With `codec`, every payload it
/// sends is sealed and every one it receives opened (without, payloads pass as they are: the
/// bare-engine baseline and tests reading raw history). When the process traces
/// (`crate::telemetry`), the client and the workers built on it carry the SDK's
/// OpenTelemetry plugin.
pub async fn connect_temporal(
    address: &str,
    namespace: &str,
    wait: Duration,
    codec: Option<&EncryptionCodec>,
) -> anyhow::Result<Client> {
    connect_temporal_tls(address, namespace, wait, codec, None).await
}

/// [`connect_temporal`] over TLS (mTLS with a client certificate), as a deployment whose
/// Temporal frontend requires it connects (BAEDAL_TEMPORAL_TLS_*).
pub async fn connect_temporal_tls(
    address: &str,
    namespace: &str,
    wait: Duration,
    codec: Option<&EncryptionCodec>,
    tls: Option<temporalio_client::TlsOptions>,
) -> anyhow::Result<Client> {
    let url = Url::parse(address).with_context(|| format!("TEMPORAL_ADDRESS {address}"))?;
    let started = Instant::now();
    loop {
        // No gRPC compression: every payload baedal sends is sealed with the payload key
        // (AES-GCM), and ciphertext does not compress, while gzip cost the process 7-10% of
        // its CPU (a fresh deflate state per message; BENCHMARKS.md, "Read side at cluster
        // scale"). The SDK defaults to gzip.
        // Every call and long poll is counted on this process's `/metrics`
        // (`temporal_request_total`, `temporal_long_request_failure_total`, ...).
        let opts = ConnectionOptions::new(url.clone())
            .identity(format!("baedal@{}", std::process::id()))
            .grpc_compression(GrpcCompression::None)
            .maybe_tls_options(tls.clone())
            .metrics_meter(baedal_worker::sdk_metrics::client_meter())
            .build();
        match Connection::connect(opts).await {
            Ok(conn) => {
                let options = ClientOptions::new(namespace)
                    .plugins(crate::telemetry::temporal_plugins(codec));
                let options = match codec {
                    Some(codec) => options
                        .data_converter(DataConverter::new(
                            PayloadConverter::default(),
                            DefaultFailureConverter::default(),
                            codec.clone(),
                        ))
                        .build(),
                    None => options.build(),
                };
                return Ok(Client::new(conn, options)?);
            }
            Err(e) if started.elapsed() < wait => {
                tracing::debug!(error = %e, "temporal not reachable yet");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e)).with_context(|| {
                    format!("Temporal at {address} not reachable after {wait:?}")
                });
            }
        }
    }
}

/// Where Temporal comes from.
pub enum TemporalSource {
    /// Start the dev server from this CLI.
    DevServer {
        cli: PathBuf,
        port: u16,
        ui_port: u16,
    },
    /// Use a running server.
    Existing { address: String },
}

/// A service this process serves on a listener, or one that runs elsewhere.
pub enum Endpoint {
    Serve(TcpListener),
    External(String),
}

impl Endpoint {
    fn url(&self) -> anyhow::Result<String> {
        Ok(match self {
            Endpoint::Serve(l) => format!("http://{}", l.local_addr()?),
            Endpoint::External(u) => u.trim_end_matches('/').to_owned(),
        })
    }
}

/// One api this process serves.
pub struct ApiSpec {
    pub listener: TcpListener,
    /// Timer durations the orders it places run with.
    pub timeouts: Timeouts,
    pub role: ApiRole,
    /// How long a place-order's Idempotency-Key is answered the same way.
    pub idempotency_window: Duration,
    /// Each request is answered within this.
    pub request_timeout: Duration,
    /// Idle live streams get a heartbeat this often.
    pub sse_heartbeat: Duration,
}

/// Everything needed to run baedal's parts in one process (all of them for `baedal dev`).
pub struct SystemConfig {
    pub data_dir: PathBuf,
    /// The read model's database.
    pub database_url: String,
    /// Where live streams' follower `LISTEN`s (PostgreSQL; `None`: `database_url`).
    pub database_listen_url: Option<String>,
    /// The payment ledger's and the notification store's own databases (used by the
    /// services this process serves).
    pub payment_database_url: String,
    pub notify_database_url: String,
    pub temporal: TemporalSource,
    pub namespace: String,
    /// How people's tokens are verified (and dev tokens signed).
    pub identity: baedal_auth::Identity,
    /// Seals every payload this process sends to Temporal (card data stays out of history).
    pub payload_codec: EncryptionCodec,
    /// Serve the codec server here, and point the dev server's Web UI at it.
    pub codec_server: Option<TcpListener>,
    pub service_token: String,
    /// The worker's credential at the payment service: charges and refunds take it alone.
    pub payment_token: String,
    /// Serve the payment and notification services' fault switches (tests, `baedal dev`).
    pub fault_injection: bool,
    /// What every listener of this process allows a client to hold open.
    pub serve_limits: crate::listen::ServeLimits,
    /// Serve `/metrics` here (never on an api's port).
    pub metrics_listener: Option<TcpListener>,
    pub apis: Vec<ApiSpec>,
    pub payment: Endpoint,
    pub notify: Endpoint,
    /// How the notification service this process serves delivers webhooks.
    pub hook_delivery: baedal_notification::delivery::DeliverySettings,
    /// The KakaoTalk channel of the notification service this process serves, if any.
    pub kakao: Option<baedal_notification::kakao::KakaoSettings>,
    /// Run the worker in this process, with these settings.
    pub worker: bool,
    pub worker_settings: baedal_worker::WorkerSettings,
    pub breaker: BreakerSettings,
    pub dev_mode: bool,
    pub metrics: Option<MetricsRender>,
    /// Open orders that have not moved for this long are stuck (listed, alerted once).
    pub stuck_after: Duration,
    /// The longest idempotency window of the apis: the dev server keeps closed workflows
    /// at least a day longer.
    pub idempotency_window: Duration,
    /// What the worker prunes the read model to and the notification service its store.
    pub retention: baedal_domain::retention::Retention,
    /// The Temporal Web UI of an existing cluster (the dev server's own otherwise).
    pub temporal_ui: Option<String>,
    /// What every api of this process limits (rates, streams, hooks per owner).
    pub limits: baedal_api::RateLimits,
    /// Where riders must be for their steps, and where stores deliver (every api).
    pub plausibility: baedal_domain::plausible::Plausibility,
}

/// A running system.
pub struct System {
    pub api_urls: Vec<String>,
    /// Where `/metrics` is served, when it is.
    pub metrics_url: Option<String>,
    pub payment_url: String,
    pub notify_url: String,
    pub temporal_address: String,
    pub temporal_ui: Option<String>,
    pub read_model: ReadModel,
    pub temporal: Client,
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<()>>,
    devserver: Option<DevServer>,
}

fn stopped(rx: &watch::Receiver<bool>) -> impl std::future::Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: crate::listen::ServeLimits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::listen::serve(listener, app, limits, stop).await?;
    Ok(())
}

impl System {
    pub async fn start(cfg: SystemConfig) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let mut codec_url = None;
        if let Some(listener) = cfg.codec_server {
            codec_url = Some(format!("http://{}", listener.local_addr()?));
            let ui = match &cfg.temporal {
                TemporalSource::DevServer { ui_port, .. } => {
                    Some(format!("http://127.0.0.1:{ui_port}"))
                }
                TemporalSource::Existing { .. } => cfg.temporal_ui.clone(),
            };
            let app = baedal_codec::server::router(cfg.payload_codec.clone(), ui.as_deref());
            tasks.spawn(serve(listener, app, cfg.serve_limits, stopped(&stop_rx)));
        }
        let mut devserver = None;
        let temporal_address = match &cfg.temporal {
            TemporalSource::DevServer { cli, port, ui_port } => {
                let d =
                    DevServer::start(cli, &cfg.data_dir, *port, *ui_port, codec_url.as_deref())?;
                let a = d.address.clone();
                devserver = Some(d);
                a
            }
            TemporalSource::Existing { address } => address.clone(),
        };
        let temporal = match connect_temporal(
            &temporal_address,
            &cfg.namespace,
            Duration::from_secs(60),
            Some(&cfg.payload_codec),
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                if let Some(d) = devserver.as_mut()
                    && let Some(status) = d.exited()
                {
                    anyhow::bail!(
                        "the Temporal dev server exited ({status}); see {}/temporal.log (is the port taken?)",
                        cfg.data_dir.display()
                    );
                }
                return Err(e);
            }
        };

        if let (Some(d), TemporalSource::DevServer { cli, .. }) = (&devserver, &cfg.temporal) {
            let retention = cfg.idempotency_window + Duration::from_secs(24 * 3600);
            d.set_retention(cli, &cfg.namespace, retention).await?;
        }

        let read_model = ReadModel::open(&cfg.database_url).await.with_context(|| {
            format!(
                "opening the read model at {}",
                baedal_db::redact(&cfg.database_url)
            )
        })?;
        read_model.seed_demo_catalog().await?;

        let payment_url = cfg.payment.url()?;
        let notify_url = cfg.notify.url()?;

        if let Endpoint::Serve(listener) = cfg.payment {
            let app = crate::roles::payment(
                &cfg.payment_database_url,
                &cfg.service_token,
                &cfg.payment_token,
                cfg.identity.clone(),
                cfg.fault_injection,
            )
            .await?;
            tasks.spawn(serve(listener, app, cfg.serve_limits, stopped(&stop_rx)));
        }
        if let Endpoint::Serve(listener) = cfg.notify {
            let app = crate::roles::notify(
                &cfg.notify_database_url,
                &cfg.service_token,
                cfg.identity.clone(),
                cfg.hook_delivery.clone(),
                cfg.kakao.clone(),
                cfg.retention,
                cfg.fault_injection,
            )
            .await?;
            tasks.spawn(serve(listener, app, cfg.serve_limits, stopped(&stop_rx)));
        }

        if cfg.worker {
            let role = baedal_worker::WorkerRole {
                payment_url: payment_url.clone(),
                notify_url: notify_url.clone(),
                service_token: cfg.service_token.clone(),
                payment_token: cfg.payment_token.clone(),
                breaker: cfg.breaker.clone(),
                stuck_after: cfg.stuck_after,
                retention: cfg.retention,
                settings: cfg.worker_settings.clone(),
            };
            tasks.spawn(crate::roles::worker(
                temporal.clone(),
                read_model.clone(),
                role,
                stopped(&stop_rx),
            ));
        }

        let temporal_ui = cfg
            .temporal_ui
            .clone()
            .or_else(|| devserver.as_ref().map(|d| d.ui_url.clone()));
        let mut api_urls = Vec::new();
        // One follower of the change log for all the apis of this process.
        let feed = if cfg.apis.is_empty() {
            None
        } else {
            Some(
                read_model
                    .follow(FollowSettings {
                        listen_url: cfg.database_listen_url.clone(),
                        ..FollowSettings::default()
                    })
                    .await?,
            )
        };
        for ApiSpec {
            listener,
            timeouts,
            role,
            idempotency_window,
            request_timeout,
            sse_heartbeat,
        } in cfg.apis
        {
            api_urls.push(format!("http://{}", listener.local_addr()?));
            let settings = ApiSettings {
                role,
                timeouts,
                idempotency_window,
                request_timeout,
                sse_heartbeat,
                stuck_after: cfg.stuck_after,
                dev_mode: cfg.dev_mode,
                temporal_ui: temporal_ui.clone(),
                namespace: cfg.namespace.clone(),
                notify_url: notify_url.clone(),
                service_token: cfg.service_token.clone(),
                limits: cfg.limits.clone(),
                plausibility: cfg.plausibility,
            };
            let app = crate::roles::api(
                settings,
                read_model.clone(),
                temporal.clone(),
                cfg.identity.clone(),
                feed.clone().expect("followed when there are apis"),
            );
            tasks.spawn(serve(listener, app, cfg.serve_limits, stopped(&stop_rx)));
        }
        let mut metrics_url = None;
        if let (Some(listener), Some(render)) = (cfg.metrics_listener, cfg.metrics.clone()) {
            metrics_url = Some(format!("http://{}", listener.local_addr()?));
            let app = crate::process::metrics_router(render);
            tasks.spawn(serve(listener, app, cfg.serve_limits, stopped(&stop_rx)));
        }

        Ok(Self {
            api_urls,
            metrics_url,
            payment_url,
            notify_url,
            temporal_ui,
            temporal_address,
            read_model,
            temporal,
            stop,
            tasks,
            devserver,
        })
    }

    /// Wait until a part fails (an error) or stops, including the dev server; never returns
    /// while everything runs.
    pub async fn wait_for_failure(&mut self) -> anyhow::Result<()> {
        loop {
            tokio::select! {
                Some(r) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    r??;
                    anyhow::bail!("a part of baedal stopped");
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Some(d) = self.devserver.as_mut()
                        && let Some(status) = d.exited()
                    {
                        anyhow::bail!("the Temporal dev server exited ({status})");
                    }
                }
            }
        }
    }

    /// Stop everything: api and services stop accepting, the worker drains, then the dev
    /// server stops.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(r) = self.tasks.join_next().await {
                if let Err(e) = r.map_err(anyhow::Error::from).and_then(|r| r) {
                    tracing::warn!(error = %e, "a part stopped with an error");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("parts still running after 30 s; stopping anyway");
            self.tasks.abort_all();
        }
        if let Some(d) = self.devserver.take() {
            d.stop().await;
        }
        Ok(())
    }
}
