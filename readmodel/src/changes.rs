//! The change log (`order_log`, migration 0009): one narrow row per new version of an order's
//! view, with the id of the transaction that wrote it. Live streams follow it (see
//! [`crate::follow`]) and resume from it; the view itself is read from `orders`, so a row
//! shows the order as it is now, not as it was at that version.
//!
//! Why rows are read in `(xid, pos)` order and only up to a watermark: projections commit side
//! by side, with nothing serialising them, so positions (from a sequence) can become visible
//! out of order: a transaction that took position 10 may commit after one that took 11. A
//! reader that went by position alone, having read 11, would never see 10. Instead a reader
//! reads only rows whose transaction is older than the oldest transaction still running on
//! the instance (`pg_snapshot_xmin`): every such transaction has ended, so nothing can appear
//! below that line any more, and `(xid, pos)` is a total order of what is below it. The price:
//! a transaction that has written and stays open anywhere on the instance holds the line back
//! (bounded by `idle_in_transaction_session_timeout` and statement timeouts; read-only
//! transactions take no id and do not). SQLite has one writer at a time: positions commit in
//! order, `xid` is always 0, and the line is the newest position.

use crate::db::ReadModel;
use baedal_db::Dialect;
use baedal_domain::{OrderStatus, OrderView};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;

/// A place in the change log: after the row `(xid, pos)` in `(xid, pos)` order. Everything at
/// or before it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LogCursor {
    pub xid: i64,
    pub pos: i64,
}

impl LogCursor {
    /// Before every row.
    pub const START: Self = Self {
        xid: i64::MIN,
        pos: i64::MIN,
    };
}

/// One row of the change log: a new version of an order, at its position (the store and rider
/// streams' event id), with the order's view as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub pos: i64,
    /// The transaction that wrote it (0 on SQLite).
    pub xid: i64,
    /// The version, seq and status this row logged.
    pub version: u32,
    pub seq: u32,
    pub status: OrderStatus,
    /// The order's current view (shared by every row of one order read together).
    pub order: Arc<OrderView>,
}

impl Change {
    pub fn cursor(&self) -> LogCursor {
        LogCursor {
            xid: self.xid,
            pos: self.pos,
        }
    }

    /// Whether this row logged the version the order is at now. A row of an older version is
    /// followed by a row of the newer one, which shows the view; a stream that shows views
    /// skips the older row (and the row of a version a repair took back, which is higher).
    pub fn is_current(&self) -> bool {
        self.version == self.order.version
    }

    /// The status the order's history holds just before this row's step (`None`: the first
    /// step, or the current view's history does not hold this row's step as logged, as after
    /// a repair).
    pub fn status_before(&self) -> Option<OrderStatus> {
        let h = &self.order.history;
        h.iter()
            .find(|e| e.seq == self.seq)
            .filter(|e| e.status == self.status && self.version <= self.order.version)?;
        h.iter().find(|e| e.seq + 1 == self.seq).map(|e| e.status)
    }
}

/// The transaction holding the change log's watermark back, as `pg_stat_activity` shows it.
#[derive(Debug, Clone)]
pub struct OldestWriter {
    pub pid: i32,
    pub database: String,
    pub age_secs: f64,
    pub query: String,
}

/// Which changes a reader wants.
#[derive(Debug, Clone, Copy)]
pub enum Changes<'a> {
    All,
    /// One store's (read through the `(store_id, xid, pos)` index).
    Store(&'a str),
    /// These stores' and these orders' (the follower when only store and order streams
    /// follow).
    Of {
        stores: &'a [String],
        orders: &'a [String],
    },
}

/// Rows read from the log, and where the next read starts.
#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    /// The rows that decoded, oldest first (a row whose order is missing or whose view does
    /// not decode is skipped, counted in `baedal_change_log_undecodable_total` and logged).
    pub changes: Vec<Change>,
    /// After the last row read; when the batch was not full, the end the read went to (every
    /// row up to it has been read, whether or not it was the reader's).
    pub next: LogCursor,
    /// Whether the batch was full: read again from `next` at once.
    pub full: bool,
}

/// How a stream may go on from a position a client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Read the log after this place, then follow.
    From(LogCursor),
    /// The position's row is gone (older than the log's horizon), or it is too far behind
    /// for a catch-up to be cheaper than the current state: send the state, then follow.
    Reset,
    /// Past the newest position ever handed out: not one of this log's positions.
    BeyondEnd,
}

/// A rider (whole-log) stream more than this many positions behind the end is reset rather
/// than caught up: a catch-up reads every row in between.
pub const RESUME_WINDOW: i64 = 10_000;

/// A store stream with more than this many of its store's changes to catch up is reset: the
/// store's open orders say the same in fewer rows. (Counted through the store's index, so a
/// store stream is not reset because other stores were busy.)
pub const STORE_RESUME_WINDOW: i64 = 1_000;

/// Count and log a change-log row that cannot be shown; the feed goes on without it.
fn undecodable(pos: i64, order_id: &str, why: &str) {
    metrics::counter!("baedal_change_log_undecodable_total").increment(1);
    tracing::warn!(
        pos,
        order_id,
        why,
        "skipping a change-log row that cannot be shown; the order's next change shows it, or `baedal reconcile` repairs it"
    );
}

impl ReadModel {
    /// How far the log can be read now without a later commit appearing behind the reader,
    /// and whether committed rows beyond it are held back (by a transaction still running on
    /// the instance): then look again soon.
    pub async fn readable_end(&self) -> crate::Result<(LogCursor, bool)> {
        match self.dialect() {
            Dialect::Postgres => {
                // Its own statement, before the scan: every transaction below the watermark
                // has ended by now, so the scan's later snapshot sees all of them.
                let row = sqlx::query(
                    "WITH w AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS w)
                     SELECT w.w AS w,
                            CASE WHEN EXISTS (SELECT 1 FROM order_log WHERE xid >= w.w)
                                 THEN 1 ELSE 0 END::bigint AS withheld
                       FROM w",
                )
                .fetch_one(self.pool())
                .await?;
                let w: i64 = row.get("w");
                let end = LogCursor {
                    xid: w - 1,
                    pos: i64::MAX,
                };
                Ok((end, row.get::<i64, _>("withheld") == 1))
            }
            Dialect::Sqlite => {
                let row = sqlx::query("SELECT COALESCE(MAX(pos), 0) AS pos FROM order_log")
                    .fetch_one(self.pool())
                    .await?;
                Ok((
                    LogCursor {
                        xid: 0,
                        pos: row.get("pos"),
                    },
                    false,
                ))
            }
        }
    }

    /// Up to `limit` changes after `after`, up to the log's readable end, in log order.
    pub async fn changes_after(
        &self,
        after: LogCursor,
        which: Changes<'_>,
        limit: u32,
    ) -> crate::Result<LogBatch> {
        let (end, _) = self.readable_end().await?;
        self.read_log(after, end, which, limit).await
    }

    /// The oldest transaction on the instance that has written and not ended: what holds the
    /// change log's watermark back (PostgreSQL; `None` on SQLite or when there is none).
    pub(crate) async fn oldest_writer(&self) -> crate::Result<Option<OldestWriter>> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT pid, COALESCE(datname::text, '') AS db,
                    CAST(EXTRACT(EPOCH FROM (now() - xact_start)) AS DOUBLE PRECISION) AS age,
                    COALESCE(left(query, 200), '') AS query
               FROM pg_stat_activity
              WHERE backend_xid IS NOT NULL AND xact_start IS NOT NULL
              ORDER BY xact_start LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| OldestWriter {
            pid: r.get("pid"),
            database: r.get("db"),
            age_secs: r.get("age"),
            query: r.get("query"),
        }))
    }

    /// The rows past `end` (the readable end) that have already committed: on PostgreSQL,
    /// rows written after the oldest running transaction began. A follower starting at `end`
    /// has not read them but they happened before it started, so it skips them when the
    /// watermark reaches them. At most `limit` (past it, a few changes from just before a start
    /// may reach its streams). Empty on SQLite, where nothing is past the end.
    pub(crate) async fn committed_past(
        &self,
        end: LogCursor,
        limit: u32,
    ) -> crate::Result<std::collections::HashSet<(i64, i64)>> {
        if self.dialect() == Dialect::Sqlite {
            return Ok(Default::default());
        }
        let rows = sqlx::query("SELECT xid, pos FROM order_log WHERE xid > $1 LIMIT $2")
            .bind(end.xid)
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(|r| (r.get("xid"), r.get("pos"))).collect())
    }

    /// Up to `limit` rows in `(after, upto]`, each with its order's current view.
    pub(crate) async fn read_log(
        &self,
        after: LogCursor,
        upto: LogCursor,
        which: Changes<'_>,
        limit: u32,
    ) -> crate::Result<LogBatch> {
        if after >= upto {
            return Ok(LogBatch {
                changes: Vec::new(),
                next: after,
                full: false,
            });
        }
        let mut keys: Vec<&str> = Vec::new();
        let filter = match which {
            Changes::All => String::new(),
            Changes::Store(id) => {
                keys.push(id);
                "AND l.store_id = $6".to_owned()
            }
            Changes::Of { stores, orders } => {
                let mut parts = Vec::new();
                for (column, ids) in [("store_id", stores), ("order_id", orders)] {
                    if ids.is_empty() {
                        continue;
                    }
                    let first = 6 + keys.len();
                    let params = (first..first + ids.len())
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    parts.push(format!("l.{column} IN ({params})"));
                    keys.extend(ids.iter().map(String::as_str));
                }
                if parts.is_empty() {
                    "AND 1 = 0".to_owned()
                } else {
                    format!("AND ({})", parts.join(" OR "))
                }
            }
        };
        let sql = format!(
            "SELECT l.pos, l.xid, l.order_id, l.version, l.seq, l.status, o.view
               FROM order_log l LEFT JOIN orders o ON o.id = l.order_id
              WHERE (l.xid, l.pos) > ($1, $2) AND (l.xid, l.pos) <= ($3, $4) {filter}
              ORDER BY l.xid, l.pos LIMIT $5"
        );
        let mut q = sqlx::query(&sql)
            .bind(after.xid)
            .bind(after.pos)
            .bind(upto.xid)
            .bind(upto.pos)
            .bind(limit as i64);
        for k in keys {
            q = q.bind(k);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let full = rows.len() as u32 == limit;
        let mut next = after;
        let mut views: HashMap<String, Option<Arc<OrderView>>> = HashMap::new();
        let mut changes = Vec::with_capacity(rows.len());
        for r in &rows {
            let pos: i64 = r.get("pos");
            let xid: i64 = r.get("xid");
            next = LogCursor { xid, pos };
            let order_id: String = r.get("order_id");
            let view = views
                .entry(order_id.clone())
                .or_insert_with(|| {
                    let json: Option<String> = r.try_get("view").ok().flatten();
                    let Some(json) = json else {
                        undecodable(pos, &order_id, "the order is not in `orders`");
                        return None;
                    };
                    match serde_json::from_str::<OrderView>(&json) {
                        Ok(v) => Some(Arc::new(v)),
                        Err(e) => {
                            undecodable(pos, &order_id, &format!("its view: {e}"));
                            None
                        }
                    }
                })
                .clone();
            let Some(order) = view else { continue };
            let status: String = r.get("status");
            let Ok(status) = status.parse::<OrderStatus>() else {
                undecodable(pos, &order_id, &format!("unknown status {status:?}"));
                continue;
            };
            changes.push(Change {
                pos,
                xid,
                version: r.get::<i64, _>("version") as u32,
                seq: r.get::<i64, _>("seq") as u32,
                status,
                order,
            });
        }
        if !full {
            next = next.max(upto);
        }
        Ok(LogBatch {
            changes,
            next,
            full,
        })
    }

    /// The newest position ever handed out (0 when none), whether or not its row is still
    /// retained: a client cannot hold a position past it.
    pub async fn last_change_pos(&self) -> crate::Result<i64> {
        let sql = match self.dialect() {
            Dialect::Postgres => {
                "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS pos
                   FROM order_log_pos_seq"
            }
            Dialect::Sqlite => {
                "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'order_log'), 0)
                     AS pos"
            }
        };
        let row = sqlx::query(sql).fetch_one(self.pool()).await?;
        Ok(row.get("pos"))
    }

    /// How a stream that last sent position `pos` goes on: from that row (when it is still in
    /// the log and not too far behind for `which`), with a reset, or not at all (a position
    /// this log never handed out).
    pub async fn resume(&self, pos: i64, which: Changes<'_>) -> crate::Result<Resume> {
        let end = self.last_change_pos().await?;
        if pos > end {
            return Ok(Resume::BeyondEnd);
        }
        let row = sqlx::query("SELECT xid FROM order_log WHERE pos = $1")
            .bind(pos)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(Resume::Reset);
        };
        let from = LogCursor {
            xid: row.get("xid"),
            pos,
        };
        let too_far = match which {
            Changes::All | Changes::Of { .. } => end - pos > RESUME_WINDOW,
            Changes::Store(_) => self.too_far_behind(from, which).await?,
        };
        Ok(if too_far {
            Resume::Reset
        } else {
            Resume::From(from)
        })
    }

    /// Whether a reader at `after` has more of `which`'s rows ahead of it than a catch-up
    /// should read ([`STORE_RESUME_WINDOW`] of one store's, [`RESUME_WINDOW`] of the whole
    /// log's): counted through the index, never more than one past the window.
    pub async fn too_far_behind(
        &self,
        after: LogCursor,
        which: Changes<'_>,
    ) -> crate::Result<bool> {
        let (filter, window, key) = match which {
            Changes::Store(store) => ("AND store_id = $4", STORE_RESUME_WINDOW, Some(store)),
            Changes::All | Changes::Of { .. } => ("", RESUME_WINDOW, None),
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM order_log
              WHERE (xid, pos) > ($1, $2) {filter} LIMIT $3) behind"
        );
        let q = sqlx::query(&sql)
            .bind(after.xid)
            .bind(after.pos)
            .bind(window + 1);
        let q = match key {
            Some(k) => q.bind(k),
            None => q,
        };
        let n: i64 = q.fetch_one(self.pool()).await?.get("n");
        Ok(n > window)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::orders::tests::{plan, view};

    /// Wait until every row of the log is below the readable end. (On PostgreSQL the line is
    /// the instance's oldest running transaction: other tests' transactions on the same server
    /// hold it back for a moment.)
    pub(crate) async fn settled(rm: &ReadModel) {
        loop {
            let row = sqlx::query("SELECT COALESCE(MAX(xid), 0) AS xid FROM order_log")
                .fetch_one(rm.pool())
                .await
                .unwrap();
            let newest: i64 = row.get("xid");
            let (end, _) = rm.readable_end().await.unwrap();
            if end.xid >= newest {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Append `n` rows of order `order_id` (no view needed: these tests only place readers).
    async fn append(rm: &ReadModel, order_id: &str, store: &str, n: i64) {
        sqlx::query(
            "INSERT INTO order_log (order_id, version, seq, status, store_id)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
             SELECT $2, i, i, 'placed', $3 FROM n",
        )
        .bind(n)
        .bind(order_id)
        .bind(store)
        .execute(rm.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_resume_goes_on_from_its_row_and_resets_when_the_row_is_gone_or_too_far_behind() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.project(&view("o1", 1, OrderStatus::Placed, 37.5))
            .await
            .unwrap();
        settled(&rm).await;
        let first = rm
            .changes_after(LogCursor::START, Changes::All, 10)
            .await
            .unwrap()
            .changes[0]
            .cursor();
        let end = rm.last_change_pos().await.unwrap();
        assert_eq!(end, first.pos);
        for which in [Changes::All, Changes::Store("st_1")] {
            assert_eq!(
                rm.resume(first.pos, which).await.unwrap(),
                Resume::From(first)
            );
            assert_eq!(
                rm.resume(end + 1, which).await.unwrap(),
                Resume::BeyondEnd,
                "never handed out"
            );
        }

        // Other stores' changes: a rider stream (the whole log) is too far behind past the
        // window; a store stream counts only its store's.
        append(&rm, "busy", "st_2", RESUME_WINDOW).await;
        assert_eq!(
            rm.resume(first.pos, Changes::All).await.unwrap(),
            Resume::From(first),
            "exactly the window behind"
        );
        append(&rm, "busy", "st_2", 1).await;
        assert_eq!(
            rm.resume(first.pos, Changes::All).await.unwrap(),
            Resume::Reset
        );
        assert_eq!(
            rm.resume(first.pos, Changes::Store("st_1")).await.unwrap(),
            Resume::From(first)
        );
        append(&rm, "mine", "st_1", STORE_RESUME_WINDOW + 1).await;
        assert_eq!(
            rm.resume(first.pos, Changes::Store("st_1")).await.unwrap(),
            Resume::Reset
        );

        // Retention took the row: reset, though the position is recent enough.
        let recent = rm.last_change_pos().await.unwrap();
        sqlx::query("DELETE FROM order_log WHERE pos = $1")
            .bind(recent)
            .execute(rm.pool())
            .await
            .unwrap();
        assert_eq!(
            rm.resume(recent, Changes::All).await.unwrap(),
            Resume::Reset
        );
        assert_eq!(
            rm.resume(recent + 1, Changes::All).await.unwrap(),
            Resume::BeyondEnd,
            "the end is the newest position handed out, not the newest row kept"
        );
    }

    #[tokio::test]
    async fn the_log_is_read_through_its_indexes() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let read = "SELECT l.pos FROM order_log l LEFT JOIN orders o ON o.id = l.order_id
                     WHERE (l.xid, l.pos) > (5, 10) AND (l.xid, l.pos) <= (9, 99) {filter}
                     ORDER BY l.xid, l.pos LIMIT 500";
        for (filter, index) in [
            ("", "order_log_follow"),
            ("AND l.order_id IN ('a', 'b')", "order_log_follow"),
            ("AND l.store_id = 'st_1'", "order_log_store"),
        ] {
            let plan = plan(&rm, &read.replace("{filter}", filter)).await;
            assert!(plan.contains(index), "{filter}: {plan}");
        }
    }
}
