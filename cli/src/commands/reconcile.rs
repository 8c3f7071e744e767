//! `baedal reconcile`: the ledger against the read model, the read model against the engine.

use crate::settings::{PaymentDoor, ServiceToken};
use baedal_activities::PaymentClient;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the engine's view over each order where the read model drifted from it (a
    /// change never committed, or one never projected), then report what is left.
    #[arg(long)]
    repair: bool,
    /// How far back closed orders are compared with their workflows.
    #[arg(long, default_value = "1d", value_parser = humantime::parse_duration)]
    since: Duration,
    #[command(flatten)]
    engine: super::Engine,
    #[command(flatten)]
    service_token: ServiceToken,
    #[command(flatten)]
    payment: PaymentDoor,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.service_token.require_production()?;
    let (read_model, temporal) = a.engine.connect().await?;
    let payment = PaymentClient::new(a.payment.url(), a.service_token.value());
    let opts = crate::reconcile::Options {
        repair: a.repair,
        since: a.since,
    };
    let report = crate::reconcile::run(&payment, &read_model, &temporal, opts).await?;
    print!("{report}");
    if !report.is_clean() {
        std::process::exit(1);
    }
    Ok(())
}
