//! One module per subcommand: its settings (the groups of `crate::settings` it flattens, so
//! its `--help` lists what it reads) and its `run`. The roles themselves are assembled in
//! `crate::roles`; a subcommand only reads settings, connects, and calls its role.

mod api;
mod codec_server;
mod dev;
mod migrate;
mod notify;
mod payment;
mod readmodel;
mod reconcile;
mod worker;

use crate::settings::{DataDir, PayloadKey, ReadModelDb, Temporal};
use crate::system::connect_temporal_tls;
use anyhow::Context;
use clap::Subcommand;
use std::time::Duration;

/// The subcommands. `dev`, `api` and `worker` flatten many settings groups, so their variants
/// are boxed.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one process on the embedded defaults: Temporal dev server (SQLite in the
    /// data dir, Web UI), read model, payment, notification, worker and api with a demo catalog.
    /// `--no-*` leaves a part out, to run it as a process of its own.
    Dev(Box<dev::Args>),
    /// The HTTP api only (needs Temporal, the read model and the services running).
    Api(Box<api::Args>),
    /// The Temporal worker only (OrderWorkflow and its activities).
    Worker(Box<worker::Args>),
    /// The payment service only.
    Payment(payment::Args),
    /// The notification service only.
    Notify(notify::Args),
    /// Apply the migrations of every store (the read model at DATABASE_URL, the payment ledger
    /// at BAEDAL_PAYMENT_DATABASE_URL, the notification store at BAEDAL_NOTIFY_DATABASE_URL;
    /// SQLite or PostgreSQL each), and seed the demo catalog with --seed-demo. The deploy step
    /// before new pods start: the roles migrate SQLite files themselves but only check a
    /// PostgreSQL schema (the error says to run this), and a newer schema than a release knows
    /// is left alone, so a rolled-back release starts on it.
    Migrate(migrate::Args),
    /// Read-model maintenance: re-derive the orders view's columns and event log from the
    /// stored views, or prune the read model (and the notification store) to its retention once.
    Readmodel(readmodel::Args),
    /// The codec server for the Temporal Web UI and CLI (`POST /encode`, `/decode`) on
    /// BAEDAL_CODEC_ADDR, with BAEDAL_PAYLOAD_KEY: run it beside whoever may read payloads and
    /// set the Web UI's codec endpoint to it. Anyone who can reach it can decode.
    CodecServer(codec_server::Args),
    /// Compare the payment ledger with the read model, and the read model with the order
    /// workflows (open ones and those closed within `--since`); print every mismatch and exit
    /// non-zero when there is one.
    Reconcile(reconcile::Args),
}

impl Command {
    pub async fn run(self) -> anyhow::Result<()> {
        // Only `dev` (everything in one process, the embedded default) and `migrate` (the
        // deploy step) change a shared database's schema; every other subcommand is a role
        // or a maintenance tool running beside a release that may be older or newer.
        if !matches!(self, Command::Dev(_) | Command::Migrate(_)) {
            baedal_db::only_verify_shared_schemas();
        }
        match self {
            Command::Dev(a) => dev::run(*a).await,
            Command::Api(a) => api::run(*a).await,
            Command::Worker(a) => worker::run(*a).await,
            Command::Payment(a) => payment::run(a).await,
            Command::Notify(a) => notify::run(a).await,
            Command::Migrate(a) => migrate::run(a).await,
            Command::Readmodel(a) => readmodel::run(a).await,
            Command::CodecServer(a) => codec_server::run(a).await,
            Command::Reconcile(a) => reconcile::run(a).await,
        }
    }
}

/// What the roles that drive orders (api, worker, reconcile) reach: the read model and
/// Temporal, whose payloads they seal with the payload key.
#[derive(Debug, clap::Args)]
struct Engine {
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    db: ReadModelDb,
    #[command(flatten)]
    temporal: Temporal,
    #[command(flatten)]
    payload_key: PayloadKey,
}

impl Engine {
    fn namespace(&self) -> &str {
        &self.temporal.temporal_namespace
    }

    /// The read model and a Temporal client sealing payloads with the payload key. Refuses to
    /// start without the key: card data must never reach Temporal unsealed.
    async fn connect(
        &self,
    ) -> anyhow::Result<(baedal_readmodel::ReadModel, temporalio_client::Client)> {
        let codec = self.payload_key.codec()?;
        let url = self.db.url(&self.data_dir);
        let read_model = baedal_readmodel::ReadModel::open(&url)
            .await
            .with_context(|| format!("opening the read model at {}", baedal_db::redact(&url)))?;
        let client = connect_temporal_tls(
            &self.temporal.address(),
            self.namespace(),
            Duration::from_secs(60),
            Some(&codec),
            self.temporal.tls()?,
        )
        .await?;
        Ok((read_model, client))
    }
}
