//! `baedal readmodel`: read-model maintenance.

use crate::settings::{DataDir, Idempotency, NotifyDb, ReadModelDb, Retention};
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
    /// Prune the read model to its retention once (what the worker does periodically), and
    /// the notification store too when BAEDAL_NOTIFY_DATABASE_URL is given; print what was
    /// removed per table. In short batches, safe while the system runs (a CronJob may run it).
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
struct PruneArgs {
    #[command(flatten)]
    retention: Retention,
    /// Keys are removed a day past this window.
    #[command(flatten)]
    idempotency: Idempotency,
    /// The notification store, pruned too when its URL is given (its own service prunes it
    /// periodically).
    #[command(flatten)]
    notify: NotifyDb,
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
        Action::Prune(p) => {
            let retention = p.retention.retention(p.idempotency.idempotency_window)?;
            let now = chrono::Utc::now();
            let pruned = rm
                .prune(&baedal_readmodel::Horizons::at(now, &retention), now)
                .await
                .context("pruning the read model (nothing is lost: run it again)")?;
            println!("read model at {}:", baedal_db::redact(&url));
            print!("{pruned}");
            if p.notify.notify_database_url.is_some() {
                let url = p.notify.url(&a.data_dir);
                let shown = baedal_db::redact(&url);
                let db = baedal_db::open(
                    &url,
                    baedal_db::PoolSettings {
                        max_connections: 1,
                        ..Default::default()
                    },
                    &baedal_notification::migrations(),
                )
                .await
                .with_context(|| format!("opening the notification store at {shown}"))?;
                let horizons = baedal_notification::retention::Horizons::at(now, &retention);
                let pruned = baedal_notification::retention::prune(&db, &horizons)
                    .await
                    .with_context(|| {
                        format!("pruning the notification store at {shown} (run it again)")
                    })?;
                println!("notification store at {shown}:");
                print!("{pruned}");
            }
        }
    }
    Ok(())
}
