//! Connection and migrations (both dialects; see `baedal-db`).

use baedal_db::{Db, Dialect, Migrations, PoolSettings};
use sqlx::AnyPool;
use std::time::Duration;
use tokio::sync::mpsc;

/// The shortest time between two notifications of one process that the change log grew: however
/// many projections commit within it, followers are woken once (and read them all at once).
pub const NOTIFY_WINDOW: Duration = Duration::from_millis(10);

/// The read model's migrations, one directory per dialect, the same versions in both.
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("./migrations/sqlite"),
        sqlx::migrate!("./migrations/postgres"),
    )
}

/// Handle to the read model. Cheap to clone (a pool).
#[derive(Clone, Debug)]
pub struct ReadModel {
    pub(crate) db: Db,
    /// PostgreSQL: tells this process's notifier that a projection committed (see
    /// [`notifier`]).
    committed: Option<mpsc::Sender<()>>,
}

/// The task that wakes followers after projections commit: one `pg_notify` on its own
/// connection, outside the projection's transaction (a notification queued inside a
/// transaction takes a cluster-wide lock at commit, serialising every projection), at most
/// once per [`NOTIFY_WINDOW`]. A notification lost this way (or when the send fails) is
/// covered by the followers' poll. It ends when the last handle to the read model is dropped.
fn notifier(pool: AnyPool) -> mpsc::Sender<()> {
    // One pending signal: commits while it is full are folded into it.
    let (tx, mut rx) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::CHANGES_CHANNEL)
                .execute(&pool)
                .await
            {
                tracing::debug!(error = %e, "notifying change-log followers; they poll instead");
            }
            tokio::time::sleep(NOTIFY_WINDOW).await;
        }
    });
    tx
}

impl ReadModel {
    /// Connect to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://…`) and apply the
    /// migrations.
    pub async fn open(url: &str) -> crate::Result<Self> {
        let db = baedal_db::open(url, PoolSettings::default(), &migrations()).await?;
        Ok(Self::with_db(db))
    }

    /// Connect with a pool of `max_connections` (an api replica sizes it to its share of the
    /// database's connections) and apply the migrations.
    pub async fn open_with(url: &str, max_connections: u32) -> crate::Result<Self> {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        };
        let db = baedal_db::open(url, settings, &migrations()).await?;
        Ok(Self::with_db(db))
    }

    fn with_db(db: Db) -> Self {
        let committed = (db.dialect == Dialect::Postgres).then(|| notifier(db.pool.clone()));
        Self { db, committed }
    }

    /// A projection committed a change-log row: wake followers soon (best effort).
    pub(crate) fn committed(&self) {
        if let Some(tx) = &self.committed {
            // Full: a notification is already due, and it covers this commit too.
            let _ = tx.try_send(());
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.db.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.db.dialect
    }

    /// After a bulk load: bring the planner's statistics and, on PostgreSQL, the visibility map
    /// up to date (`VACUUM ANALYZE`, what autovacuum would get to minutes later; index-only
    /// scans such as the rider board's skip the table only where pages are marked visible).
    pub async fn settle_after_bulk_load(&self) -> crate::Result<()> {
        let sql = match self.db.dialect {
            Dialect::Postgres => "VACUUM ANALYZE orders",
            Dialect::Sqlite => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.db.pool).await?;
        Ok(())
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> crate::Result<()> {
        Ok(self.db.ping().await?)
    }
}

#[cfg(test)]
mod online_migrations {
    /// Migrations from this version on are applied to a live database (issue 20's rule): none
    /// may hold a long lock on a table in use (see `baedal_db::check_online_safe`).
    #[test]
    fn new_migrations_of_the_read_model_never_lock_a_live_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        assert_eq!(baedal_db::check_online_safe(&dir, 9), Vec::<String>::new());
    }
}
