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

/// Install the Prometheus recorder; the returned closure renders `/metrics`.
pub fn install_metrics() -> anyhow::Result<MetricsRender> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
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
