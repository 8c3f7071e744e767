//! Operational status documents published by running parts: each worker process's payment
//! breaker, one row per process, so the api can show them all at `/v1/ops/payment` without
//! reaching into another process.

use crate::db::ReadModel;
use sqlx::Row;
use std::time::Duration;

/// A worker publishes its breaker when its state changes, and at least this often.
pub const BREAKER_HEARTBEAT: Duration = Duration::from_secs(10);
/// A breaker not published for this long belongs to a worker that is gone.
pub const BREAKER_FRESH_FOR: Duration = Duration::from_secs(30);
/// The row of a worker silent this long is deleted by the next publish.
pub const BREAKER_FORGOTTEN_AFTER: Duration = Duration::from_secs(24 * 3600);
const BREAKER_PREFIX: &str = "payment_breaker:";

/// One worker's breaker as it last published it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BreakerStatus {
    pub worker: String,
    pub breaker: serde_json::Value,
    pub published_at: String,
}

impl ReadModel {
    /// Replace the status document `name`.
    async fn put_ops_status(
        &self,
        name: &str,
        body: &serde_json::Value,
        updated_at: &str,
    ) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO ops_status (name, body, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(body.to_string())
        .bind(updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Publish `worker`'s breaker (replacing what that worker published before), and forget
    /// the rows of workers silent since `forget_before` (RFC 3339): the writer tidies, so the
    /// api's read stays a read.
    pub async fn publish_breaker(
        &self,
        worker: &str,
        breaker: &serde_json::Value,
        at: &str,
        forget_before: &str,
    ) -> crate::Result<()> {
        self.put_ops_status(&format!("{BREAKER_PREFIX}{worker}"), breaker, at)
            .await?;
        sqlx::query("DELETE FROM ops_status WHERE name LIKE $1 AND updated_at < $2")
            .bind(format!("{BREAKER_PREFIX}%"))
            .bind(forget_before)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The breakers published at or after `since` (RFC 3339), one per live worker, by worker.
    pub async fn live_breakers(&self, since: &str) -> crate::Result<Vec<BreakerStatus>> {
        let rows = sqlx::query(
            "SELECT name, body, updated_at FROM ops_status
             WHERE name LIKE $1 AND updated_at >= $2 ORDER BY name",
        )
        .bind(format!("{BREAKER_PREFIX}%"))
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let name: String = r.get("name");
                let body: String = r.get("body");
                BreakerStatus {
                    worker: name.trim_start_matches(BREAKER_PREFIX).to_owned(),
                    breaker: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                    published_at: r.get("updated_at"),
                }
            })
            .collect())
    }

    /// Every order id with its status, for reconciliation against the payment ledger.
    pub async fn order_statuses(&self) -> crate::Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT id, status FROM orders ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), r.get("status")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn each_worker_keeps_its_own_breaker_and_gone_ones_drop_out() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let long_ago = "2026-11-24T00:00:00Z";
        rm.publish_breaker(
            "w3",
            &json!({"state": "open"}),
            "2026-11-25T09:00:00Z",
            long_ago,
        )
        .await
        .unwrap();
        rm.publish_breaker(
            "w1",
            &json!({"state": "closed"}),
            "2026-11-25T10:00:05Z",
            long_ago,
        )
        .await
        .unwrap();
        rm.publish_breaker(
            "w2",
            &json!({"state": "open"}),
            "2026-11-25T10:00:06Z",
            long_ago,
        )
        .await
        .unwrap();
        // w1 publishes again: it replaces its own row, not w2's; w3, silent since 09:00, is
        // forgotten by this publish.
        rm.publish_breaker(
            "w1",
            &json!({"state": "half_open"}),
            "2026-11-25T10:00:07Z",
            "2026-11-25T09:30:00Z",
        )
        .await
        .unwrap();
        let live = rm.live_breakers("2026-11-25T10:00:00Z").await.unwrap();
        let states: Vec<(&str, &str)> = live
            .iter()
            .map(|b| (b.worker.as_str(), b.breaker["state"].as_str().unwrap()))
            .collect();
        assert_eq!(states, [("w1", "half_open"), ("w2", "open")]);
        // A worker silent for more than a day is forgotten.
        let later = rm.live_breakers("2026-11-26T10:00:00Z").await.unwrap();
        assert!(later.is_empty());
        let all = rm.live_breakers("2000-01-01T00:00:00Z").await.unwrap();
        assert!(all.iter().all(|b| b.worker != "w3"), "w3's row was deleted");
    }
}
