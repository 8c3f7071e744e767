//! Connection, pragmas and migrations.

use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// Handle to the read model. Cheap to clone (a pool).
#[derive(Clone, Debug)]
pub struct ReadModel {
    pub(crate) pool: SqlitePool,
}

/// Open (creating if missing) a SQLite database in WAL mode, the settings every baedal store
/// uses: WAL lets readers run beside the single writer, and a busy timeout turns writer
/// contention into a short wait instead of an error.
pub async fn connect_sqlite(url: &str, max_connections: u32) -> crate::Result<SqlitePool> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(opts)
        .await?)
}

impl ReadModel {
    /// Connect to `url` (`sqlite://path` or `sqlite::memory:`) and apply the migrations.
    pub async fn open(url: &str) -> crate::Result<Self> {
        // Each connection to an in-memory database is a database of its own: keep one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = connect_sqlite(url, max).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> crate::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
