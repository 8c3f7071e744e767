//! Rebuilding the orders view (`orders`, `order_events`) from the change log, which holds
//! every version the projection ever stored. For a lost or damaged view, or a new column
//! filled from the views: `baedal readmodel rebuild`.

use crate::changes::Changes;
use crate::db::ReadModel;
use crate::orders::{Guard, upsert};

/// What a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rebuilt {
    /// Changes read from the log.
    pub changes: u64,
    /// Orders the log holds (each now at its newest logged version).
    pub orders: u64,
}

const BATCH: u32 = 1000;

impl ReadModel {
    /// Replay the change log into the orders view, oldest first, each batch in one
    /// transaction. Every order ends at the newest version the log holds, rewritten from it
    /// even where a row at that version exists; rows the log never held are left alone.
    /// Idempotent, and safe beside a running projection (both only move an order forward).
    pub async fn rebuild(&self) -> crate::Result<Rebuilt> {
        let mut done = Rebuilt::default();
        let mut after = 0;
        loop {
            let batch = self.changes_after(after, Changes::All, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            let mut tx = self.pool().begin().await?;
            for c in &batch {
                let json = serde_json::to_string(&c.order).map_err(crate::Error::encode)?;
                upsert(&mut tx, &c.order, &json, Guard::NewerOrSame).await?;
            }
            tx.commit().await?;
            done.changes += batch.len() as u64;
            after = batch.last().map_or(after, |c| c.pos);
        }
        let row = sqlx::query("SELECT COUNT(DISTINCT order_id) AS n FROM order_changes")
            .fetch_one(self.pool())
            .await?;
        done.orders = sqlx::Row::get::<i64, _>(&row, "n") as u64;
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
    async fn a_dropped_orders_view_rebuilds_row_for_row_and_rebuilding_again_changes_nothing() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // The keys that placed them: a rebuild must keep them, or a retried place-order could
        // start a second lifecycle under a known key.
        for id in ["o1", "o2", "o3"] {
            rm.remember_idempotency_key(id, "c1", "h", "2026-01-01T00:00:00.000Z")
                .await
                .unwrap();
        }
        for (id, steps) in [("o1", 4), ("o2", 2), ("o3", 6)] {
            for seq in 1..=steps {
                let status = [
                    S::Accepted,
                    S::Cooking,
                    S::ReadyForPickup,
                    S::RiderAssigned,
                    S::PickedUp,
                    S::Completed,
                ][seq as usize - 1];
                let mut v = view(id, seq, status, 37.5);
                if seq >= 4 {
                    v.rider_id = Some("r1".into());
                }
                rm.project(&v).await.unwrap();
            }
        }
        // A refund-style change: a new version at the same seq.
        let mut late = view("o2", 2, S::Cooking, 37.5);
        late.version = 3;
        late.search_radius_bonus_km = 2.0;
        rm.project(&late).await.unwrap();
        let before = dump(&rm).await;
        assert_eq!(
            before.len(),
            3 + (4 + 2 + 6),
            "three orders and their twelve events"
        );

        sqlx::query("DELETE FROM orders")
            .execute(rm.pool())
            .await
            .unwrap();
        sqlx::query("DELETE FROM order_events")
            .execute(rm.pool())
            .await
            .unwrap();
        let done = rm.rebuild().await.unwrap();
        assert_eq!((done.orders, done.changes), (3, 4 + 3 + 6));
        assert_eq!(dump(&rm).await, before);

        // Damage a row: a rebuild puts it back; a second rebuild changes nothing.
        sqlx::query("UPDATE orders SET status = 'cooking', active = 1 WHERE id = 'o3'")
            .execute(rm.pool())
            .await
            .unwrap();
        rm.rebuild().await.unwrap();
        rm.rebuild().await.unwrap();
        assert_eq!(dump(&rm).await, before);
        for id in ["o1", "o2", "o3"] {
            assert!(
                rm.idempotency_key(id).await.unwrap().is_some(),
                "{id}'s key survives"
            );
        }
    }
}
