//! `baedal readmodel`: read-model maintenance.

use crate::settings::{DataDir, ReadModelDb};
use anyhow::Context;
use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    db: ReadModelDb,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Rebuild the orders view (`orders`, `order_events`) from the change log. Idempotent,
    /// and safe while the system runs.
    Rebuild,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    a.data_dir.create()?;
    let url = a.db.url(&a.data_dir);
    let rm = baedal_readmodel::ReadModel::open(&url)
        .await
        .with_context(|| format!("opening the read model at {}", baedal_db::redact(&url)))?;
    match a.action {
        Action::Rebuild => {
            let done = rm.rebuild().await?;
            println!(
                "rebuilt {} orders from {} changes in the log",
                done.orders, done.changes
            );
        }
    }
    Ok(())
}
