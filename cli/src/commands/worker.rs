//! `baedal worker`: the Temporal worker, as the worker Deployment runs it, with its probes and
//! metrics on BAEDAL_METRICS_ADDR.

use crate::process::{install_metrics, shutdown_signal, spawn_metrics_server};
use crate::settings::{
    Breaker, Idempotency, Listener, Metrics, NotifyDoor, OrderTimers, PaymentDoor, PaymentToken,
    Retention, ServiceToken, Stuck, WorkerTuning, require_https,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    engine: super::Engine,
    #[command(flatten)]
    service_token: ServiceToken,
    /// The worker alone holds it: charges and refunds.
    #[command(flatten)]
    payment_token: PaymentToken,
    #[command(flatten)]
    payment: PaymentDoor,
    #[command(flatten)]
    notify: NotifyDoor,
    #[command(flatten)]
    tuning: WorkerTuning,
    #[command(flatten)]
    breaker: Breaker,
    #[command(flatten)]
    stuck: Stuck,
    /// The windows the retention check at start compares the namespace with.
    #[command(flatten)]
    timers: OrderTimers,
    #[command(flatten)]
    idempotency: Idempotency,
    /// What the worker prunes the read model to.
    #[command(flatten)]
    retention: Retention,
    #[command(flatten)]
    metrics: Metrics,
    #[command(flatten)]
    listener: Listener,
}

impl Args {
    /// Everything the worker runs with besides Temporal and the read model.
    fn role(&self) -> anyhow::Result<baedal_worker::WorkerRole> {
        Ok(baedal_worker::WorkerRole {
            payment_url: self.payment.url(),
            notify_url: self.notify.url(),
            service_token: self.service_token.value(),
            payment_token: self.payment_token.value(),
            breaker: self.breaker.settings()?,
            stuck_after: self.stuck.stuck_after,
            retention: self
                .retention
                .retention(self.idempotency.idempotency_window)?,
            settings: self.tuning.settings(),
        })
    }
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.service_token.require_production()?;
    a.payment_token.require_production()?;
    require_https("BAEDAL_PAYMENT_URL", &a.payment.url(), true)?;
    let traces = crate::telemetry::init("baedal-worker")?;
    crate::telemetry::flushed(traces, serve_worker(a)).await
}

async fn serve_worker(a: Args) -> anyhow::Result<()> {
    let role = a.role()?;
    let metrics = install_metrics()?;
    let (read_model, temporal) = a.engine.connect().await?;
    crate::retention::check(
        &temporal,
        a.engine.namespace(),
        a.idempotency.idempotency_window,
        &a.timers.timeouts(),
    )
    .await?;
    // Ready when it can take tasks and record what they do: Temporal and the read model
    // answered lately (checked in the background). Payment and notification outages are the
    // activities' to retry.
    let ready = baedal_api::watch_readiness(&read_model, &temporal);
    spawn_metrics_server(
        a.metrics.metrics_addr.clone(),
        metrics,
        Some(ready),
        a.listener.limits(),
    );
    crate::roles::worker(temporal, read_model, role, shutdown_signal()).await
}
