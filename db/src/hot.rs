//! A few connections held outside the pool for the hottest single-statement reads (a status
//! read: one row by primary key, thousands a second).
//!
//! Why not the pool: sqlx 0.8 pings every connection when it goes back to the pool (to drop
//! one that broke or was left mid-transaction), and that cannot be turned off. For a read of
//! one row the ping is a second round trip of the same size as the read itself (to SQLite's
//! worker thread, or to PostgreSQL), spent on a runtime thread beside the next request.
//!
//! What makes skipping it safe here: a connection is taken out of its slot while a statement
//! runs and put back only when the statement finished cleanly. A read cancelled half-way (the
//! request's deadline, a client that hung up) drops its connection with it, an error drops
//! it too, and an empty slot connects again on its next use. A read never waits for a hot
//! connection: when every one is busy, or the one it got fails, the read goes to the pool.

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, ConnectOptions};
use tokio::sync::Mutex;

/// PostgreSQL's `application_name` of a hot connection.
pub(crate) const APPLICATION_NAME: &str = "baedal-hot-reads";

#[derive(Debug)]
pub(crate) struct HotConnections {
    slots: Vec<Mutex<Option<AnyConnection>>>,
    opts: AnyConnectOptions,
    setup: crate::Setup,
}

impl HotConnections {
    /// `count` slots, empty until first used. Zero for a database a second connection would
    /// not see (SQLite `:memory:`).
    pub(crate) fn new(count: usize, opts: AnyConnectOptions, setup: crate::Setup) -> Self {
        Self {
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
            opts,
            setup,
        }
    }

    /// At most one row of `query` on a free hot connection: `None` when every slot is busy or
    /// the read failed on it (the caller then asks the pool, which answers or reports the
    /// error).
    pub(crate) async fn fetch_optional<'q>(
        &self,
        query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Option<Option<AnyRow>> {
        let mut slot = self.slots.iter().find_map(|s| s.try_lock().ok())?;
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => {
                let mut conn = self.opts.connect().await.ok()?;
                self.setup.apply(&mut conn).await.ok()?;
                conn
            }
        };
        let row = query.fetch_optional(&mut conn).await.ok()?;
        *slot = Some(conn);
        Some(row)
    }

    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.try_lock().map(|c| c.is_some()).unwrap_or(true))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Db, Dialect, PoolSettings};
    use std::time::Duration;

    /// A database with one row (`id` 1) in a table of its own: SQLite in a fresh temp dir, or
    /// a scratch database on `BAEDAL_TEST_POSTGRES_URL`.
    async fn one_row() -> (Db, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("baedal-hot-{}-{}", std::process::id(), uuid_ish()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = match crate::test_postgres() {
            Some(admin) => crate::scratch_postgres(&admin).await.unwrap(),
            None => crate::scratch_url_in(&dir, "hot.db"),
        };
        let db = crate::connect(&url, PoolSettings::default()).await.unwrap();
        sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (id, v) VALUES (1, 'v0')")
            .execute(&db.pool)
            .await
            .unwrap();
        (db, dir)
    }

    fn uuid_ish() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    }

    async fn read(db: &Db) -> String {
        use sqlx::Row;
        let row = db
            .fetch_optional_hot(|| sqlx::query("SELECT v FROM t WHERE id = $1").bind(1_i64))
            .await
            .unwrap()
            .expect("the row");
        row.get("v")
    }

    #[tokio::test]
    async fn a_hot_read_sees_each_write_the_moment_it_commits() {
        let (db, dir) = one_row().await;
        for n in 1..=50 {
            let v = format!("v{n}");
            let mut tx = db.pool.begin().await.unwrap();
            sqlx::query("UPDATE t SET v = $1 WHERE id = 1")
                .bind(&v)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(read(&db).await, v, "read {n} after its write");
        }
        assert!(
            db.hot.held() >= 1,
            "the reads went to the pool, not a hot connection"
        );
        let missing = db
            .fetch_optional_hot(|| sqlx::query("SELECT v FROM t WHERE id = $1").bind(2_i64))
            .await
            .unwrap();
        assert!(missing.is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn reads_cancelled_at_any_point_leave_no_connection_that_answers_wrongly() {
        let (db, dir) = one_row().await;
        for n in 0..300u64 {
            // Give up on a read after 0..150 µs: some never start, some are cut off while the
            // statement is in flight, some finish.
            let _ = tokio::time::timeout(Duration::from_micros(n % 150), read(&db)).await;
            if n % 10 == 0 {
                sqlx::query("UPDATE t SET v = $1 WHERE id = 1")
                    .bind(format!("v{n}"))
                    .execute(&db.pool)
                    .await
                    .unwrap();
            }
            assert_eq!(
                read(&db).await,
                format!("v{}", n - n % 10),
                "after read {n}"
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_hot_connection_the_server_closed_is_replaced_without_failing_a_read() {
        let (db, dir) = one_row().await;
        if db.dialect != Dialect::Postgres {
            // SQLite has no server to close a connection; BAEDAL_TEST_POSTGRES_URL runs it.
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        assert_eq!(read(&db).await, "v0");
        assert!(db.hot.held() >= 1);
        // Close every hot connection from the server's side (as a restart or an idle
        // timeout in a proxy would).
        let closed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1) AS x",
        )
        .bind(super::APPLICATION_NAME)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(closed >= 1, "no connection to close");
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..5 {
            assert_eq!(read(&db).await, "v0");
        }
        assert!(db.hot.held() >= 1, "the hot connection was not replaced");
        let _ = std::fs::remove_dir_all(dir);
    }
}
