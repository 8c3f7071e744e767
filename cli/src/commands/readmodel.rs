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
    /// Re-derive each order's indexed columns and its event log (`order_events`) from the
    /// order's stored view, in batches, writing only what differs. Idempotent, and safe while
    /// the system runs. An order whose row is lost altogether comes back from the engine with
    /// `baedal reconcile` (the change log keeps no views).
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
                "rebuilt {} of {} orders from their stored views (the rest were right)",
                done.rewritten, done.orders
            );
            if done.undecodable > 0 {
                println!(
                    "{} stored views do not decode (logged above); run `baedal reconcile` to write the engine's views back",
                    done.undecodable
                );
            }
        }
    }
    Ok(())
}
