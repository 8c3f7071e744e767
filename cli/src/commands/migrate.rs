//! `baedal migrate`: every store's migrations, the deploy step before the roles start.

use crate::settings::{DataDir, NotifyDb, PaymentDb, ReadModelDb};
use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also seed the demo catalog into the read model.
    #[arg(long)]
    seed_demo: bool,
    /// Apply nothing: wait until every store whose URL is set (all, when none is) has every
    /// migration this release knows (applied
    /// by this release's `baedal migrate`, the deploy's Job), for at most this long, then exit
    /// 0; past it, exit non-zero saying what is missing. The init container of every pod, so
    /// a new release's pods start only once its migrations are in, whatever order
    /// `kubectl apply` created the Job and the Deployments in.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    wait: Option<std::time::Duration>,
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
    let stores = [
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
    ];
    if let Some(patience) = a.wait {
        // A pod holds the URL of its own store only (least privilege): wait for the stores
        // named in its environment, or, when none is, for the data dir's defaults.
        let given = [
            a.read_model.database_url.is_some(),
            a.payment.payment_database_url.is_some(),
            a.notify.notify_database_url.is_some(),
        ];
        let none_given = !given.contains(&true);
        for ((what, url, migrations), given) in stores.into_iter().zip(given) {
            if given || none_given {
                wait_for(what, &url, &migrations, patience).await?;
            }
        }
        return Ok(());
    }
    for (what, url, migrations) in stores {
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

/// Wait until the store at `url` has every migration in `migrations`, checking every 2 s, for
/// at most `patience`. Nothing is applied: a store that is not there yet, or is behind, is
/// waited for; any other failure (a bad URL, a refused password) ends the wait at once.
async fn wait_for(
    what: &str,
    url: &str,
    migrations: &baedal_db::Migrations,
    patience: std::time::Duration,
) -> anyhow::Result<()> {
    let shown = baedal_db::redact(url);
    let deadline = std::time::Instant::now() + patience;
    let settings = baedal_db::PoolSettings {
        max_connections: 1,
        ..Default::default()
    };
    loop {
        let outcome = match baedal_db::connect(url, settings).await {
            Ok(db) => db.verify(migrations).await,
            Err(e) => Err(e),
        };
        let why = match outcome {
            Ok(()) => {
                println!("{what} at {shown} has this release's schema");
                return Ok(());
            }
            Err(baedal_db::sqlx::Error::Configuration(e)) if e.is::<baedal_db::SchemaBehind>() => {
                e.to_string()
            }
            // Not there yet or restarting: transient failures and the database's own errors
            // are waited out; a refused login, a database that does not exist, a certificate
            // that does not verify or a migration that differs from this release's (edited
            // after it was applied) will not mend by waiting, and say so at once.
            Err(e) if baedal_db::is_transient(&e) => e.to_string(),
            Err(e)
                if e.as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| !matches!(c.as_ref(), "28P01" | "28000" | "3D000")) =>
            {
                e.to_string()
            }
            Err(e) => {
                return Err(e).with_context(|| format!("checking the {what}'s schema at {shown}"));
            }
        };
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the {what} at {shown} still lacks this release's schema after {}: {why}. Is this \
             release's baedal-migrate Job running? (kubectl -n baedal logs job/baedal-migrate)",
            humantime::format_duration(patience)
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
