//! `baedal payment`: the payment service, as its Deployment runs it.

use crate::process::{install_metrics, serve, spawn_metrics_server};
use crate::settings::{
    DataDir, FaultInjection, Jwt, Listener, Metrics, PaymentAddr, PaymentDb, PaymentToken,
    ServiceToken,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    door: PaymentAddr,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    db: PaymentDb,
    /// Reads (the apis, reconcile) take the service token.
    #[command(flatten)]
    service_token: ServiceToken,
    /// Charges and refunds take the payment token only (the worker's).
    #[command(flatten)]
    payment_token: PaymentToken,
    #[command(flatten)]
    faults: FaultInjection,
    #[command(flatten)]
    listener: Listener,
    /// Ops read the ledger's state with their own tokens.
    #[command(flatten)]
    jwt: Jwt,
    #[command(flatten)]
    metrics: Metrics,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.jwt.require_production()?;
    a.service_token.require_production()?;
    a.payment_token.require_production()?;
    anyhow::ensure!(
        a.payment_token.payment_token != a.service_token.service_token,
        "BAEDAL_PAYMENT_TOKEN equals BAEDAL_SERVICE_TOKEN: give the worker's payment token a \
         value of its own, so the apis (which hold the service token) cannot move money"
    );
    let traces = crate::telemetry::init("baedal-payment")?;
    crate::telemetry::flushed(traces, serve_payment(a)).await
}

async fn serve_payment(a: Args) -> anyhow::Result<()> {
    let limits = a.listener.limits();
    spawn_metrics_server(
        a.metrics.metrics_addr.clone(),
        install_metrics()?,
        None,
        limits,
    );
    a.data_dir.create()?;
    let app = crate::roles::payment(
        &a.db.url(&a.data_dir),
        a.service_token.service_token.expose(),
        a.payment_token.payment_token.expose(),
        a.jwt.identity(),
        a.faults.enable_fault_injection,
    )
    .await?;
    serve(&a.door.payment_addr, "payment service", app, limits).await
}
