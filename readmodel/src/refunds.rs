//! Refunds owed and how their attempts are going: written by the worker's refund activity,
//! read by the order view, the stuck list and ops' payment health.
//!
//! The workflow knows a refund is owed and, once the PSP confirms it, that it is done; in
//! between, the attempts are the engine's regular activity retries, which the workflow does
//! not see (they add nothing to its history). So the activity itself records each attempt
//! here: without it, a refund that keeps failing would show the order `canceled` and nothing
//! else, with nobody told.

use crate::db::ReadModel;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A refund's progress, as the order view's `refund` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundProgress {
    pub order_id: String,
    pub amount: i64,
    /// `pending` until the PSP confirms the money moved, then `succeeded`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The first attempt (RFC 3339).
    pub owed_since: String,
    pub settled_at: Option<String>,
}

/// What ops' payment health says about refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundHealth {
    /// Refunds owed and not yet confirmed.
    pub pending: u64,
    /// Since when the oldest of them is owed.
    pub oldest_pending_since: Option<String>,
    /// The last error of that oldest one.
    pub last_error: Option<String>,
}

fn progress(r: &AnyRow) -> RefundProgress {
    RefundProgress {
        order_id: r.get("order_id"),
        amount: r.get("amount"),
        status: r.get("status"),
        attempts: r.get::<i64, _>("attempts") as u32,
        last_error: r.get("last_error"),
        owed_since: r.get("owed_since"),
        settled_at: r.get("settled_at"),
    }
}

const COLUMNS: &str = "order_id, amount, status, CAST(attempts AS BIGINT) AS attempts, \
                       last_error, owed_since, settled_at";

impl ReadModel {
    /// Record attempt `attempt` of `order_id`'s refund of `amount` at `now`: `error` is why it
    /// failed, `None` that the PSP confirmed it. A confirmed refund stays confirmed (a late
    /// report of an earlier failed attempt changes nothing), and the attempt count only grows.
    pub async fn record_refund_attempt(
        &self,
        order_id: &str,
        amount: i64,
        attempt: u32,
        error: Option<&str>,
        now: &str,
    ) -> crate::Result<()> {
        let (status, settled_at) = match error {
            None => ("succeeded", Some(now)),
            Some(_) => ("pending", None),
        };
        sqlx::query(
            "INSERT INTO refunds (order_id, amount, status, attempts, last_error, owed_since,
                updated_at, settled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
             ON CONFLICT (order_id) DO UPDATE SET
                status = CASE WHEN refunds.status = 'succeeded' THEN refunds.status
                              ELSE excluded.status END,
                attempts = CASE WHEN excluded.attempts > refunds.attempts
                                THEN excluded.attempts ELSE refunds.attempts END,
                last_error = CASE WHEN excluded.last_error IS NULL THEN refunds.last_error
                                  ELSE excluded.last_error END,
                settled_at = COALESCE(refunds.settled_at, excluded.settled_at),
                updated_at = excluded.updated_at",
        )
        .bind(order_id)
        .bind(amount)
        .bind(status)
        .bind(attempt as i64)
        .bind(error)
        .bind(now)
        .bind(settled_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The refund of `order_id`, if one was ever attempted.
    pub async fn refund_progress(&self, order_id: &str) -> crate::Result<Option<RefundProgress>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM refunds WHERE order_id = $1"
        ))
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(progress))
    }

    /// Refunds owed since before `before` (RFC 3339) and still not confirmed, oldest first;
    /// with `unalerted`, only those ops have not been alerted about.
    pub async fn pending_refunds(
        &self,
        before: &str,
        limit: u32,
        unalerted: bool,
    ) -> crate::Result<Vec<RefundProgress>> {
        let and = if unalerted {
            "AND alerted_at IS NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM refunds WHERE status = 'pending' AND owed_since < $1 {and}
             ORDER BY owed_since, order_id LIMIT $2"
        ))
        .bind(before)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(progress).collect())
    }

    /// Record that ops were alerted about `order_id`'s refund being stuck. Idempotent.
    pub async fn mark_refund_alerted(&self, order_id: &str, at: &str) -> crate::Result<()> {
        sqlx::query("UPDATE refunds SET alerted_at = COALESCE(alerted_at, $2) WHERE order_id = $1")
            .bind(order_id)
            .bind(at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// How many refunds are pending, and the oldest one.
    pub async fn refund_health(&self) -> crate::Result<RefundHealth> {
        let count: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM refunds WHERE status = 'pending'",
        )
        .fetch_one(self.pool())
        .await?
        .get("n");
        let oldest = sqlx::query(
            "SELECT owed_since, last_error FROM refunds WHERE status = 'pending'
             ORDER BY owed_since LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(RefundHealth {
            pending: count as u64,
            oldest_pending_since: oldest.as_ref().map(|r| r.get("owed_since")),
            last_error: oldest.as_ref().and_then(|r| r.get("last_error")),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ReadModel;

    #[tokio::test]
    async fn a_refund_is_pending_with_its_attempts_until_confirmed_and_then_stays_confirmed() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let t = |s: u32| format!("2026-01-01T00:00:{s:02}.000Z");
        rm.record_refund_attempt("o1", 9000, 1, Some("PSP 503"), &t(1))
            .await
            .unwrap();
        rm.record_refund_attempt("o1", 9000, 2, Some("PSP timeout"), &t(2))
            .await
            .unwrap();
        let p = rm.refund_progress("o1").await.unwrap().unwrap();
        assert_eq!(
            (p.status.as_str(), p.attempts, p.last_error.as_deref()),
            ("pending", 2, Some("PSP timeout"))
        );
        assert_eq!(p.owed_since, t(1), "owed since the first attempt");
        let stuck = rm.pending_refunds(&t(5), 10, true).await.unwrap();
        assert_eq!(stuck.len(), 1);
        assert!(
            rm.pending_refunds(&t(0), 10, true)
                .await
                .unwrap()
                .is_empty()
        );
        rm.mark_refund_alerted("o1", &t(5)).await.unwrap();
        assert!(
            rm.pending_refunds(&t(5), 10, true)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(rm.pending_refunds(&t(5), 10, false).await.unwrap().len(), 1);
        let h = rm.refund_health().await.unwrap();
        assert_eq!((h.pending, h.oldest_pending_since), (1, Some(t(1))));

        rm.record_refund_attempt("o1", 9000, 3, None, &t(6))
            .await
            .unwrap();
        // A late report of attempt 2's failure does not undo the confirmation.
        rm.record_refund_attempt("o1", 9000, 2, Some("late"), &t(7))
            .await
            .unwrap();
        let p = rm.refund_progress("o1").await.unwrap().unwrap();
        assert_eq!((p.status.as_str(), p.attempts), ("succeeded", 3));
        assert_eq!(p.settled_at, Some(t(6)));
        assert!(
            rm.pending_refunds(&t(9), 10, false)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(rm.refund_health().await.unwrap().pending, 0);
    }
}
