//! `baedal payment`: the payment service, as its Deployment runs it.

use crate::process::{install_metrics, serve, spawn_metrics_server};
use crate::settings::{DataDir, Jwt, Metrics, PaymentAddr, PaymentDb, ServiceToken};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    door: PaymentAddr,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    db: PaymentDb,
    #[command(flatten)]
    service_token: ServiceToken,
    /// Ops read the ledger's state with their own tokens.
    #[command(flatten)]
    jwt: Jwt,
    #[command(flatten)]
    metrics: Metrics,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.jwt.require_production()?;
    a.service_token.require_production()?;
    spawn_metrics_server(a.metrics.metrics_addr.clone(), install_metrics()?, None);
    a.data_dir.create()?;
    let app = crate::roles::payment(
        &a.db.url(&a.data_dir),
        a.service_token.service_token.expose(),
        a.jwt.identity(),
    )
    .await?;
    serve(&a.door.payment_addr, "payment service", app).await
}
