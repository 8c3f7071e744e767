//! Stuck orders: open orders that have sat in one status too long, for ops to look at and be
//! alerted about once. Served from the `orders_open_since` partial index.

use crate::db::ReadModel;
use baedal_domain::OrderStatus;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// An open order that has not moved since `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckOrder {
    pub id: String,
    pub status: OrderStatus,
    /// When the order reached its status (RFC 3339).
    pub since: String,
    /// Sequence number of that status in the order's history.
    pub seq: u32,
    pub store_id: String,
    pub customer_id: String,
    pub total: i64,
    /// Set when what is stuck is the order's refund, not its status: the order is closed
    /// (rejected, canceled) and the money owed back has not reached the customer since
    /// `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<crate::RefundProgress>,
}

/// The condition the partial index is built on: written once, used by every query here.
const OPEN: &str = "status NOT IN ('completed', 'rejected', 'canceled', 'payment_failed')";

fn stuck_from_row(r: &sqlx::any::AnyRow) -> crate::Result<StuckOrder> {
    let status: String = r.get("status");
    Ok(StuckOrder {
        id: r.get("id"),
        status: status.parse().map_err(crate::Error::decode)?,
        since: r.get("updated_at"),
        seq: r.get::<i64, _>("seq") as u32,
        store_id: r.get("store_id"),
        customer_id: r.get("customer_id"),
        total: r.get("total"),
        refund: None,
    })
}

impl ReadModel {
    /// Open orders in their status since before `before` (RFC 3339), oldest first.
    pub async fn stuck_orders(&self, before: &str, limit: u32) -> crate::Result<Vec<StuckOrder>> {
        self.stuck(before, limit, "").await
    }

    /// Like [`Self::stuck_orders`], but only those whose current status ops have not been
    /// alerted about yet.
    pub async fn stuck_orders_unalerted(
        &self,
        before: &str,
        limit: u32,
    ) -> crate::Result<Vec<StuckOrder>> {
        self.stuck(
            before,
            limit,
            "AND NOT EXISTS (SELECT 1 FROM stuck_alerts a
                              WHERE a.order_id = orders.id AND a.seq = orders.seq)",
        )
        .await
    }

    async fn stuck(&self, before: &str, limit: u32, and: &str) -> crate::Result<Vec<StuckOrder>> {
        let rows = sqlx::query(&format!(
            "SELECT id, status, updated_at, seq, store_id, customer_id, total FROM orders
             WHERE {OPEN} AND updated_at < $1 {and} ORDER BY updated_at, id LIMIT $2"
        ))
        .bind(before)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(stuck_from_row).collect()
    }

    /// Open orders in `status`, longest in it first: ops' list by status. Walks the
    /// `orders_open_since` partial index in order, so only open orders are read however many
    /// closed ones pile up.
    pub async fn open_in_status(
        &self,
        status: OrderStatus,
        limit: u32,
    ) -> crate::Result<Vec<StuckOrder>> {
        let rows = sqlx::query(&format!(
            "SELECT id, status, updated_at, seq, store_id, customer_id, total FROM orders
             WHERE {OPEN} AND status = $1 ORDER BY updated_at, id LIMIT $2"
        ))
        .bind(status.as_str())
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(stuck_from_row).collect()
    }

    /// How many open orders each open status holds (statuses with none are absent): ops'
    /// live counts. Reads the open orders only (the partial index), never the closed ones.
    pub async fn open_counts(&self) -> crate::Result<Vec<(OrderStatus, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT status, COUNT(*) AS n FROM orders WHERE {OPEN} GROUP BY status"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.get("status");
                Ok((status.parse().map_err(crate::Error::decode)?, r.get("n")))
            })
            .collect()
    }

    /// Closed orders whose refund is owed since before `before` and not confirmed, oldest
    /// first; with `unalerted`, only those ops have not been alerted about. Served by the
    /// `refunds_pending` partial index.
    pub async fn stuck_refunds(
        &self,
        before: &str,
        limit: u32,
        unalerted: bool,
    ) -> crate::Result<Vec<StuckOrder>> {
        let pending = self.pending_refunds(before, limit, unalerted).await?;
        let mut out = Vec::with_capacity(pending.len());
        for refund in pending {
            let row = sqlx::query(
                "SELECT id, status, updated_at, seq, store_id, customer_id, total FROM orders
                 WHERE id = $1",
            )
            .bind(&refund.order_id)
            .fetch_optional(self.pool())
            .await?;
            // A refund of an attempt that never became an order (an expired payment attempt)
            // has no order to list; ops' payment health counts it.
            let Some(row) = row else { continue };
            let mut o = stuck_from_row(&row)?;
            o.since = refund.owed_since.clone();
            o.refund = Some(refund);
            out.push(o);
        }
        Ok(out)
    }

    /// Record that ops were alerted about `order_id` stuck at `seq`. Idempotent.
    pub async fn mark_stuck_alerted(
        &self,
        order_id: &str,
        seq: u32,
        at: &str,
    ) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO stuck_alerts (order_id, seq, alerted_at) VALUES ($1, $2, $3)
             ON CONFLICT (order_id, seq) DO NOTHING",
        )
        .bind(order_id)
        .bind(seq as i64)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ReadModel;
    use crate::orders::tests::view;
    use baedal_domain::OrderStatus as S;

    #[tokio::test]
    async fn stuck_lists_open_orders_oldest_first_and_alerts_each_status_once() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // view(id, seq, ...) moves at 2026-01-01T00:00:0<seq>Z.
        rm.project(&view("old", 1, S::Cooking, 37.5)).await.unwrap();
        rm.project(&view("older", 1, S::Accepted, 37.5))
            .await
            .unwrap();
        rm.project(&view("done", 1, S::Completed, 37.5))
            .await
            .unwrap();
        rm.project(&view("fresh", 5, S::PickedUp, 37.5))
            .await
            .unwrap();
        let cutoff = "2026-01-01T00:00:03Z";
        let ids = |v: Vec<crate::StuckOrder>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
        let stuck = ids(rm.stuck_orders(cutoff, 10).await.unwrap());
        assert_eq!(
            stuck,
            vec!["old", "older"],
            "open, before the cutoff, oldest first (then id)"
        );
        assert_eq!(ids(rm.stuck_orders(cutoff, 1).await.unwrap()), vec!["old"]);

        assert_eq!(
            rm.stuck_orders_unalerted(cutoff, 10).await.unwrap().len(),
            2
        );
        rm.mark_stuck_alerted("old", 1, "t").await.unwrap();
        rm.mark_stuck_alerted("old", 1, "t").await.unwrap();
        assert_eq!(
            ids(rm.stuck_orders_unalerted(cutoff, 10).await.unwrap()),
            vec!["older"]
        );
        // Moving on to another status makes it alertable again if it sticks there too.
        rm.project(&view("old", 2, S::ReadyForPickup, 37.5))
            .await
            .unwrap();
        let later = "2026-01-01T00:00:09Z";
        let again = rm.stuck_orders_unalerted(later, 10).await.unwrap();
        assert!(again.iter().any(|o| o.id == "old" && o.seq == 2));
    }

    #[tokio::test]
    async fn ops_count_and_list_open_orders_by_status_and_never_closed_ones() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.project(&view("a", 2, S::Cooking, 37.5)).await.unwrap();
        rm.project(&view("b", 1, S::Cooking, 37.5)).await.unwrap();
        rm.project(&view("c", 1, S::Placed, 37.5)).await.unwrap();
        rm.project(&view("d", 1, S::Completed, 37.5)).await.unwrap();
        let mut counts = rm.open_counts().await.unwrap();
        counts.sort_by_key(|(s, _)| s.as_str());
        assert_eq!(counts, vec![(S::Cooking, 2), (S::Placed, 1)]);
        let cooking: Vec<_> = rm
            .open_in_status(S::Cooking, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(cooking, vec!["b", "a"], "longest in the status first");
        assert_eq!(rm.open_in_status(S::Cooking, 1).await.unwrap().len(), 1);
        assert!(
            rm.open_in_status(S::Completed, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // As in production, closed orders outnumber the open ones by far: the list then reads
        // the open orders' index, never the closed ones (on a table of four rows a planner may
        // pick any index).
        for i in 0..300 {
            rm.project(&view(&format!("closed-{i:03}"), 1, S::Completed, 37.5))
                .await
                .unwrap();
        }
        sqlx::query("ANALYZE orders")
            .execute(rm.pool())
            .await
            .unwrap();
        let plan = crate::orders::tests::plan(
            &rm,
            &format!(
                "SELECT id FROM orders WHERE {} AND status = 'cooking'
                 ORDER BY updated_at, id LIMIT 10",
                super::OPEN
            ),
        )
        .await;
        assert!(plan.contains("orders_open_since"), "{plan}");
    }

    #[tokio::test]
    async fn the_stuck_list_is_served_by_the_open_orders_index() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let plan = crate::orders::tests::plan(
            &rm,
            &format!(
                "SELECT id FROM orders WHERE {} AND updated_at < 'x'
                 ORDER BY updated_at, id LIMIT 10",
                super::OPEN
            ),
        )
        .await;
        assert!(plan.contains("orders_open_since"), "{plan}");
    }
}
