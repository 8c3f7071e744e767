//! The webhook backlog as gauges, for the alert that receivers are falling behind:
//! `baedal_webhook_deliveries_owed` (deliveries still pending: not delivered, not failed, not
//! abandoned) and `baedal_webhook_oldest_owed_seconds` (how long the oldest of them has been
//! owed; 0 when none).
//!
//! Refreshed every [`EVERY`] from the partial index of pending deliveries by age
//! (`hook_deliveries_owed`): the count reads the backlog's index entries only, the oldest is
//! the index's first entry, so the cost follows the backlog, never the delivered history.
//! Every replica of the service reports the same figures: alert on their `max`.

use baedal_db::Db;
use chrono::{DateTime, Utc};
use sqlx::Row;
use std::time::Duration;

/// How often the gauges are refreshed.
pub const EVERY: Duration = Duration::from_secs(15);

/// What the webhooks are owed right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    pub owed: u64,
    /// When the oldest pending delivery was created (RFC 3339).
    pub oldest: Option<String>,
}

/// Read the backlog.
pub async fn read(db: &Db) -> sqlx::Result<Backlog> {
    let owed: i64 = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM hook_deliveries WHERE status = 'pending'",
    )
    .fetch_one(&db.pool)
    .await?
    .get("n");
    let oldest = sqlx::query(
        "SELECT created_at FROM hook_deliveries WHERE status = 'pending'
         ORDER BY created_at LIMIT 1",
    )
    .fetch_optional(&db.pool)
    .await?
    .map(|r| r.get::<String, _>("created_at"));
    Ok(Backlog {
        owed: owed as u64,
        oldest,
    })
}

/// Set the gauges from `backlog` as of `now`.
pub fn publish(backlog: &Backlog, now: DateTime<Utc>) {
    metrics::gauge!("baedal_webhook_deliveries_owed").set(backlog.owed as f64);
    let age = backlog
        .oldest
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&Utc)).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    metrics::gauge!("baedal_webhook_oldest_owed_seconds").set(age);
}

/// Refresh the gauges every `every` until the process ends. A failed read leaves them as
/// they were (and is logged).
pub fn spawn(db: Db, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            match read(&db).await {
                Ok(b) => publish(&b, Utc::now()),
                Err(e) => tracing::warn!(error = %e, "could not read the webhook backlog"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_pending_deliveries_are_owed_and_the_oldest_gives_the_age() {
        let db = baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &crate::migrations(),
        )
        .await
        .unwrap();
        assert_eq!(
            read(&db).await.unwrap(),
            Backlog {
                owed: 0,
                oldest: None
            }
        );
        for (id, status, created) in [
            ("d1", "succeeded", "2026-01-01T00:00:00.000Z"),
            ("d2", "pending", "2026-01-01T00:00:10.000Z"),
            ("d3", "pending", "2026-01-01T00:00:20.000Z"),
            ("d4", "abandoned", "2026-01-01T00:00:05.000Z"),
        ] {
            sqlx::query(
                "INSERT INTO hook_deliveries (id, hook_id, order_id, seq, event_type, payload,
                    status, next_attempt_at, created_at)
                 VALUES ($1, 'hk', 'o1', $2, 'order.placed', '{}', $3, $4, $4)",
            )
            .bind(id)
            .bind(i64::from(id.as_bytes()[1]))
            .bind(status)
            .bind(created)
            .execute(&db.pool)
            .await
            .unwrap();
        }
        let b = read(&db).await.unwrap();
        assert_eq!(
            b,
            Backlog {
                owed: 2,
                oldest: Some("2026-01-01T00:00:10.000Z".into())
            }
        );
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            publish(
                &b,
                DateTime::parse_from_rfc3339("2026-01-01T00:01:10Z")
                    .unwrap()
                    .with_timezone(&Utc),
            )
        });
        let text = handle.render();
        assert!(text.contains("baedal_webhook_deliveries_owed 2"), "{text}");
        assert!(
            text.contains("baedal_webhook_oldest_owed_seconds 60"),
            "{text}"
        );
    }
}
