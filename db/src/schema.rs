//! Schema changes a running system can live with: who applies them, what a release may assume
//! about a schema another release applied, and which statements a new migration may use.
//!
//! The rules (docs/decisions.md, "Migrations"):
//! - only `baedal migrate` (the deploy's Job, ordered before the new pods) changes a shared
//!   PostgreSQL schema; application roles only check it ([`verify`]);
//! - expand/contract: a release never needs the previous one's schema gone, so migrations
//!   newer than a release knows are ignored, and that release starts and serves on them (a
//!   rollback never crash-loops on sqlx's `VersionMissing`);
//! - a migration never holds a long lock on a live table: indexes on existing tables are built
//!   `CONCURRENTLY` (outside a transaction: the file starts with `-- no-transaction`, one
//!   statement), columns are added without a rewrite, and backfills run in batches from code,
//!   never as one `UPDATE` of a whole table ([`check_online_safe`] enforces what it can see).

use crate::{Db, Dialect};
use sqlx::Row;
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use std::collections::HashMap;
use std::time::Duration;

/// The database has not had every migration this release needs: run `baedal migrate` (the
/// deploy's migrate Job) first.
#[derive(Debug)]
pub struct SchemaBehind {
    /// The versions this release needs that the database does not have.
    pub missing: Vec<i64>,
}

impl std::fmt::Display for SchemaBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the database's schema lacks migration(s) {:?} this release needs: run `baedal migrate` \
             (on Kubernetes, the baedal-migrate Job of this release) and start again",
            self.missing
        )
    }
}

impl std::error::Error for SchemaBehind {}

/// How often `baedal migrate` tries a migration again when it could not get its table's lock
/// within [`MIGRATION_LOCK_TIMEOUT`] (live traffic held it): each attempt rolls back whole, so
/// trying again is safe; about a minute in all.
const LOCK_ATTEMPTS: u32 = 60;
/// How long a transactional migration's DDL waits for its lock. Short: while DDL waits for an
/// exclusive lock, every query on that table queues behind it, so a long wait is an outage of
/// the table; the app's own statements wait up to [`crate::LOCK_TIMEOUT`].
const MIGRATION_LOCK_TIMEOUT: &str = "250ms";
/// The advisory lock one migrator of a database holds at a time ("baedalm").
const MIGRATORS: i64 = 0x62_6165_6461_6c6d;

/// Apply `m`'s pending migrations (built by [`crate::Migrations::new`], which tells sqlx to
/// leave applied ones this release does not know alone). On PostgreSQL one at a time, each
/// with the lock wait it can afford (see [`migrate_postgres`]); SQLite files have one writer
/// and no concurrent builds.
pub(crate) async fn migrate(db: &Db, m: &Migrator) -> Result<(), sqlx::Error> {
    match db.dialect {
        Dialect::Sqlite => m
            .run(&db.pool)
            .await
            .map_err(|e| sqlx::Error::Migrate(Box::new(e))),
        Dialect::Postgres => {
            let mut conn = db.pool.acquire().await?;
            // Wait for another migrator by trying, not by blocking: a session blocked in
            // `pg_advisory_lock` holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the
            // migrator that holds the lock waits for every snapshot: a deadlock (seen with
            // `baedal migrate` beside `baedal dev`). Between tries this session holds none.
            loop {
                let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
                    .bind(MIGRATORS)
                    .fetch_one(&mut *conn)
                    .await?
                    .get("got");
                if got {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            // sqlx's own lock too, for migrators of releases before this one (uncontended
            // among this release's).
            conn.lock().await.map_err(boxed)?;
            let result = migrate_postgres(&mut conn, m).await;
            // The connection goes back to the pool: the app's lock wait again.
            let restored = sqlx::query(&format!(
                "SET lock_timeout = '{}ms'",
                crate::LOCK_TIMEOUT.as_millis()
            ))
            .execute(&mut *conn)
            .await;
            let unlocked = conn.unlock().await.map_err(boxed);
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATORS)
                .execute(&mut *conn)
                .await;
            result?;
            restored?;
            unlocked
        }
    }
}

fn boxed(e: MigrateError) -> sqlx::Error {
    sqlx::Error::Migrate(Box::new(e))
}

/// The pending migrations, in order, on one connection holding sqlx's migration lock:
/// - a transactional one with a short lock wait ([`MIGRATION_LOCK_TIMEOUT`]), tried again
///   while live traffic holds its table;
/// - a `-- no-transaction` one (a `CREATE INDEX CONCURRENTLY`) with no lock timeout: it blocks
///   no reads or writes, but waits for every older snapshot in the database, and a lock timeout
///   there leaves an INVALID index behind. Invalid indexes (a build that died) are dropped
///   before it runs, so it builds afresh, and none may remain after.
async fn migrate_postgres(conn: &mut sqlx::AnyConnection, m: &Migrator) -> Result<(), sqlx::Error> {
    conn.ensure_migrations_table().await.map_err(boxed)?;
    if let Some(v) = conn.dirty_version().await.map_err(boxed)? {
        return Err(boxed(MigrateError::Dirty(v)));
    }
    let applied: HashMap<i64, Vec<u8>> = conn
        .list_applied_migrations()
        .await
        .map_err(boxed)?
        .into_iter()
        .map(|a| (a.version, a.checksum.into_owned()))
        .collect();
    for mig in m.iter().filter(|x| !x.migration_type.is_down_migration()) {
        match applied.get(&mig.version) {
            Some(sum) if sum[..] == mig.checksum[..] => continue,
            Some(_) => return Err(boxed(MigrateError::VersionMismatch(mig.version))),
            None => {}
        }
        if mig.no_tx {
            sqlx::query("SET lock_timeout = 0")
                .execute(&mut *conn)
                .await?;
            for index in invalid_indexes(conn).await? {
                tracing::warn!(
                    index,
                    "dropping an index a failed concurrent build left invalid"
                );
                sqlx::query(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"))
                    .execute(&mut *conn)
                    .await?;
            }
            conn.apply(mig).await.map_err(boxed)?;
            continue;
        }
        sqlx::query(&format!("SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'"))
            .execute(&mut *conn)
            .await?;
        let mut attempt = 1;
        loop {
            match conn.apply(mig).await {
                Ok(_) => break,
                Err(MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _))
                    if lock_not_granted(&e) && attempt < LOCK_ATTEMPTS =>
                {
                    tracing::warn!(
                        version = mig.version,
                        attempt,
                        "a migration's table is in use (lock not granted within {MIGRATION_LOCK_TIMEOUT}); trying again"
                    );
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 + u64::from(attempt % 7) * 100))
                        .await;
                }
                Err(e) => return Err(boxed(e)),
            }
        }
    }
    let left = invalid_indexes(conn).await?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(sqlx::Error::Protocol(format!(
            "indexes {left:?} are INVALID after migrating (a concurrent build failed): run `baedal migrate` again, which drops and rebuilds them"
        )))
    }
}

/// Indexes of the current schema left INVALID by a `CREATE INDEX CONCURRENTLY` that failed.
async fn invalid_indexes(conn: &mut sqlx::AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE NOT i.indisvalid AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.iter().map(|r| r.get("name")).collect())
}

fn lock_not_granted(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"))
}

/// Check that every migration in `m` has been applied successfully with the same text;
/// change nothing.
pub(crate) async fn verify(db: &Db, m: &Migrator) -> Result<(), sqlx::Error> {
    let table = match db.dialect {
        Dialect::Postgres => {
            "SELECT CAST(COUNT(to_regclass('_sqlx_migrations')) AS BIGINT) AS present"
        }
        Dialect::Sqlite => {
            "SELECT COUNT(*) AS present FROM sqlite_master WHERE name = '_sqlx_migrations'"
        }
    };
    let present = sqlx::query(table)
        .fetch_one(&db.pool)
        .await?
        .get::<i64, _>("present")
        > 0;
    let applied: HashMap<i64, (bool, Vec<u8>)> = if present {
        // (`success` as a number: the `Any` driver reads no SQLite booleans.)
        sqlx::query(
            "SELECT version, CASE WHEN success THEN 1 ELSE 0 END AS ok, checksum
             FROM _sqlx_migrations",
        )
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            let ok: i32 = r.get("ok");
            (r.get("version"), (ok == 1, r.get("checksum")))
        })
        .collect()
    } else {
        HashMap::new()
    };
    let mut missing = Vec::new();
    for mig in m.iter().filter(|x| !x.migration_type.is_down_migration()) {
        match applied.get(&mig.version) {
            Some((true, checksum)) if checksum[..] == mig.checksum[..] => {}
            Some((true, _)) => {
                return Err(sqlx::Error::Migrate(Box::new(
                    MigrateError::VersionMismatch(mig.version),
                )));
            }
            _ => missing.push(mig.version),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(sqlx::Error::Configuration(Box::new(SchemaBehind {
            missing,
        })))
    }
}

/// For each store's tests: the PostgreSQL migrations in `dir` from `from_version` on that
/// would hold a long lock on a live table or rewrite it, each with the rule it breaks (empty:
/// all safe). What it looks for, per statement: `CREATE INDEX` on a table the file did not
/// create without `CONCURRENTLY`; `CONCURRENTLY` in a file without `-- no-transaction` first,
/// or beside other statements; `UPDATE`/`DELETE` without `WHERE` (a whole-table backfill);
/// `ALTER TABLE` that rewrites or scans under an exclusive lock (`ALTER COLUMN … TYPE`,
/// `SET NOT NULL`, `ADD COLUMN … DEFAULT` of a volatile value, a new `PRIMARY KEY`/`UNIQUE`
/// constraint, `VALIDATE` is fine). A text check, not a parser: it keeps new migrations to the
/// patterns reviewed in docs/decisions.md.
pub fn check_online_safe(dir: &std::path::Path, from_version: i64) -> Vec<String> {
    let mut found = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let Some(version) = name.split('_').next().and_then(|v| v.parse::<i64>().ok()) else {
            continue;
        };
        if version < from_version || !name.ends_with(".sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for problem in problems(&text) {
            found.push(format!("{name}: {problem}"));
        }
    }
    found
}

fn problems(text: &str) -> Vec<String> {
    let no_tx = text.starts_with("-- no-transaction");
    let code: String = text
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    let statements: Vec<String> = code
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect();
    let created: Vec<String> = statements
        .iter()
        .filter_map(|s| s.strip_prefix("create table "))
        .map(|rest| {
            let rest = rest.strip_prefix("if not exists ").unwrap_or(rest);
            rest.split([' ', '(']).next().unwrap_or("").to_owned()
        })
        .collect();
    let mut out = Vec::new();
    for s in &statements {
        let is_index = s.starts_with("create index") || s.starts_with("create unique index");
        if is_index {
            let table = s
                .split(" on ")
                .nth(1)
                .and_then(|t| t.split([' ', '(']).next())
                .unwrap_or("");
            let table = table.strip_prefix("only ").unwrap_or(table);
            if !s.contains(" concurrently ") && !created.iter().any(|c| c == table) {
                out.push(format!(
                    "`{s}`: an index on an existing table must be built CONCURRENTLY"
                ));
            }
        }
        if s.contains(" concurrently ") && (!no_tx || statements.len() > 1) {
            out.push(format!(
                "`{s}`: CONCURRENTLY needs a file of its own starting with `-- no-transaction`"
            ));
        }
        if (s.starts_with("update ") || s.starts_with("delete from ")) && !s.contains(" where ") {
            out.push(format!(
                "`{s}`: a whole-table backfill holds its rows' locks for the whole update; backfill in batches from code"
            ));
        }
        if s.starts_with("alter table ") {
            let rewrites = s.contains(" type ")
                || s.contains("set not null")
                || s.contains(" primary key")
                || (s.contains(" unique") && !s.contains("using index"))
                || (s.contains("add column")
                    && s.contains(" default ")
                    && [
                        "now()",
                        "clock_timestamp",
                        "random(",
                        "gen_random",
                        "nextval",
                    ]
                    .iter()
                    .any(|v| s.contains(v)));
            let table = s
                .trim_start_matches("alter table ")
                .trim_start_matches("if exists ")
                .trim_start_matches("only ")
                .split(' ')
                .next()
                .unwrap_or("");
            if rewrites && !created.iter().any(|c| c == table) {
                out.push(format!(
                    "`{s}`: rewrites or scans the table under an exclusive lock; expand with a nullable column and backfill in batches"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Migrations, PoolSettings};

    /// Release N knows migrations 1 and 2; release N+1 adds 3 (a column and a table).
    async fn releases(dir: &std::path::Path) -> (Migrations, Migrations) {
        let files = [
            (
                "0001_things.sql",
                "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT);",
            ),
            (
                "0002_more.sql",
                "ALTER TABLE things ADD COLUMN size BIGINT;",
            ),
            (
                "0003_next.sql",
                "ALTER TABLE things ADD COLUMN colour TEXT; CREATE TABLE extras (id BIGINT);",
            ),
        ];
        let mut out = Vec::new();
        for (release, upto) in [("n", 2), ("n1", 3)] {
            let d = dir.join(release);
            std::fs::create_dir_all(&d).unwrap();
            for (name, sql) in &files[..upto] {
                std::fs::write(d.join(name), sql).unwrap();
            }
            out.push(Migrations::new(
                Migrator::new(d.as_path()).await.unwrap(),
                Migrator::new(d.as_path()).await.unwrap(),
            ));
        }
        let n1 = out.pop().unwrap();
        (out.pop().unwrap(), n1)
    }

    fn scratch(dir: &std::path::Path) -> String {
        crate::scratch_url_in(dir, "schema.db")
    }

    #[tokio::test]
    async fn a_release_opens_the_next_releases_schema_and_a_role_only_verifies() {
        let tmp = std::env::temp_dir().join(format!("baedal-schema-{}", std::process::id()));
        let (n, n1) = releases(&tmp).await;
        let url = scratch(&tmp);
        let db = crate::connect(&url, PoolSettings::default()).await.unwrap();
        // Before anything is applied, a role's check refuses and says what to run.
        let e = db.verify(&n).await.unwrap_err();
        assert!(e.to_string().contains("baedal migrate"), "{e}");
        assert!(
            sqlx::query("SELECT 1 FROM things")
                .execute(&db.pool)
                .await
                .is_err(),
            "verifying changed nothing"
        );
        // The next release migrates; this release's migrate and check both accept it.
        db.migrate(&n1).await.unwrap();
        db.migrate(&n).await.unwrap();
        db.verify(&n).await.unwrap();
        // And it serves: its queries still work beside the newer column and table.
        sqlx::query("INSERT INTO things (id, name, size) VALUES (1, 'a', 2)")
            .execute(&db.pool)
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&tmp);
    }

    /// PostgreSQL: a concurrent index build waits for a long read instead of failing at the
    /// lock timeout (which left an INVALID index that later runs took for built), and an index
    /// a failed build left INVALID is dropped and built again.
    #[tokio::test]
    async fn a_concurrent_index_waits_for_long_reads_and_a_failed_build_is_redone() {
        let Some(admin) = crate::test_postgres() else {
            return;
        };
        let tmp = std::env::temp_dir().join(format!("baedal-cic-{}", std::process::id()));
        let d = tmp.join("m");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("0001_things.sql"),
            "CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT);",
        )
        .unwrap();
        std::fs::write(
            d.join("0002_things_name.sql"),
            "-- no-transaction\nCREATE INDEX CONCURRENTLY things_name ON things (name);",
        )
        .unwrap();
        let m = Migrations::new(
            Migrator::new(d.as_path()).await.unwrap(),
            Migrator::new(d.as_path()).await.unwrap(),
        );
        let url = crate::scratch_postgres(&admin).await.unwrap();
        let db = crate::connect(&url, PoolSettings::default()).await.unwrap();
        sqlx::query("CREATE TABLE other (id BIGINT)")
            .execute(&db.pool)
            .await
            .unwrap();
        // A report holds a snapshot for longer than the lock timeout (3 s).
        let reader = db.pool.clone();
        let report = tokio::spawn(async move {
            let mut tx = reader.begin().await.unwrap();
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query("SELECT COUNT(*) FROM other")
                .execute(&mut *tx)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(3500)).await;
            tx.commit().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Two migrators at once (the deploy's Job beside `baedal dev`, say): one waits.
        let (a, b) = tokio::join!(db.migrate(&m), db.migrate(&m));
        a.unwrap();
        b.unwrap();
        report.await.unwrap();
        let valid = |db: Db| async move {
            sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_index
                  WHERE indexrelid = 'things_name'::regclass AND indisvalid",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get::<i64, _>(0)
        };
        assert_eq!(valid(db.clone()).await, 1, "built, and valid");
        // A build that died: the index is left INVALID and its migration unrecorded.
        sqlx::query(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'things_name'::regclass",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 2")
            .execute(&db.pool)
            .await
            .unwrap();
        db.migrate(&m).await.unwrap();
        assert_eq!(valid(db.clone()).await, 1, "dropped and built again");
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn the_online_safety_check_names_what_would_lock_a_live_table() {
        assert!(problems("CREATE TABLE t (id INT);\nCREATE INDEX t_id ON t (id);").is_empty());
        assert!(
            problems("-- no-transaction\nCREATE INDEX CONCURRENTLY o_x ON orders (x);").is_empty()
        );
        assert!(problems("ALTER TABLE orders ADD COLUMN note TEXT;").is_empty());
        assert!(problems("ALTER TABLE orders ADD COLUMN n BIGINT NOT NULL DEFAULT 0;").is_empty());
        assert!(problems("DELETE FROM t WHERE id IN (SELECT id FROM t LIMIT 10);").is_empty());
        for bad in [
            "CREATE INDEX o_x ON orders (x);",
            "CREATE INDEX CONCURRENTLY o_x ON orders (x);",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY a ON o (x); CREATE INDEX CONCURRENTLY b ON o (y);",
            "UPDATE orders SET active = 0;",
            "ALTER TABLE orders ALTER COLUMN total TYPE NUMERIC;",
            "ALTER TABLE orders ALTER COLUMN region SET NOT NULL;",
            "ALTER TABLE orders ADD COLUMN at TIMESTAMPTZ DEFAULT now();",
            "ALTER TABLE orders ADD CONSTRAINT u UNIQUE (x);",
        ] {
            assert!(!problems(bad).is_empty(), "{bad}");
        }
    }
}
