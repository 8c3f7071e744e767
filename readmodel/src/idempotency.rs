//! Place-order idempotency keys: when the api first saw each one, and for which request, so a
//! key is answered the same way for `BAEDAL_IDEMPOTENCY_WINDOW` and refused after it, whatever
//! the engine still remembers of closed workflows.

use crate::db::ReadModel;
use sqlx::Row;

/// A key as first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub order_id: String,
    pub request_hash: String,
    /// RFC 3339.
    pub first_seen_at: String,
    /// The key's workflow is known to have been started (see [`ReadModel::mark_key_started`]).
    pub started: bool,
}

fn key(row: &sqlx::any::AnyRow) -> IdempotencyKey {
    IdempotencyKey {
        order_id: row.get("order_id"),
        request_hash: row.get("request_hash"),
        first_seen_at: row.get("first_seen_at"),
        started: row.get::<Option<String>, _>("started_at").is_some(),
    }
}

impl ReadModel {
    /// Record the key behind `order_id` unless it is known, and answer it as first seen. Two
    /// requests racing with one key both get the row of whichever came first.
    pub async fn remember_idempotency_key(
        &self,
        order_id: &str,
        customer_id: &str,
        request_hash: &str,
        now: &str,
    ) -> crate::Result<IdempotencyKey> {
        // A key removed by retention whose order is still here comes back as first seen when
        // the order was placed, and started: it is then refused as too old, never a second
        // run on the order's id and charge key.
        sqlx::query(
            "INSERT INTO idempotency_keys (order_id, customer_id, request_hash, first_seen_at,
                started_at)
             VALUES ($1, $2, $3, COALESCE((SELECT created_at FROM orders WHERE id = $1), $4),
                (SELECT created_at FROM orders WHERE id = $1))
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(order_id)
        .bind(customer_id)
        .bind(request_hash)
        .bind(now)
        .execute(self.pool())
        .await?;
        let row = sqlx::query(
            "SELECT order_id, request_hash, first_seen_at, started_at FROM idempotency_keys
             WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_one(self.pool())
        .await?;
        Ok(key(&row))
    }

    /// The key behind `order_id` as first seen, if it has been (without recording it): what a
    /// retried place-order is answered from before anything else is asked.
    pub async fn idempotency_key(&self, order_id: &str) -> crate::Result<Option<IdempotencyKey>> {
        let row = sqlx::query(
            "SELECT order_id, request_hash, first_seen_at, started_at FROM idempotency_keys
             WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(key))
    }

    /// Record that the key's workflow exists (the engine answered an update-with-start for
    /// it): from now on the api only ever addresses that workflow for this key, never starts
    /// one. Idempotent; the first time stays.
    pub async fn mark_key_started(&self, order_id: &str, at: &str) -> crate::Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET started_at = $2 WHERE order_id = $1 AND started_at IS NULL",
        )
        .bind(order_id)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::ReadModel;

    #[tokio::test]
    async fn the_first_request_of_a_key_is_what_is_remembered() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let a = rm
            .remember_idempotency_key("ord_1", "c1", "hash-a", "2026-01-01T00:00:00.000Z")
            .await
            .unwrap();
        let b = rm
            .remember_idempotency_key("ord_1", "c1", "hash-b", "2026-01-02T00:00:00.000Z")
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(b.request_hash, "hash-a");
        assert_eq!(b.first_seen_at, "2026-01-01T00:00:00.000Z");
        assert!(!b.started);
        rm.mark_key_started("ord_1", "2026-01-01T00:00:01.000Z")
            .await
            .unwrap();
        rm.mark_key_started("ord_1", "2026-01-03T00:00:00.000Z")
            .await
            .unwrap();
        let c = rm.idempotency_key("ord_1").await.unwrap().unwrap();
        assert!(c.started, "a started key stays started");
        assert!(rm.idempotency_key("ord_2").await.unwrap().is_none());
    }
}
