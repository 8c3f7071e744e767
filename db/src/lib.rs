//! The one door to a SQL database for every baedal store (read model, payment ledger,
//! notification store): SQLite, the embedded default of `baedal dev`, or PostgreSQL, chosen by
//! the URL's scheme at run time.
//!
//! Why sqlx's `Any` driver and not a type parameter or twin modules: baedal's queries are plain
//! SQL that both dialects accept (`$1` placeholders, `ON CONFLICT`, `RETURNING`), so one query
//! text serves both, picked at run time from configuration, and the rest of the code names one
//! pool type. What the dialects do differently lives here (connection settings, which
//! migrations, which errors are worth retrying) or is asked of [`Dialect`] at the few places a
//! query must differ. Each store keeps `migrations/sqlite` and `migrations/postgres` beside each
//! other, the same versions in both. This crate must not know any store's tables.

mod hot;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod schema;

pub use schema::{SchemaBehind, check_online_safe};

pub use sqlx;

/// Which SQL dialect a database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of `url`, or an error that names the schemes baedal understands.
    pub fn of(url: &str) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(sqlx::Error::Configuration(
                format!(
                    "unsupported database URL {:?}: use sqlite://path or postgres://user:pass@host/db",
                    redact(url)
                )
                .into(),
            ))
        }
    }
}

/// A store's migrations, one directory per dialect (`sqlx::migrate!("./migrations/sqlite")`).
pub struct Migrations {
    sqlite: Migrator,
    postgres: Migrator,
}

impl Migrations {
    /// A store's migrations (`sqlx::migrate!` of each directory). Applied migrations that this
    /// release does not know (a newer release's) are left alone rather than refused: the
    /// previous release must start on the next one's schema (see [`open`]).
    pub fn new(mut sqlite: Migrator, mut postgres: Migrator) -> Self {
        sqlite.set_ignore_missing(true);
        postgres.set_ignore_missing(true);
        Self { sqlite, postgres }
    }

    /// The migrations of `dialect`.
    pub fn of(&self, dialect: Dialect) -> &Migrator {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }
}

/// How a store wants its connections.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// SQLite's `synchronous`: `FULL` where a lost write would lose money (the ledger),
    /// `NORMAL` elsewhere (WAL keeps the database consistent either way).
    pub sqlite_synchronous_full: bool,
    /// Connections kept outside the pool for [`Db::fetch_optional_hot`] (see `hot.rs`).
    pub hot_reads: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            sqlite_synchronous_full: false,
            hot_reads: 2,
        }
    }
}

/// A connection pool and the dialect it speaks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// Where it connects (holds the password: never log it, see [`redact`]). PostgreSQL's
    /// `LISTEN` needs a connection of its own.
    pub url: String,
    hot: Arc<hot::HotConnections>,
}

/// What every new connection is told before first use.
#[derive(Debug, Clone, Copy)]
struct Setup {
    dialect: Dialect,
    sqlite_synchronous_full: bool,
}

impl Setup {
    async fn apply(self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        if self.dialect == Dialect::Sqlite {
            // WAL lets readers run beside the single writer; a busy timeout turns writer
            // contention into a short wait instead of an error.
            let synchronous = if self.sqlite_synchronous_full {
                "FULL"
            } else {
                "NORMAL"
            };
            conn.execute(
                format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
                )
                .as_str(),
            )
            .await?;
        }
        if self.dialect == Dialect::Postgres {
            // A statement waiting for a lock (say behind a migration's DDL) gives up rather
            // than queue every later query behind it, and a connection left inside a
            // transaction (a stuck task) is cut: it would hold its locks, and hold back the
            // change log's watermark (the oldest running transaction) for every follower.
            // Behind a transaction-pooling PgBouncer, set these on the role instead
            // (`ALTER ROLE … SET lock_timeout = '3s'`): docs/decisions.md.
            conn.execute(
                format!(
                    "SET lock_timeout = '{}ms'; SET idle_in_transaction_session_timeout = '{}ms'",
                    LOCK_TIMEOUT.as_millis(),
                    IDLE_IN_TRANSACTION_TIMEOUT.as_millis()
                )
                .as_str(),
            )
            .await?;
        }
        Ok(())
    }
}

/// How long a PostgreSQL statement of baedal's waits for a lock before failing (a transient
/// error: the caller retries).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a PostgreSQL connection of baedal's may sit idle inside a transaction before the
/// server ends its session.
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Set once at start by a process that serves an application role (api, worker, payment,
/// notify, reconcile): it must not change the schema of a shared (PostgreSQL) database, only
/// check that the schema has what it needs. See [`only_verify_shared_schemas`].
static VERIFY_SHARED: AtomicBool = AtomicBool::new(false);

/// Declare this process an application role: from now on [`open`] only verifies a PostgreSQL
/// database's schema and leaves migrating it to `baedal migrate` (the deploy's Job, which runs
/// before the new pods). Two releases' pods share the database during a rollout, so a pod that
/// migrated on start would change the schema under the other release's pods, outside the
/// ordered step that checks it is safe; and a rolled-back pod must not try to undo anything.
/// SQLite files are the embedded default of one machine: they are still migrated on open.
pub fn only_verify_shared_schemas() {
    VERIFY_SHARED.store(true, Ordering::Relaxed);
}

/// Connect to `url` and make sure its schema has `migrations`: apply what is missing, or, in a
/// process that declared itself an application role ([`only_verify_shared_schemas`]) and on
/// PostgreSQL, check that nothing is missing. Migrations newer than this release knows are
/// fine either way: a release never needs the next one's schema gone (expand/contract), so
/// the previous release starts and serves on a newer schema after a rollback.
pub async fn open(
    url: &str,
    settings: PoolSettings,
    migrations: &Migrations,
) -> Result<Db, sqlx::Error> {
    let db = connect(url, settings).await?;
    if db.dialect == Dialect::Postgres && VERIFY_SHARED.load(Ordering::Relaxed) {
        db.verify(migrations).await?;
    } else {
        db.migrate(migrations).await?;
    }
    Ok(db)
}

/// A pooled connection idle this long is pinged before it is handed out: long enough that a
/// busy pool never pings, short enough that the connections idle in the pool while the
/// database restarted (any restart takes longer) are found dead before a request gets one.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_millis(250);

/// Connect to `url` without migrating (`baedal migrate` and `open` migrate).
pub async fn connect(url: &str, settings: PoolSettings) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::of(url)?;
    let (url, max) = match dialect {
        // A SQLite file is created when missing; each connection to an in-memory database
        // is a database of its own, so keep one.
        Dialect::Sqlite if url.contains(":memory:") => (url.to_owned(), 1),
        Dialect::Sqlite if !url.contains("mode=") => (
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' }),
            settings.max_connections,
        ),
        _ => (url.to_owned(), settings.max_connections),
    };
    let opts = AnyConnectOptions::from_str(&url)?;
    let setup = Setup {
        dialect,
        sqlite_synchronous_full: settings.sqlite_synchronous_full,
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings a connection when it is returned to the pool (dropping one that broke
        // or was left mid-transaction) and, by default, again before handing it out. The
        // second ping is a whole extra round trip on every query (to SQLite's worker thread
        // or across the network to PostgreSQL), a third of a status read's database time;
        // a connection that died while idle fails its next query instead, which callers
        // already treat as transient (`is_transient`), and `idle_timeout` retires idle ones.
        // The first ping cannot be turned off; the hottest reads skip it (`hot`).
        .test_before_acquire(false)
        // But a connection that sat idle across a database restart is dead and would fail
        // the next request with a 503 (the failure drill saw 3-5 per restart): one that has
        // been idle for [`PING_IF_IDLE_FOR`] is pinged first, and a dead one replaced. Under
        // load connections rarely idle that long, so this costs almost nothing.
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _| Box::pin(setup.apply(conn)))
        .connect_with(opts.clone())
        .await?;
    let hot_count = if max == 1 { 0 } else { settings.hot_reads };
    let hot_opts = match dialect {
        // Named, so `pg_stat_activity` tells them from the pool's.
        Dialect::Postgres => AnyConnectOptions::from_str(&format!(
            "{url}{}application_name={}",
            if url.contains('?') { '&' } else { '?' },
            hot::APPLICATION_NAME
        ))?,
        Dialect::Sqlite => opts,
    };
    let hot = Arc::new(hot::HotConnections::new(hot_count, hot_opts, setup));
    Ok(Db {
        pool,
        dialect,
        url,
        hot,
    })
}

impl Db {
    /// Apply the dialect's pending migrations. Safe to run from several processes at once
    /// (sqlx takes an advisory lock on PostgreSQL; SQLite serializes writers). Migrations
    /// applied by a newer release are left alone (a rollback runs the older release's
    /// `baedal migrate` on the newer schema).
    pub async fn migrate(&self, migrations: &Migrations) -> Result<(), sqlx::Error> {
        schema::migrate(self, migrations.of(self.dialect)).await
    }

    /// Check, without changing anything, that every migration this release knows has been
    /// applied; the error ([`SchemaBehind`]) says to run `baedal migrate`.
    pub async fn verify(&self, migrations: &Migrations) -> Result<(), sqlx::Error> {
        schema::verify(self, migrations.of(self.dialect)).await
    }

    /// At most one row of the statement `query()` builds, for the hottest reads: on a
    /// connection held outside the pool when one is free (no round trip to test it on its way
    /// back, see `hot.rs`), else, or when that fails, on the pool. `query` must only read:
    /// it may run twice.
    pub async fn fetch_optional_hot<'q>(
        &self,
        query: impl Fn() -> Query<'q, Any, AnyArguments<'q>>,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        if let Some(row) = self.hot.fetch_optional(query()).await {
            return Ok(row);
        }
        query().fetch_optional(&self.pool).await
    }

    /// How the database would run `sql`, one plan line per row, for the stores' plan tests:
    /// PostgreSQL is told to prefer indexes (in one transaction), as it would on a big table
    /// rather than a test's few rows.
    pub async fn explain(&self, sql: &str) -> Result<String, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<String> = match self.dialect {
            Dialect::Sqlite => sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| sqlx::Row::get::<String, _>(r, "detail"))
                .collect(),
            Dialect::Postgres => {
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&format!("EXPLAIN {sql}"))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| sqlx::Row::get::<String, _>(r, 0))
                    .collect()
            }
        };
        Ok(rows.join("\n"))
    }

    /// Cheap liveness check for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Whether retrying shortly may fix `e`: the database is unreachable, overloaded, restarting,
/// or (SQLite) busy; or (PostgreSQL) the transaction lost a serialization race or deadlock.
/// Anything else is a bug or a bad row, which retrying will not fix.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // SQLite: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_RECOVERY.
            Some("5" | "6" | "517") => true,
            // PostgreSQL: serialization failure, deadlock, a lock not granted within
            // `lock_timeout`, too many connections, shutting down, starting up, and the
            // connection exception class.
            Some("40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P02" | "57P03") => true,
            Some(code) => code.starts_with("08"),
            None => false,
        },
        _ => false,
    }
}

/// For tests: the PostgreSQL server to test against, from `BAEDAL_TEST_POSTGRES_URL` (an
/// admin URL; `scripts/with-postgres` starts a throwaway one and sets it). Unset: test on SQLite.
pub fn test_postgres() -> Option<String> {
    std::env::var("BAEDAL_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// For tests: a new, empty database on the server at `admin_url`, and its URL. Each test gets
/// its own, so tests run in parallel without seeing each other's rows.
pub async fn scratch_postgres(admin_url: &str) -> Result<String, sqlx::Error> {
    use sqlx::Connection;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    admin.close().await?;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// For tests: a fresh database of the dialect under test: a new PostgreSQL database when
/// `BAEDAL_TEST_POSTGRES_URL` is set, else an in-memory SQLite one.
pub async fn scratch_url() -> String {
    match test_postgres() {
        Some(admin) => scratch_postgres(&admin)
            .await
            .expect("creating a scratch database on BAEDAL_TEST_POSTGRES_URL"),
        None => "sqlite::memory:".to_owned(),
    }
}

/// For harnesses that start baedal's processes: a fresh database of the dialect under test,
/// either a new PostgreSQL database or the SQLite file `file` in `dir`. Blocks (on a thread of
/// its own, so it may be called from inside a runtime too).
pub fn scratch_url_in(dir: &std::path::Path, file: &str) -> String {
    match test_postgres() {
        Some(admin) => std::thread::spawn(move || {
            tokio_block_on(scratch_postgres(&admin))
                .expect("creating a scratch database on BAEDAL_TEST_POSTGRES_URL")
        })
        .join()
        .expect("scratch database thread"),
        None => format!("sqlite://{}", dir.join(file).display()),
    }
}

fn tokio_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the scratch database")
        .block_on(f)
}

/// `url` without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_follows_the_scheme_and_unknown_ones_are_refused_without_the_password() {
        assert_eq!(Dialect::of("sqlite://x.db").unwrap(), Dialect::Sqlite);
        assert_eq!(Dialect::of("sqlite::memory:").unwrap(), Dialect::Sqlite);
        assert_eq!(
            Dialect::of("postgres://u:p@h/db").unwrap(),
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::of("postgresql://u@h/db").unwrap(),
            Dialect::Postgres
        );
        let e = Dialect::of("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(e.contains("postgres://") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://u:pw@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }
}
