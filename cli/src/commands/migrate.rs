//! `baedal migrate`: every store's migrations, the deploy step before the roles start.

use crate::settings::{DataDir, NotifyDb, PaymentDb, ReadModelDb};
use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also seed the demo catalog into the read model.
    #[arg(long)]
    seed_demo: bool,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    read_model: ReadModelDb,
    #[command(flatten)]
    payment: PaymentDb,
    #[command(flatten)]
    notify: NotifyDb,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.data_dir.create()?;
    let dir = &a.data_dir;
    for (what, url, migrations) in [
        (
            "read model",
            a.read_model.url(dir),
            baedal_readmodel::migrations(),
        ),
        (
            "payment ledger",
            a.payment.url(dir),
            baedal_payment::migrations(),
        ),
        (
            "notification store",
            a.notify.url(dir),
            baedal_notification::migrations(),
        ),
    ] {
        let shown = baedal_db::redact(&url);
        let settings = baedal_db::PoolSettings {
            max_connections: 1,
            ..Default::default()
        };
        baedal_db::open(&url, settings, &migrations)
            .await
            .with_context(|| format!("migrating the {what} at {shown}"))?;
        println!("{what} at {shown} is up to date");
    }
    if a.seed_demo {
        baedal_readmodel::ReadModel::open(&a.read_model.url(dir))
            .await?
            .seed_demo_catalog()
            .await?;
        println!("demo catalog seeded");
    }
    Ok(())
}
