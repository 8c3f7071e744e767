//! `baedal notify`: the notification service with its delivery loops, as its Deployment runs
//! it.

use crate::process::{install_metrics, serve, spawn_metrics_server};
use crate::settings::{
    DataDir, FaultInjection, Hooks, Jwt, Kakao, Listener, Metrics, NotifyAddr, NotifyDb, Retention,
    ServiceToken,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    door: NotifyAddr,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    db: NotifyDb,
    #[command(flatten)]
    service_token: ServiceToken,
    /// People read their inbox and manage their webhooks with their own tokens.
    #[command(flatten)]
    jwt: Jwt,
    #[command(flatten)]
    hooks: Hooks,
    #[command(flatten)]
    kakao: Kakao,
    /// What the service prunes its store to.
    #[command(flatten)]
    retention: Retention,
    #[command(flatten)]
    metrics: Metrics,
    #[command(flatten)]
    faults: FaultInjection,
    #[command(flatten)]
    listener: Listener,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.jwt.require_production()?;
    a.service_token.require_production()?;
    a.kakao.require_production()?;
    let kakao = a.kakao.settings()?;
    // The idempotency window is the api's; this store keeps no keys.
    let retention = a
        .retention
        .retention(baedal_domain::retention::Retention::default().idempotency_window)?;
    let traces = crate::telemetry::init("baedal-notification")?;
    crate::telemetry::flushed(traces, serve_notify(a, kakao, retention)).await
}

async fn serve_notify(
    a: Args,
    kakao: Option<baedal_notification::kakao::KakaoSettings>,
    retention: baedal_domain::retention::Retention,
) -> anyhow::Result<()> {
    let limits = a.listener.limits();
    spawn_metrics_server(
        a.metrics.metrics_addr.clone(),
        install_metrics()?,
        None,
        limits,
    );
    a.data_dir.create()?;
    let app = crate::roles::notify(
        &a.db.url(&a.data_dir),
        a.service_token.service_token.expose(),
        a.jwt.identity(),
        a.hooks.delivery(),
        kakao,
        retention,
        a.faults.enable_fault_injection,
    )
    .await?;
    serve(&a.door.notify_addr, "notification service", app, limits).await
}
