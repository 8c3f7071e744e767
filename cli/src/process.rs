//! The plumbing every long-running subcommand shares: listening, serving until SIGTERM or
//! Ctrl-C, Prometheus metrics, and a side door for the probes of a process without an api.

use crate::listen::ServeLimits;
use anyhow::Context;
use baedal_api::MetricsRender;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Log to stderr at `RUST_LOG` (default: info, the SDK's own chatter at warn), and install
/// the one TLS crypto provider every HTTPS client of the process uses (JWKS, webhooks, the
/// services), whatever the role. The first thing each binary does.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,temporalio_sdk_core=warn,temporalio_sdk=warn".into()),
        )
        .init();
    baedal_activities::install_crypto_provider();
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutdown requested");
}

/// Listen on `addr`; the error says which setting moves it.
pub async fn bind(addr: &str, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("binding the {what} to {addr} (is it in use? set its BAEDAL_*_ADDR)")
    })
}

/// Serve `app` on `addr` within `limits` until shutdown is requested.
pub async fn serve(
    addr: &str,
    what: &str,
    app: axum::Router,
    limits: ServeLimits,
) -> anyhow::Result<()> {
    let listener = bind(addr, what).await?;
    tracing::info!("{what} listening on http://{addr}");
    crate::listen::serve(listener, app, limits, shutdown_signal()).await?;
    Ok(())
}

/// The Prometheus recorder every baedal process renders `/metrics` with (docs/metrics.md):
/// histograms with buckets (never summaries, which cannot be aggregated across replicas): the
/// HTTP durations and the projection lag with their own, the Temporal SDK's latencies with
/// core's own (`baedal_worker::sdk_metrics`).
pub fn prometheus_builder() -> metrics_exporter_prometheus::PrometheusBuilder {
    use metrics_exporter_prometheus::Matcher;
    let mut builder = metrics_exporter_prometheus::PrometheusBuilder::new();
    let mut buckets = vec![
        (
            Matcher::Full("baedal_http_request_duration_seconds".into()),
            HTTP_BUCKETS.to_vec(),
        ),
        (
            Matcher::Full("baedal_projection_lag_seconds".into()),
            PROJECTION_LAG_BUCKETS.to_vec(),
        ),
        (
            Matcher::Prefix("temporal_".into()),
            baedal_worker::sdk_metrics::default_sdk_buckets(),
        ),
    ];
    buckets.extend(
        baedal_worker::sdk_metrics::histogram_buckets()
            .into_iter()
            .map(|(name, b)| (Matcher::Full(name), b)),
    );
    for (matcher, b) in buckets {
        builder = builder
            .set_buckets_for_metric(matcher, &b)
            .expect("bucket lists are never empty");
    }
    builder
}

/// Buckets of `baedal_http_request_duration_seconds`: 5 ms to the 10 s request deadline.
pub const HTTP_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of `baedal_projection_lag_seconds`: a change is projected within a workflow task
/// (tens of ms); minutes mean the read model was down or the worker backed up.
pub const PROJECTION_LAG_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0,
];

/// Install the Prometheus recorder ([`prometheus_builder`]); the returned closure renders
/// `/metrics`.
pub fn install_metrics() -> anyhow::Result<MetricsRender> {
    let handle = prometheus_builder().install_recorder()?;
    Ok(Arc::new(move || handle.render()))
}

/// Serve `/metrics` on `addr` (BAEDAL_METRICS_ADDR), never on an api's public port; with
/// `ready`, also `/healthz` and `/readyz` there (the worker's probes).
pub fn spawn_metrics_server(
    addr: Option<String>,
    render: MetricsRender,
    ready: Option<baedal_http::readiness::Readiness>,
    limits: ServeLimits,
) {
    let Some(addr) = addr else { return };
    tokio::spawn(async move {
        let mut app = metrics_router(render);
        if let Some(ready) = ready {
            app = app
                .route("/healthz", axum::routing::get(baedal_http::healthz))
                .route(
                    "/readyz",
                    axum::routing::get(move || std::future::ready(ready.answer())),
                );
        }
        if let Err(e) = serve(&addr, "metrics", app, limits).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
}

/// `/metrics` alone, for the metrics address.
pub fn metrics_router(render: MetricsRender) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let render = render.clone();
            async move { render() }
        }),
    )
}
