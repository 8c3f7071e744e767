//! `baedal api`: the HTTP api of one role group, as each api Deployment runs it.

use crate::process::{install_metrics, serve, spawn_metrics_server};
use crate::roles::{self, ApiSettings};
use crate::settings::{
    ApiDoor, Idempotency, Jwt, Limits, Listener, Metrics, NotifyDoor, OrderTimers, ReadModelListen,
    RiderChecks, ServiceToken, Stuck, TemporalUi,
};
use baedal_api::ApiRole;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which endpoints to serve: order, store, rider or all.
    #[arg(long, env = "BAEDAL_API_ROLE", default_value = "all")]
    role: ApiRole,
    #[command(flatten)]
    door: ApiDoor,
    #[command(flatten)]
    engine: super::Engine,
    #[command(flatten)]
    listen: ReadModelListen,
    #[command(flatten)]
    temporal_ui: TemporalUi,
    #[command(flatten)]
    jwt: Jwt,
    #[command(flatten)]
    service_token: ServiceToken,
    #[command(flatten)]
    notify: NotifyDoor,
    #[command(flatten)]
    timers: OrderTimers,
    #[command(flatten)]
    idempotency: Idempotency,
    #[command(flatten)]
    stuck: Stuck,
    #[command(flatten)]
    limits: Limits,
    #[command(flatten)]
    riders: RiderChecks,
    /// `/metrics` is served here only, not on the api's public port.
    #[command(flatten)]
    metrics: Metrics,
    #[command(flatten)]
    listener: Listener,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.jwt.require_production()?;
    a.service_token.require_production()?;
    let role = match a.role {
        ApiRole::Order => "order",
        ApiRole::Store => "store",
        ApiRole::Rider => "rider",
        ApiRole::All => "all",
    };
    let traces = crate::telemetry::init(&format!("baedal-api-{role}"))?;
    crate::telemetry::flushed(traces, serve_api(a)).await
}

async fn serve_api(a: Args) -> anyhow::Result<()> {
    let plausibility = a.riders.plausibility()?;
    let limits = a.listener.limits();
    spawn_metrics_server(
        a.metrics.metrics_addr.clone(),
        install_metrics()?,
        None,
        limits,
    );
    let (read_model, temporal) = a.engine.connect().await?;
    let timeouts = a.timers.timeouts();
    crate::retention::check(
        &temporal,
        a.engine.namespace(),
        a.idempotency.idempotency_window,
        &timeouts,
    )
    .await?;
    let listen_url = a.listen.url(&a.engine.db.url(&a.engine.data_dir));
    let feed = read_model
        .follow(baedal_readmodel::FollowSettings {
            listen_url: Some(listen_url),
            ..baedal_readmodel::FollowSettings::default()
        })
        .await?;
    let settings = ApiSettings {
        role: a.role,
        timeouts,
        idempotency_window: a.idempotency.idempotency_window,
        request_timeout: a.door.request_timeout,
        sse_heartbeat: a.door.sse_heartbeat,
        stuck_after: a.stuck.stuck_after,
        dev_mode: false,
        temporal_ui: Some(a.temporal_ui.url()),
        namespace: a.engine.namespace().to_owned(),
        notify_url: a.notify.url(),
        service_token: a.service_token.value(),
        limits: a.limits.limits(false)?,
        plausibility,
    };
    let app = roles::api(settings, read_model, temporal, a.jwt.identity(), feed);
    serve(&a.door.api_addr, "api", app, limits).await
}
