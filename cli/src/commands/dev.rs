//! `baedal dev`: the whole system in one process on the embedded defaults.

use crate::devserver;
use crate::process::{bind, install_metrics, shutdown_signal};
use crate::settings::{
    ApiDoor, Breaker, CodecDoor, DataDir, Hooks, Idempotency, Jwt, Kakao, Limits, Listener,
    Metrics, NotifyDb, NotifyDoor, OrderTimers, PayloadKey, PaymentDb, PaymentDoor, PaymentToken,
    ReadModelDb, ReadModelListen, Retention, ServiceToken, Stuck, Temporal, TemporalUi,
    WorkerTuning,
};
use crate::system::{ApiSpec, Endpoint, System, SystemConfig, TemporalSource};
use baedal_api::ApiRole;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Leave the worker out (run `baedal worker` beside it).
    #[arg(long)]
    no_worker: bool,
    /// Leave the api out (run `baedal api` beside it).
    #[arg(long)]
    no_api: bool,
    /// Leave the payment service out (run `baedal payment` beside it).
    #[arg(long)]
    no_payment: bool,
    /// Leave the notification service out (run `baedal notify` beside it).
    #[arg(long)]
    no_notify: bool,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    read_model: ReadModelDb,
    #[command(flatten)]
    listen: ReadModelListen,
    #[command(flatten)]
    payment_db: PaymentDb,
    #[command(flatten)]
    notify_db: NotifyDb,
    #[command(flatten)]
    temporal: Temporal,
    #[command(flatten)]
    temporal_ui: TemporalUi,
    #[command(flatten)]
    payload_key: PayloadKey,
    #[command(flatten)]
    jwt: Jwt,
    #[command(flatten)]
    service_token: ServiceToken,
    #[command(flatten)]
    payment_token: PaymentToken,
    #[command(flatten)]
    api: ApiDoor,
    #[command(flatten)]
    payment: PaymentDoor,
    #[command(flatten)]
    notify: NotifyDoor,
    #[command(flatten)]
    codec: CodecDoor,
    #[command(flatten)]
    timers: OrderTimers,
    #[command(flatten)]
    idempotency: Idempotency,
    #[command(flatten)]
    stuck: Stuck,
    #[command(flatten)]
    tuning: WorkerTuning,
    #[command(flatten)]
    breaker: Breaker,
    #[command(flatten)]
    hooks: Hooks,
    #[command(flatten)]
    kakao: Kakao,
    #[command(flatten)]
    retention: Retention,
    #[command(flatten)]
    limits: Limits,
    #[command(flatten)]
    riders: crate::settings::RiderChecks,
    #[command(flatten)]
    listener: Listener,
    /// `/metrics` is served on BAEDAL_METRICS_ADDR when set, never on the api's port.
    #[command(flatten)]
    metrics: Metrics,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let traces = crate::telemetry::init("baedal-dev")?;
    crate::telemetry::flushed(traces, serve_dev(a)).await
}

async fn serve_dev(a: Args) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    let temporal = match &a.temporal.temporal_address {
        Some(address) => TemporalSource::Existing {
            address: address.clone(),
        },
        None => TemporalSource::DevServer {
            cli: devserver::find_cli()?,
            port: a.temporal.temporal_port,
            ui_port: a.temporal_ui.temporal_ui_port,
        },
    };
    let dir = &a.data_dir;
    let plausibility = a.riders.plausibility()?;
    let cfg = SystemConfig {
        data_dir: dir.data_dir.clone(),
        database_url: a.read_model.url(dir),
        database_listen_url: a
            .listen
            .database_listen_url
            .as_ref()
            .map(|u| u.expose().to_owned()),
        payment_database_url: a.payment_db.url(dir),
        notify_database_url: a.notify_db.url(dir),
        temporal,
        namespace: a.temporal.temporal_namespace.clone(),
        identity: a.jwt.identity(),
        payload_codec: a.payload_key.dev_codec(dir)?,
        codec_server: Some(bind(&a.codec.codec_addr, "codec server").await?),
        service_token: a.service_token.value(),
        payment_token: a.payment_token.value(),
        // `baedal dev` is for trying things out: its services' fault switches are on.
        fault_injection: true,
        serve_limits: a.listener.limits(),
        metrics_listener: match &a.metrics.metrics_addr {
            Some(addr) => Some(bind(addr, "metrics").await?),
            None => None,
        },
        apis: if a.no_api {
            vec![]
        } else {
            vec![ApiSpec {
                listener: bind(&a.api.api_addr, "api").await?,
                timeouts: a.timers.timeouts(),
                role: ApiRole::All,
                idempotency_window: a.idempotency.idempotency_window,
                request_timeout: a.api.request_timeout,
                sse_heartbeat: a.api.sse_heartbeat,
            }]
        },
        payment: if a.no_payment {
            Endpoint::External(a.payment.url())
        } else {
            Endpoint::Serve(bind(&a.payment.addr.payment_addr, "payment service").await?)
        },
        hook_delivery: a.hooks.delivery(),
        kakao: a.kakao.settings()?,
        notify: if a.no_notify {
            Endpoint::External(a.notify.url())
        } else {
            Endpoint::Serve(bind(&a.notify.addr.notify_addr, "notification service").await?)
        },
        worker: !a.no_worker,
        worker_settings: a.tuning.settings(),
        breaker: a.breaker.settings()?,
        dev_mode: true,
        plausibility,
        metrics: Some(metrics),
        stuck_after: a.stuck.stuck_after,
        idempotency_window: a.idempotency.idempotency_window,
        retention: a.retention.retention(a.idempotency.idempotency_window)?,
        temporal_ui: a.temporal_ui.temporal_ui_url.clone(),
        limits: a.limits.limits(true)?,
    };
    let mut system = System::start(cfg).await?;
    print_banner(&system, &a);
    tokio::select! {
        r = system.wait_for_failure() => {
            r?;
        }
        _ = shutdown_signal() => {}
    }
    system.shutdown().await
}

fn print_banner(system: &System, a: &Args) {
    let api = system
        .api_urls
        .first()
        .cloned()
        .unwrap_or_else(|| format!("http://{} (not in this process)", a.api.api_addr));
    println!();
    println!(
        "  baedal is running (data in {})",
        a.data_dir.data_dir.display()
    );
    println!("  api           {api}   (OpenAPI: {api}/openapi.json)");
    if let Some(metrics) = &system.metrics_url {
        println!("  metrics       {metrics}/metrics");
    }
    println!("  payment       {}", system.payment_url);
    println!("  notification  {}", system.notify_url);
    println!("  temporal      {}", system.temporal_address);
    if let Some(ui) = &system.temporal_ui {
        println!(
            "  temporal UI   {ui}   (payloads decoded by the codec server at http://{})",
            a.codec.codec_addr
        );
    }
    println!();
    println!(
        "  get a token:  curl -s -XPOST {api}/v1/dev/tokens -H 'content-type: application/json' \\"
    );
    println!("                  -d '{{\"role\":\"customer\",\"sub\":\"alice\"}}'");
    println!("  roles: customer, store_owner (+ \"store_id\":\"st_1\"), rider, ops. Ctrl-C stops.");
    println!();
}
