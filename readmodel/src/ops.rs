//! Operational status documents (e.g. the payment breaker), published by the worker.

use crate::db::ReadModel;
use sqlx::Row;

impl ReadModel {
    /// Replace the status document `name`.
    pub async fn put_ops_status(
        &self,
        name: &str,
        body: &serde_json::Value,
        updated_at: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ops_status (name, body, updated_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(body.to_string())
        .bind(updated_at)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }

    /// The status document `name` and when it was published.
    pub async fn ops_status(
        &self,
        name: &str,
    ) -> Result<Option<(serde_json::Value, String)>, sqlx::Error> {
        let row = sqlx::query("SELECT body, updated_at FROM ops_status WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| {
            let body: String = r.get("body");
            (
                serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                r.get("updated_at"),
            )
        }))
    }

    /// Every order id with its status, for reconciliation against the payment ledger.
    pub async fn order_statuses(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        let rows = sqlx::query("SELECT id, status FROM orders ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), r.get("status")))
            .collect())
    }
}
