//! Retention of the read model: every table that grows with orders or requests is pruned to
//! its horizon (docs/retention.md), by the worker every [`Retention::read_model_every`] and by
//! `baedal readmodel prune` on demand.
//!
//! Pruning never holds a long lock: each step deletes in batches of at most [`BATCH`] rows,
//! each batch its own short transaction, and finds its rows through an index or a bounded scan
//! from the start of the primary key. The change log needs no index of its own: positions
//! rise with time, so a batch takes the first rows by position and cuts where their time
//! passes the horizon (an index on the time would be paid by every projection).
//!
//! Personal data is erased, not deleted: a closed order keeps its status, items, money and
//! history (what the ledger, `baedal reconcile` and the customer's order list need) and loses
//! its delivery address and coordinates. Which orders are due is learnt from the change log
//! itself: a closed order's entry leaving the log queues the order in `personal_data_due`, so
//! finding them costs no index on `orders`. The stored view is edited as JSON text and marked
//! (`"personal_data_erased_at"`), never reshaped (`OrderView` is in workflow histories and
//! decodes an erased view as any other); the mark makes the erasure happen once, and the
//! projection's guard refuses to write over a marked view, so neither a late projection nor a
//! reconcile repair brings the address back.
//!
//! Several pruners may run at once (worker replicas, a CronJob): every batch is idempotent.

use crate::db::ReadModel;
use baedal_domain::retention::{Pruned, Retention};
use baedal_domain::{OrderStatus, OrderView};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;
use std::collections::BTreeMap;

/// Rows deleted per batch (and per transaction).
pub const BATCH: i64 = 1000;
/// Orders erased per batch (read together, rewritten and unqueued in one transaction).
const ERASE_BATCH: i64 = 200;
/// The PostgreSQL advisory lock a pruning round holds ("baedal" and 1, a key nothing else in
/// the database is expected to take).
const PRUNER_LOCK: i64 = 0x6261_6564_616c_0001;

/// The key an erased order's stored view carries, with when it was erased (RFC 3339).
pub const ERASED_MARK: &str = "personal_data_erased_at";

/// The projection's guard: a view marked erased is never written over (see `orders::upsert`).
/// A JSON string cannot hold an unescaped `"`, so only the mark's own key matches.
pub(crate) const NOT_ERASED: &str = "orders.view NOT LIKE '%\"personal_data_erased_at\":%'";

/// The instants before which each kind of record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizons {
    /// Change-log entries logged before this.
    pub change_log: DateTime<Utc>,
    /// Closed orders (closed before this) lose their personal data.
    pub personal_data: DateTime<Utc>,
    /// Settled refunds' progress and stuck alerts recorded before this.
    pub ops_records: DateTime<Utc>,
    /// Idempotency keys first seen before this.
    pub idempotency_keys: DateTime<Utc>,
    /// Riders' positions reported before this (an arrival estimate no longer uses them).
    pub rider_positions: DateTime<Utc>,
    /// Breaker documents of workers silent since before this.
    pub breakers: DateTime<Utc>,
}

impl Horizons {
    /// The horizons of `retention` at `now`.
    pub fn at(now: DateTime<Utc>, retention: &Retention) -> Self {
        let before =
            |d: std::time::Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        Self {
            change_log: before(retention.change_log),
            personal_data: before(retention.personal_data),
            ops_records: before(retention.notifications),
            idempotency_keys: before(retention.idempotency_keys()),
            rider_positions: now
                - chrono::Duration::seconds(baedal_domain::eta::FIX_FRESH_FOR_SECS),
            breakers: before(crate::BREAKER_FORGOTTEN_AFTER),
        }
    }
}

/// Count `n` rows of `table` in `pruned` and in `baedal_pruned_rows_total{table}`.
fn count(pruned: &mut Pruned, table: &'static str, n: u64) {
    pruned.add(table, n);
    metrics::counter!("baedal_pruned_rows_total", "table" => table).increment(n);
}

/// RFC 3339 with milliseconds, as the read model's writers stamp their rows (they compare as
/// text).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The two forms of the change log.
#[derive(Debug, Clone, Copy)]
enum Log {
    /// `order_log`: `logged_at` is the database's clock in milliseconds.
    Narrow,
    /// `order_changes` (no longer written): `at` is the view's time, RFC 3339.
    Legacy,
}

impl Log {
    fn table(self) -> &'static str {
        match self {
            Log::Narrow => "order_log",
            Log::Legacy => "order_changes",
        }
    }

    fn time_column(self) -> &'static str {
        match self {
            Log::Narrow => "logged_at",
            Log::Legacy => "at",
        }
    }

    /// A row's time in milliseconds; a legacy time that does not parse counts as long past.
    fn millis(self, row: &sqlx::any::AnyRow) -> i64 {
        match self {
            Log::Narrow => row.get("t"),
            Log::Legacy => DateTime::parse_from_rfc3339(&row.get::<String, _>("t"))
                .map(|t| t.timestamp_millis())
                .unwrap_or(i64::MIN),
        }
    }
}

impl ReadModel {
    /// Prune every table of the read model to `horizons`; `now` stamps the erasures. Answers
    /// what went, per table.
    pub async fn prune(&self, horizons: &Horizons, now: DateTime<Utc>) -> crate::Result<Pruned> {
        // One pruner at a time on a PostgreSQL database: every worker replica prunes, and
        // pruners side by side only repeat each other's batches (and deadlocked on the erasure
        // queue, measured). The others skip their round; the lock goes with its connection,
        // so a pruner that dies frees it. SQLite has one process.
        let mut turn = None;
        if self.dialect() == baedal_db::Dialect::Postgres {
            let mut conn = self.pool().acquire().await?;
            let took: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(PRUNER_LOCK)
                .fetch_one(&mut *conn)
                .await?;
            if !took {
                tracing::debug!("another pruner is running; this round is skipped");
                return Ok(Pruned::default());
            }
            turn = Some(conn);
        }
        let pruned = self.prune_in_turn(horizons, now).await;
        if let Some(mut conn) = turn {
            // On failure the connection is closed instead, which frees the lock too.
            if sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(PRUNER_LOCK)
                .execute(&mut *conn)
                .await
                .is_err()
            {
                conn.close_on_drop();
            }
        }
        pruned
    }

    async fn prune_in_turn(
        &self,
        horizons: &Horizons,
        now: DateTime<Utc>,
    ) -> crate::Result<Pruned> {
        let mut pruned = Pruned::default();
        let log_horizon = horizons.change_log.timestamp_millis();
        for log in [Log::Narrow, Log::Legacy] {
            let n = self.prune_log(log, log_horizon).await?;
            count(&mut pruned, log.table(), n);
        }
        let n = self
            .erase_personal_data(horizons.personal_data.timestamp_millis(), &stamp(now))
            .await?;
        count(&mut pruned, "orders_personal_data", n);
        for (table, sql, horizon) in [
            (
                "idempotency_keys",
                "DELETE FROM idempotency_keys WHERE order_id IN (SELECT order_id FROM
                    idempotency_keys WHERE first_seen_at < $1 ORDER BY first_seen_at LIMIT $2)",
                horizons.idempotency_keys,
            ),
            // Only settled ones: a pending refund is shown and alerted on until it settles.
            // Found through the settled ones' own index (`refunds_settled`), oldest first.
            (
                "refunds",
                "DELETE FROM refunds WHERE order_id IN (SELECT order_id FROM refunds
                    WHERE status = 'succeeded' AND settled_at < $1 ORDER BY settled_at LIMIT $2)",
                horizons.ops_records,
            ),
            // Stuck orders only: a small table.
            (
                "stuck_alerts",
                "DELETE FROM stuck_alerts WHERE (order_id, seq) IN (SELECT order_id, seq
                    FROM stuck_alerts WHERE alerted_at < $1 LIMIT $2)",
                horizons.ops_records,
            ),
            (
                "rider_locations",
                "DELETE FROM rider_locations WHERE rider_id IN (SELECT rider_id FROM
                    rider_locations WHERE at < $1 ORDER BY at LIMIT $2)",
                horizons.rider_positions,
            ),
            (
                "ops_status",
                "DELETE FROM ops_status WHERE name IN (SELECT name FROM ops_status
                    WHERE name LIKE 'payment_breaker:%' AND updated_at < $1 LIMIT $2)",
                horizons.breakers,
            ),
        ] {
            let n = self.delete_in_batches(sql, &stamp(horizon)).await?;
            count(&mut pruned, table, n);
        }
        Ok(pruned)
    }

    /// Run `sql` (a batch delete binding the horizon and [`BATCH`]) until a batch comes up
    /// short; how many rows went.
    async fn delete_in_batches(&self, sql: &str, horizon: &str) -> crate::Result<u64> {
        let mut total = 0;
        loop {
            let n = sqlx::query(sql)
                .bind(horizon)
                .bind(BATCH)
                .execute(self.pool())
                .await?
                .rows_affected();
            total += n;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Delete the change log's entries logged before `horizon_ms`, oldest first: each batch
    /// reads the first [`BATCH`] entries by position, cuts at the first one inside the
    /// horizon, then queues the closed orders among those before the cut for erasure and
    /// deletes them in one transaction that only writes (on SQLite a transaction that read
    /// first could not take the write lock once a projection committed in between).
    async fn prune_log(&self, log: Log, horizon_ms: i64) -> crate::Result<u64> {
        let (table, time) = (log.table(), log.time_column());
        let mut total = 0;
        // Each batch starts after the last one's cut: read from the table's head, a batch
        // would walk every index entry the batches before it deleted (dead until vacuumed),
        // and a pass would cost the square of its backlog.
        let mut after = i64::MIN;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT pos, order_id, status, {time} AS t FROM {table} WHERE pos > $1
                 ORDER BY pos LIMIT $2"
            ))
            .bind(after)
            .bind(BATCH)
            .fetch_all(self.pool())
            .await?;
            let mut last = None;
            // Ordered: pruners queue in one order, so their inserts cannot deadlock.
            let mut closed: BTreeMap<String, i64> = BTreeMap::new();
            for r in &rows {
                let at = log.millis(r);
                if at >= horizon_ms {
                    break;
                }
                last = Some(r.get::<i64, _>("pos"));
                let terminal = r
                    .get::<String, _>("status")
                    .parse::<OrderStatus>()
                    .is_ok_and(OrderStatus::is_terminal);
                if terminal {
                    let e = closed.entry(r.get("order_id")).or_insert(at);
                    *e = (*e).max(at);
                }
            }
            let Some(last) = last else {
                return Ok(total);
            };
            // Positions are handed out in order and an entry commits within milliseconds of
            // taking its position, so nothing at or below `last` can still appear: what is
            // deleted is what was read (or what another pruner already deleted).
            let mut tx = self.pool().begin().await?;
            queue_erasures(&mut tx, &closed).await?;
            let n = sqlx::query(&format!("DELETE FROM {table} WHERE pos > $1 AND pos <= $2"))
                .bind(after)
                .bind(last)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            total += n;
            after = last;
            if n < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    /// Erase the personal data of the orders queued as closed before `horizon_ms`, oldest
    /// first; how many views were erased. An order that is no longer closed with nothing owed
    /// (a refund still pending) leaves the queue unerased: its next change enters the log and
    /// queues it again when that entry expires. Each batch reads, then writes in one
    /// transaction; a view that changed in between is left for its next change to queue.
    async fn erase_personal_data(&self, horizon_ms: i64, now: &str) -> crate::Result<u64> {
        let mut erased = 0;
        loop {
            let due: Vec<String> = sqlx::query(
                "SELECT order_id FROM personal_data_due WHERE closed_at < $1
                 ORDER BY closed_at LIMIT $2",
            )
            .bind(horizon_ms)
            .bind(ERASE_BATCH)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.get("order_id"))
            .collect();
            if due.is_empty() {
                return Ok(erased);
            }
            // One read of the batch's views, and one transaction of three statements: a few
            // round trips per batch, not per order.
            let in_due = (1..=due.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("SELECT id, view FROM orders WHERE id IN ({in_due})");
            let mut read = sqlx::query_as::<_, (String, String)>(&sql);
            for id in &due {
                read = read.bind(id);
            }
            let mut edits = Vec::with_capacity(due.len());
            for (id, old) in read.fetch_all(self.pool()).await? {
                match erased_view(&old, now) {
                    Ok(Some(new)) => edits.push((id, old, new)),
                    Ok(None) => {}
                    // A row that does not decode must not stop every later erasure: it leaves
                    // the queue, counted and logged, for someone to look at.
                    Err(e) => {
                        metrics::counter!("baedal_erasure_skipped_total").increment(1);
                        tracing::warn!(order_id = %id, error = %e, "an order's stored view does not decode; its personal data was not erased");
                    }
                }
            }
            let mut tx = self.pool().begin().await?;
            if !edits.is_empty() {
                // A view is replaced only if it is still the one read: one that changed in
                // between is left for its next change to queue again.
                let sql = format!(
                    "WITH erased (id, old, new) AS (VALUES {})
                     UPDATE orders SET view = erased.new FROM erased
                     WHERE orders.id = erased.id AND orders.view = erased.old",
                    crate::orders::placeholders(0, edits.len(), 3)
                );
                let mut update = sqlx::query(&sql);
                for (id, old, new) in &edits {
                    update = update.bind(id).bind(old).bind(new);
                }
                erased += update.execute(&mut *tx).await?.rows_affected();
                // The legacy log's copies of the view hold the address too.
                let in_edits = (1..=edits.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!("DELETE FROM order_changes WHERE order_id IN ({in_edits})");
                let mut legacy = sqlx::query(&sql);
                for (id, _, _) in &edits {
                    legacy = legacy.bind(id);
                }
                legacy.execute(&mut *tx).await?;
            }
            let sql = format!("DELETE FROM personal_data_due WHERE order_id IN ({in_due})");
            let mut unqueue = sqlx::query(&sql);
            for id in &due {
                unqueue = unqueue.bind(id);
            }
            unqueue.execute(&mut *tx).await?;
            tx.commit().await?;
            if (due.len() as i64) < ERASE_BATCH {
                return Ok(erased);
            }
        }
    }
}

/// Queue `closed` orders (id → when their closing entry was logged, ms) for erasure, keeping
/// the later time of an order queued twice.
async fn queue_erasures(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    closed: &BTreeMap<String, i64>,
) -> crate::Result<()> {
    if closed.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..closed.len())
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "INSERT INTO personal_data_due (order_id, closed_at) VALUES {}
         ON CONFLICT (order_id) DO UPDATE SET closed_at = CASE
            WHEN excluded.closed_at > personal_data_due.closed_at THEN excluded.closed_at
            ELSE personal_data_due.closed_at END",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for (id, at) in closed {
        q = q.bind(id).bind(*at);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// `json` (a stored view) with its delivery address and coordinates erased and the erasure
/// marked, or `None` when it must stay as it is: already erased, not closed, or a refund
/// still owed (the workflow still runs and will project its settlement).
fn erased_view(json: &str, now: &str) -> crate::Result<Option<String>> {
    if json.contains(&format!("\"{ERASED_MARK}\":")) {
        return Ok(None);
    }
    let mut view: OrderView = serde_json::from_str(json).map_err(crate::Error::decode)?;
    let refund_pending = view.refund.as_ref().is_some_and(|r| r.status == "pending");
    if !view.status.is_terminal() || refund_pending {
        return Ok(None);
    }
    // The district stays (orders per district); the street address and the point go.
    view.delivery.address = String::new();
    view.delivery.lat = 0.0;
    view.delivery.lon = 0.0;
    let mut out = serde_json::to_string(&view).map_err(crate::Error::encode)?;
    // The mark goes beside the view's own fields, which keep their order (the status read
    // answers the stored text as it is, and searches it for a pending refund).
    debug_assert!(out.ends_with('}'));
    out.pop();
    out.push_str(&format!(",\"{ERASED_MARK}\":\"{now}\"}}"));
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::view;
    use baedal_domain::{OrderStatus as S, RefundView};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Every horizon at `at` (nothing is kept before it).
    fn all_before(at: &str) -> Horizons {
        let at = t(at);
        Horizons {
            change_log: at,
            personal_data: at,
            ops_records: at,
            idempotency_keys: at,
            rider_positions: at,
            breakers: at,
        }
    }

    /// Long ago: nothing goes.
    fn nothing() -> Horizons {
        all_before("2000-01-01T00:00:00Z")
    }

    /// Later than the database's clock, which dates the entries projections log.
    const NOW: &str = "2099-06-01T00:00:00Z";

    async fn rows(rm: &ReadModel, sql: &str) -> i64 {
        sqlx::query(sql).fetch_one(rm.pool()).await.unwrap().get(0)
    }

    async fn log(rm: &ReadModel, order: &str, status: &str, logged_at: i64) {
        sqlx::query(
            "INSERT INTO order_log (order_id, version, seq, status, store_id, logged_at)
             VALUES ($1, $2, 1, $3, 'st_1', $2)",
        )
        .bind(order)
        .bind(logged_at)
        .bind(status)
        .execute(rm.pool())
        .await
        .unwrap();
    }

    /// An entry of the first form of the change log, as the previous release appended it.
    async fn legacy(rm: &ReadModel, v: &baedal_domain::OrderView) {
        sqlx::query(
            "INSERT INTO order_changes (order_id, version, seq, status, store_id, at, view)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&v.id)
        .bind(v.version as i64)
        .bind(v.seq as i64)
        .bind(v.status.as_str())
        .bind(&v.store_id)
        .bind(&v.updated_at)
        .bind(serde_json::to_string(v).unwrap())
        .execute(rm.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_change_log_keeps_only_its_horizon_and_queues_closed_orders_as_they_leave() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // Legacy log (as the previous release wrote it): one entry per version, at the view's
        // time (00:00:0<seq>); the cut is at the first entry inside the horizon, by position.
        let mut views = vec![view("o2", 2, S::Completed, 37.5)];
        views.extend((1..=4).map(|seq| view("o1", seq, S::Cooking, 37.5)));
        views.push(view("o3", 1, S::Canceled, 37.5));
        for v in &views {
            rm.project(v).await.unwrap();
            legacy(&rm, v).await;
        }
        // This release's entries for them are the database's now: set aside here, the narrow
        // log below is written by hand.
        sqlx::query("DELETE FROM order_log")
            .execute(rm.pool())
            .await
            .unwrap();
        // The narrow log, by the database's clock: 2,500 entries past the horizon (more than
        // two batches) and two inside it.
        let horizon = t("2026-01-01T00:00:03Z").timestamp_millis();
        for i in 0..2500 {
            let status = if i % 500 == 0 { "completed" } else { "cooking" };
            log(&rm, &format!("n{}", i % 700), status, horizon - 10_000 + i).await;
        }
        log(&rm, "n1", "canceled", horizon).await;
        log(&rm, "n2", "cooking", horizon + 1).await;

        let mut h = nothing();
        h.change_log = t("2026-01-01T00:00:03Z");
        let pruned = rm.prune(&h, t(NOW)).await.unwrap();
        assert_eq!(pruned.get("order_log"), 2500);
        assert_eq!(
            pruned.get("order_changes"),
            2 + 1,
            "o2, then o1's versions 1 and 2: o3 (at :01) waits behind o1's third"
        );
        assert_eq!(rows(&rm, "SELECT COUNT(*) FROM order_log").await, 2);
        let left: Vec<i64> = sqlx::query("SELECT version FROM order_changes ORDER BY pos")
            .fetch_all(rm.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(left, [3, 4, 1], "o1 from :03 on, and o3 after it");
        // The closed orders whose entries left the log, and only they, wait for erasure.
        let queued: Vec<String> =
            sqlx::query("SELECT order_id FROM personal_data_due ORDER BY order_id")
                .fetch_all(rm.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
        assert_eq!(queued, ["n0", "n100", "n300", "n500", "n600", "o2"]);
        // Pruning again finds nothing more; nor does a horizon before everything.
        assert_eq!(rm.prune(&h, t(NOW)).await.unwrap().total(), 0);
        assert_eq!(rm.prune(&nothing(), t(NOW)).await.unwrap().total(), 0);
    }

    /// Pruners side by side (every worker replica prunes) neither fail nor repeat each other:
    /// measured in review, three of them deadlocked on the erasure queue. On PostgreSQL one
    /// prunes and the others skip their round while it holds the pruner lock.
    #[tokio::test]
    async fn pruners_side_by_side_neither_fail_nor_repeat_each_other() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let n = 3 * ERASE_BATCH as usize;
        let views: Vec<_> = (0..n)
            .map(|i| view(&format!("p{i:04}"), 6, S::Completed, 37.5))
            .collect();
        rm.project_many(&views).await.unwrap();
        let mut h = nothing();
        h.change_log = t(NOW);
        h.personal_data = t(NOW);
        if rm.dialect() == baedal_db::Dialect::Postgres {
            // Another pruner's turn: this round is skipped, nothing is touched.
            let mut other = rm.pool().acquire().await.unwrap();
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(PRUNER_LOCK)
                .execute(&mut *other)
                .await
                .unwrap();
            assert_eq!(rm.prune(&h, t(NOW)).await.unwrap().total(), 0);
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(PRUNER_LOCK)
                .execute(&mut *other)
                .await
                .unwrap();
        }
        let (a, b, c) = tokio::join!(
            rm.prune(&h, t(NOW)),
            rm.prune(&h, t(NOW)),
            rm.prune(&h, t(NOW))
        );
        let erased: u64 = [a, b, c]
            .into_iter()
            .map(|r| {
                r.expect("a pruner beside others")
                    .get("orders_personal_data")
            })
            .sum();
        assert_eq!(erased, n as u64, "each order erased once");
        assert_eq!(rows(&rm, "SELECT COUNT(*) FROM personal_data_due").await, 0);
    }

    /// More closed orders than a batch holds are all erased in one prune, batch after batch,
    /// and those still open in between are left as they are.
    #[tokio::test]
    async fn erasure_goes_through_every_batch() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let n = 2 * ERASE_BATCH as usize + 7;
        let views: Vec<_> = (0..n)
            .map(|i| {
                let status = if i % 50 == 0 {
                    S::Cooking
                } else {
                    S::Completed
                };
                let mut v = view(&format!("o{i:04}"), 6, status, 37.5);
                v.delivery.address = format!("서울 강남구 테헤란로 {i}");
                v
            })
            .collect();
        rm.project_many(&views).await.unwrap();
        let mut h = nothing();
        h.change_log = t(NOW);
        h.personal_data = t(NOW);
        let pruned = rm.prune(&h, t(NOW)).await.unwrap();
        let open = n.div_ceil(50);
        assert_eq!(
            pruned.get("orders_personal_data"),
            (n - open) as u64,
            "{pruned}"
        );
        for v in &views {
            let stored = rm.get_order(&v.id).await.unwrap().unwrap();
            assert_eq!(
                stored.delivery.address.is_empty(),
                v.status.is_terminal(),
                "{}",
                v.id
            );
        }
        assert_eq!(rows(&rm, "SELECT COUNT(*) FROM personal_data_due").await, 0);
    }

    #[tokio::test]
    async fn closed_orders_lose_their_address_once_and_nothing_writes_it_back() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let mut done = view("done", 6, S::Completed, 37.5);
        done.delivery.address = "서울 강남구 테헤란로 427, 1203호".into();
        done.rider_id = Some("rd_1".into());
        let open = view("open", 3, S::Cooking, 37.5);
        let mut owed = view("owed", 2, S::Canceled, 37.5);
        owed.refund = Some(RefundView {
            id: String::new(),
            status: "pending".into(),
            amount: 5000,
            attempts: None,
            last_error: None,
        });
        let bad = view("bad", 2, S::Completed, 37.5);
        for v in [&done, &open, &owed, &bad] {
            rm.project(v).await.unwrap();
        }
        // A stored view that no longer decodes is skipped (and logged), never a stuck pruning.
        sqlx::query("UPDATE orders SET view = 'not a view' WHERE id = 'bad'")
            .execute(rm.pool())
            .await
            .unwrap();
        // Everything leaves the log (queued), but the personal-data horizon is not reached.
        let mut h = nothing();
        h.change_log = t(NOW);
        rm.prune(&h, t(NOW)).await.unwrap();
        assert_eq!(rm.get_order("done").await.unwrap().unwrap(), done);
        // Then it is.
        let pruned = rm.prune(&all_before(NOW), t(NOW)).await.unwrap();
        assert_eq!(
            pruned.get("orders_personal_data"),
            1,
            "only the closed order"
        );
        assert_eq!(rows(&rm, "SELECT COUNT(*) FROM personal_data_due").await, 0);
        let erased = rm.get_order("done").await.unwrap().unwrap();
        assert_eq!(erased.delivery.address, "");
        assert_eq!((erased.delivery.lat, erased.delivery.lon), (0.0, 0.0));
        assert_eq!(
            erased.delivery.region, done.delivery.region,
            "the district stays"
        );
        // What the ledger, reconcile and the customer's list need stays.
        assert_eq!(
            (
                erased.status,
                erased.total,
                &erased.payment,
                &erased.items,
                &erased.rider_id
            ),
            (
                done.status,
                done.total,
                &done.payment,
                &done.items,
                &done.rider_id
            )
        );
        assert_eq!(erased.history, done.history);
        assert_eq!(rm.order_events("done").await.unwrap().len(), 6);
        let doc = rm.order_document("done").await.unwrap().unwrap();
        assert!(!doc.json.contains("테헤란로"), "{}", doc.json);
        assert!(
            doc.json
                .contains(&format!("\"{ERASED_MARK}\":\"2099-06-01T00:00:00.000Z\"")),
            "{}",
            doc.json
        );
        assert_eq!(rm.get_order("open").await.unwrap().unwrap(), open);
        assert_eq!(rm.get_order("owed").await.unwrap().unwrap(), owed);

        // The same version again (a redone step), an older one (a late projection), a rebuild
        // from what is left of the log, and a reconcile repair: none brings the address back.
        assert!(!rm.project(&done).await.unwrap());
        assert!(
            !rm.project(&view("done", 5, S::Delivered, 37.5))
                .await
                .unwrap()
        );
        assert!(!rm.repair(&done, Some(6)).await.unwrap());
        rm.rebuild().await.unwrap();
        assert_eq!(
            rm.get_order("done")
                .await
                .unwrap()
                .unwrap()
                .delivery
                .address,
            ""
        );
        assert!(
            !rm.held_by_other_run(&done).await.unwrap(),
            "the projection counts it as done, not as another run's"
        );
        let erased = rm.get_order("done").await.unwrap().unwrap();
        assert_eq!(
            baedal_domain::reconcile::drift(Some(&erased), &done),
            None,
            "reconcile sees no drift in an erased order, so it repairs nothing"
        );
        // Done once: the next prune erases nothing, and the open order, once closed and past
        // the horizon, is erased in its turn.
        assert_eq!(
            rm.prune(&all_before(NOW), t(NOW))
                .await
                .unwrap()
                .get("orders_personal_data"),
            0
        );
        rm.project(&view("open", 4, S::Rejected, 37.5))
            .await
            .unwrap();
        let pruned = rm.prune(&all_before(NOW), t(NOW)).await.unwrap();
        assert_eq!(pruned.get("orders_personal_data"), 1);
        assert_eq!(
            rm.get_order("open")
                .await
                .unwrap()
                .unwrap()
                .delivery
                .address,
            ""
        );
    }

    #[tokio::test]
    async fn keys_go_after_their_margin_and_a_gone_key_of_a_kept_order_is_too_old() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.remember_idempotency_key("o_old", "c1", "h1", "2026-01-01T00:00:00.000Z")
            .await
            .unwrap();
        rm.remember_idempotency_key("o_new", "c1", "h2", "2026-01-03T00:00:00.000Z")
            .await
            .unwrap();
        rm.project(&view("o_old", 6, S::Completed, 37.5))
            .await
            .unwrap();
        let mut h = nothing();
        h.idempotency_keys = t("2026-01-02T00:00:00Z");
        let pruned = rm.prune(&h, t(NOW)).await.unwrap();
        assert_eq!(pruned.get("idempotency_keys"), 1);
        assert!(rm.idempotency_key("o_old").await.unwrap().is_none());
        assert!(rm.idempotency_key("o_new").await.unwrap().is_some());
        // The key is used again: it comes back as first used when its order was placed, and
        // started, so the api refuses it as too old rather than starting a second run.
        let again = rm
            .remember_idempotency_key("o_old", "c1", "other", "2026-06-01T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(again.first_seen_at, "2026-01-01T00:00:00Z");
        assert!(again.started);
    }

    #[tokio::test]
    async fn settled_refunds_old_alerts_stale_positions_and_silent_breakers_go() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let (old, new) = ("2026-01-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z");
        rm.record_refund_attempt("settled", 1, 1, None, old)
            .await
            .unwrap();
        rm.record_refund_attempt("pending", 1, 1, Some("PSP 503"), old)
            .await
            .unwrap();
        rm.record_refund_attempt("recent", 1, 1, None, new)
            .await
            .unwrap();
        rm.mark_stuck_alerted("a", 1, old).await.unwrap();
        rm.mark_stuck_alerted("b", 1, new).await.unwrap();
        for (rider, at) in [("r_old", old), ("r_new", new)] {
            let at = at.to_owned();
            rm.save_rider_location(
                rider,
                &crate::RiderLocation {
                    lat: 1.0,
                    lon: 1.0,
                    at,
                },
            )
            .await
            .unwrap();
        }
        let body = serde_json::json!({"state": "closed"});
        rm.publish_breaker("w_old", &body, old, "2000-01-01T00:00:00Z")
            .await
            .unwrap();
        rm.publish_breaker("w_new", &body, new, "2000-01-01T00:00:00Z")
            .await
            .unwrap();

        let pruned = rm
            .prune(&all_before("2026-02-01T00:00:00Z"), t(NOW))
            .await
            .unwrap();
        for table in ["refunds", "stuck_alerts", "rider_locations", "ops_status"] {
            assert_eq!(pruned.get(table), 1, "{table}: {pruned}");
        }
        assert!(rm.refund_progress("settled").await.unwrap().is_none());
        assert!(
            rm.refund_progress("pending").await.unwrap().is_some(),
            "a refund still owed is never pruned"
        );
        assert!(rm.refund_progress("recent").await.unwrap().is_some());
        assert_eq!(rows(&rm, "SELECT COUNT(*) FROM stuck_alerts").await, 1);
        assert!(rm.rider_location("r_old").await.unwrap().is_none());
        assert!(rm.rider_location("r_new").await.unwrap().is_some());
        let live = rm.live_breakers("2000-01-01T00:00:00Z").await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].worker, "w_new");
    }

    #[tokio::test]
    async fn what_prunes_is_read_through_an_index_or_from_the_start_of_the_key() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let plans = [
            (
                "SELECT order_id FROM idempotency_keys WHERE first_seen_at < 'x'
                 ORDER BY first_seen_at LIMIT 10",
                "idempotency_keys_first_seen",
            ),
            (
                "SELECT order_id FROM personal_data_due WHERE closed_at < 5
                 ORDER BY closed_at LIMIT 10",
                "personal_data_due_closed",
            ),
            (
                "SELECT rider_id FROM rider_locations WHERE at < 'x' ORDER BY at LIMIT 10",
                "rider_locations_at",
            ),
            (
                "SELECT order_id FROM refunds WHERE status = 'succeeded' AND settled_at < 'x'
                 ORDER BY settled_at LIMIT 10",
                "refunds_settled",
            ),
        ];
        for (sql, index) in plans {
            let plan = crate::orders::tests::plan(&rm, sql).await;
            assert!(plan.contains(index), "{sql}: {plan}");
        }
        for table in ["order_log", "order_changes"] {
            let plan = crate::orders::tests::plan(
                &rm,
                &format!("SELECT pos FROM {table} ORDER BY pos LIMIT 10"),
            )
            .await;
            // In key order, with no sort of the whole table first.
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
                "{table}: {plan}"
            );
        }
    }
}
