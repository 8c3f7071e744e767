//! Where each store lives: the data dir and the three databases.

use super::Secret;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Where the embedded stores live.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// Where the embedded stores live (Temporal, read model, ledger, inbox) and `baedal dev`
    /// keeps its payload key.
    #[arg(long, env = "BAEDAL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

impl DataDir {
    /// `url` when one is set, else a SQLite file of that name in the data dir.
    fn url_or_sqlite(&self, url: Option<&Secret>, file: &str) -> String {
        match url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join(file).display()),
        }
    }

    /// Make the directory (a SQLite default lives there).
    pub fn create(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating the data dir {}", self.data_dir.display()))
    }
}

/// The read model's database.
#[derive(Debug, Clone, Args)]
pub struct ReadModelDb {
    /// The read model (`sqlite://path` or `postgres://…`; default: `readmodel.db` in the data
    /// dir).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
}

impl ReadModelDb {
    pub fn url(&self, dir: &DataDir) -> String {
        dir.url_or_sqlite(self.database_url.as_ref(), "readmodel.db")
    }
}

/// Where a process that serves live streams `LISTEN`s for change-log commits (PostgreSQL).
#[derive(Debug, Clone, Args)]
pub struct ReadModelListen {
    /// Where live streams' follower `LISTEN`s for change-log commits (PostgreSQL): the
    /// instance itself, past any pooler (a transaction-pooling PgBouncer cannot hold a
    /// `LISTEN`); default: DATABASE_URL.
    #[arg(long, env = "BAEDAL_DATABASE_LISTEN_URL", hide_env_values = true)]
    pub database_listen_url: Option<Secret>,
}

impl ReadModelListen {
    /// The URL to listen on: the setting, else the read model's own `url`.
    pub fn url(&self, read_model_url: &str) -> String {
        self.database_listen_url
            .as_ref()
            .map_or_else(|| read_model_url.to_owned(), |u| u.expose().to_owned())
    }
}

/// The payment service's ledger database.
#[derive(Debug, Clone, Args)]
pub struct PaymentDb {
    /// The payment service's own ledger database (default: SQLite in the data dir).
    #[arg(long, env = "BAEDAL_PAYMENT_DATABASE_URL", hide_env_values = true)]
    pub payment_database_url: Option<Secret>,
}

impl PaymentDb {
    pub fn url(&self, dir: &DataDir) -> String {
        dir.url_or_sqlite(self.payment_database_url.as_ref(), "payment.db")
    }
}

/// The notification service's database.
#[derive(Debug, Clone, Args)]
pub struct NotifyDb {
    /// The notification service's own database (default: SQLite in the data dir).
    #[arg(long, env = "BAEDAL_NOTIFY_DATABASE_URL", hide_env_values = true)]
    pub notify_database_url: Option<Secret>,
}

impl NotifyDb {
    pub fn url(&self, dir: &DataDir) -> String {
        dir.url_or_sqlite(self.notify_database_url.as_ref(), "notify.db")
    }
}
