//! Re-deriving the orders view's columns and event log from each order's stored view: every
//! column the reads filter and sort by (`orders`' status, active, owners, region, rider,
//! pickup, radius bonus, ...) and `order_events` come from the view (JSON of `OrderView`), the
//! one thing the projection writes whole. For a damaged row, a lost event log, or a new column
//! filled from the views: `baedal readmodel rebuild`.
//!
//! The change log holds no views (and keeps only a retention horizon), so an order whose row
//! is lost altogether is not rebuilt here: `baedal reconcile` compares the read model with the
//! engine and writes the engine's view back.

use crate::db::ReadModel;
use crate::orders::{Guard, upsert, write_history};
use baedal_domain::OrderView;
use sqlx::Row;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rebuilt {
    /// Orders read.
    pub orders: u64,
    /// Orders whose columns or events were rewritten from their view.
    pub rewritten: u64,
    /// Orders whose stored view does not decode (logged and left alone: `baedal reconcile`
    /// writes the engine's view back).
    pub undecodable: u64,
}

const BATCH: i64 = 500;

impl ReadModel {
    /// Re-derive every order's columns and event log from its stored view, in batches by id,
    /// each in one short transaction that writes only what differs. Idempotent, and safe
    /// beside a running projection.
    pub async fn rebuild(&self) -> crate::Result<Rebuilt> {
        let mut done = Rebuilt::default();
        let mut after = String::new();
        // PostgreSQL: the batch's rows are locked until its commit, so a projection of one of
        // them waits for it instead of landing between the read and the rewrite. (SQLite: a
        // write landing in between makes the rewrite fail as busy; run it again.)
        let lock = match self.dialect() {
            baedal_db::Dialect::Postgres => "FOR UPDATE",
            baedal_db::Dialect::Sqlite => "",
        };
        let sql = format!("SELECT id, view FROM orders WHERE id > $1 ORDER BY id LIMIT $2 {lock}");
        loop {
            let mut tx = self.pool().begin().await?;
            let rows = sqlx::query(&sql)
                .bind(&after)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.get("id");
            for r in &rows {
                done.orders += 1;
                let id: String = r.get("id");
                let json: String = r.get("view");
                let view: OrderView = match serde_json::from_str(&json) {
                    Ok(v) => v,
                    Err(e) => {
                        done.undecodable += 1;
                        tracing::warn!(order_id = %id, error = %e, "order's stored view does not decode; left alone (`baedal reconcile` writes the engine's view back)");
                        continue;
                    }
                };
                // The row's own view text, unchanged, so the guard matches exactly this row
                // (and writes only when a column differs from it).
                let mut changed = upsert(&mut tx, &view, &json, Guard::SameView).await?;
                if !changed {
                    changed = write_history(&mut tx, &view).await? > 0;
                }
                // Entries past the view's history belong to no step the view knows.
                let extra =
                    sqlx::query("DELETE FROM order_events WHERE order_id = $1 AND seq > $2")
                        .bind(&view.id)
                        .bind(view.history.iter().map(|h| h.seq).max().unwrap_or(0) as i64)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                changed |= extra > 0;
                done.rewritten += u64::from(changed);
            }
            tx.commit().await?;
            tokio::task::yield_now().await;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use crate::ReadModel;
    use crate::orders::tests::view;
    use baedal_domain::OrderStatus as S;
    use sqlx::Row;

    /// Every row of the orders view and the event log, every column, as text.
    async fn dump(rm: &ReadModel) -> Vec<String> {
        let mut out = Vec::new();
        for sql in [
            "SELECT id, version, seq, status, active, customer_id, store_id, region, rider_id,
                    pickup_lat, pickup_lon, radius_bonus_km, total, created_at, updated_at, view
               FROM orders ORDER BY id",
            "SELECT order_id, seq, status, at, reason FROM order_events ORDER BY order_id, seq",
        ] {
            for r in sqlx::query(sql).fetch_all(rm.pool()).await.unwrap() {
                let cols: Vec<String> = (0..r.len())
                    .map(|i| {
                        r.try_get::<String, _>(i)
                            .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                            .or_else(|_| r.try_get::<f64, _>(i).map(|v| v.to_string()))
                            .or_else(|_| {
                                r.try_get::<Option<String>, _>(i).map(|v| format!("{v:?}"))
                            })
                            .unwrap()
                    })
                    .collect();
                out.push(cols.join("|"));
            }
        }
        out
    }

    #[tokio::test]
    async fn a_lost_event_log_and_damaged_columns_are_re_derived_from_each_orders_view() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // Each step's history as the workflow writes it: an entry per status so far.
        let steps = [
            S::Accepted,
            S::Cooking,
            S::ReadyForPickup,
            S::RiderAssigned,
            S::PickedUp,
            S::Completed,
        ];
        let at_step = |id: &str, seq: u32| {
            let mut v = view(id, seq, steps[seq as usize - 1], 37.5);
            for (h, status) in v.history.iter_mut().zip(steps) {
                h.status = status;
            }
            if seq >= 4 {
                v.rider_id = Some("r1".into());
            }
            v
        };
        for (id, last) in [("o1", 4), ("o2", 2), ("o3", 6)] {
            for seq in 1..=last {
                rm.project(&at_step(id, seq)).await.unwrap();
            }
        }
        // A refund-style change: a new version at the same seq.
        let mut late = at_step("o2", 2);
        late.version = 3;
        late.search_radius_bonus_km = 2.0;
        rm.project(&late).await.unwrap();
        let before = dump(&rm).await;
        assert_eq!(
            before.len(),
            3 + (4 + 2 + 6),
            "three orders and their twelve events"
        );
        let sound = rm.rebuild().await.unwrap();
        assert_eq!(
            (sound.orders, sound.rewritten),
            (3, 0),
            "a sound table: nothing written"
        );

        // The event log lost, a row's columns damaged, and an entry no step of its view knows.
        sqlx::query("DELETE FROM order_events")
            .execute(rm.pool())
            .await
            .unwrap();
        sqlx::query(
            "UPDATE orders SET status = 'cooking', active = 1, region = 'mapo', rider_id = NULL,
                    radius_bonus_km = 9 WHERE id = 'o3'",
        )
        .execute(rm.pool())
        .await
        .unwrap();
        sqlx::query("INSERT INTO order_events (order_id, seq, status, at) VALUES ('o1', 9, 'canceled', 'x')")
            .execute(rm.pool())
            .await
            .unwrap();
        let done = rm.rebuild().await.unwrap();
        assert_eq!((done.orders, done.rewritten, done.undecodable), (3, 3, 0));
        assert_eq!(dump(&rm).await, before);
        let again = rm.rebuild().await.unwrap();
        assert_eq!(again.rewritten, 0, "a second rebuild changes nothing");
        assert_eq!(dump(&rm).await, before);

        // A view that does not decode is counted and left alone; the others are still done.
        sqlx::query("UPDATE orders SET view = 'not a view' WHERE id = 'o2'")
            .execute(rm.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM order_events WHERE order_id = 'o3'")
            .execute(rm.pool())
            .await
            .unwrap();
        let done = rm.rebuild().await.unwrap();
        assert_eq!((done.orders, done.rewritten, done.undecodable), (3, 1, 1));
        assert_eq!(rm.order_events("o3").await.unwrap().len(), 6);
    }
}
