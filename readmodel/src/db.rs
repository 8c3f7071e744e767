//! Connection and migrations (both dialects; see `baedal-db`).

use baedal_db::{Db, Dialect, Migrations, PoolSettings};
use sqlx::AnyPool;

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
}

impl ReadModel {
    /// Connect to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://…`) and apply the
    /// migrations.
    pub async fn open(url: &str) -> crate::Result<Self> {
        let db = baedal_db::open(url, PoolSettings::default(), &migrations()).await?;
        Ok(Self { db })
    }

    /// Connect with a pool of `max_connections` (an api replica sizes it to its share of the
    /// database's connections) and apply the migrations.
    pub async fn open_with(url: &str, max_connections: u32) -> crate::Result<Self> {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        };
        let db = baedal_db::open(url, settings, &migrations()).await?;
        Ok(Self { db })
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
