//! The change log: every new version of an order's view, by commit position. Live status
//! streams replay it from a client's `Last-Event-ID` and follow it (see [`crate::follow`]);
//! `baedal readmodel rebuild` rebuilds the orders view from it.

use crate::db::ReadModel;
use crate::orders::decode;
use baedal_domain::OrderView;
use sqlx::Row;

/// One new version of an order, at its position in the log (the SSE event id).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub pos: i64,
    pub order: OrderView,
}

/// Which changes a reader wants.
#[derive(Debug, Clone, Copy)]
pub enum Changes<'a> {
    All,
    Order(&'a str),
    Store(&'a str),
}

impl ReadModel {
    /// Up to `limit` changes after position `after`, oldest first.
    pub async fn changes_after(
        &self,
        after: i64,
        which: Changes<'_>,
        limit: u32,
    ) -> crate::Result<Vec<Change>> {
        let (cond, key) = match which {
            Changes::All => ("", None),
            Changes::Order(id) => ("AND order_id = $3", Some(id)),
            Changes::Store(id) => ("AND store_id = $3", Some(id)),
        };
        let sql = format!(
            "SELECT pos, view FROM order_changes WHERE pos > $1 {cond} ORDER BY pos LIMIT $2"
        );
        let q = sqlx::query(&sql).bind(after).bind(limit as i64);
        let q = match key {
            Some(k) => q.bind(k),
            None => q,
        };
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    pos: r.get("pos"),
                    order: decode(r)?,
                })
            })
            .collect()
    }

    /// The latest change of one order (its current view and the position it was logged at).
    pub async fn latest_change(&self, order_id: &str) -> crate::Result<Option<Change>> {
        let row = sqlx::query(
            "SELECT pos, view FROM order_changes WHERE order_id = $1 ORDER BY pos DESC LIMIT 1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Change {
                pos: r.get("pos"),
                order: decode(&r)?,
            })
        })
        .transpose()
    }

    /// The position of the newest change (0 when the log is empty).
    pub async fn last_change_pos(&self) -> crate::Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(pos), 0) AS pos FROM order_changes")
            .fetch_one(self.pool())
            .await?;
        Ok(row.get("pos"))
    }
}
