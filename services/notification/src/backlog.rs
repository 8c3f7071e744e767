//! The webhook backlog as gauges, for the alerts that deliveries pile up or run late:
//!
//! - `baedal_webhook_deliveries_owed`: deliveries still pending in the whole store (not
//!   delivered, failed or abandoned), whoever they are owed to: a dead receiver's backlog
//!   counts until its hook is disabled and settled. Counted up to [`COUNT_CAP`] (the gauge
//!   stops there), so the count's cost is bounded however large a backlog grows.
//! - `baedal_webhook_oldest_owed_seconds`: how long the longest-due delivery of a healthy hook
//!   has been due and not made (0 when none is due): how far the delivery engine is behind.
//!   Healthy: live (not disabled or deleted) and not failing (its last attempt did not fail).
//!   A failing receiver's deliveries wait on its retry schedule, and a hanging one's on its own
//!   few slots, by design: that lateness is the receiver's, not the engine's.
//!
//! Both read only the partial index of pending deliveries (`hook_deliveries_due_per_hook`,
//! `(hook_id, next_attempt_at) WHERE status = 'pending'`): the count a bounded range of it,
//! the lateness one probe per hook owed anything (the due scan's skip scan, [`crate::delivery`]),
//! never a row per delivery. Refreshed every [`EVERY`]; every replica of the service reports
//! the same figures: alert on their `max`.

use crate::engine::{between, sql_now};
use baedal_db::{Db, Dialect};
use sqlx::Row;
use std::time::Duration;

/// How often the gauges are refreshed.
pub const EVERY: Duration = Duration::from_secs(15);

/// The most pending deliveries counted.
pub const COUNT_CAP: i64 = 100_000;

/// What the webhooks are owed right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Pending deliveries, up to [`COUNT_CAP`].
    pub owed: u64,
    /// How long the longest-due delivery of a healthy hook has been due.
    pub late: Duration,
}

fn late_sql(dialect: Dialect) -> String {
    let indexed = match dialect {
        Dialect::Postgres => "",
        Dialect::Sqlite => " INDEXED BY hook_deliveries_due_per_hook",
    };
    format!(
        "WITH RECURSIVE owed(hook_id) AS (
             SELECT (SELECT hook_id FROM hook_deliveries{indexed}
                     WHERE status = 'pending' ORDER BY hook_id LIMIT 1)
             UNION ALL
             SELECT (SELECT y.hook_id FROM hook_deliveries y{indexed}
                     WHERE y.status = 'pending' AND y.hook_id > o.hook_id
                     ORDER BY y.hook_id LIMIT 1)
             FROM owed o WHERE o.hook_id IS NOT NULL),
         firsts(first_due) AS (
             SELECT (SELECT x.next_attempt_at FROM hook_deliveries x{indexed}
                     WHERE x.hook_id = h.id AND x.status = 'pending'
                     ORDER BY x.next_attempt_at LIMIT 1)
             FROM owed o JOIN hooks h ON h.id = o.hook_id
             WHERE h.deleted = 0 AND h.disabled_at IS NULL AND h.failing_since IS NULL)
         SELECT MIN(first_due) AS first_due, {now} AS db_now FROM firsts",
        now = sql_now(dialect)
    )
}

fn count_sql(dialect: Dialect) -> String {
    let indexed = match dialect {
        Dialect::Postgres => "",
        Dialect::Sqlite => " INDEXED BY hook_deliveries_due_per_hook",
    };
    format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM (
             SELECT 1 AS one FROM hook_deliveries{indexed} WHERE status = 'pending' LIMIT $1) p"
    )
}

/// Read the backlog (by the database's clock, as the delivery engine reads what is due).
pub async fn read(db: &Db) -> sqlx::Result<Backlog> {
    let owed: i64 = sqlx::query(&count_sql(db.dialect))
        .bind(COUNT_CAP)
        .fetch_one(&db.pool)
        .await?
        .get("n");
    let row = sqlx::query(&late_sql(db.dialect))
        .fetch_one(&db.pool)
        .await?;
    let first_due: Option<String> = row.get("first_due");
    let db_now: String = row.get("db_now");
    Ok(Backlog {
        owed: owed.max(0) as u64,
        late: first_due
            .map(|due| between(&due, &db_now))
            .unwrap_or_default(),
    })
}

/// Set the gauges from `backlog`.
pub fn publish(backlog: &Backlog) {
    metrics::gauge!("baedal_webhook_deliveries_owed").set(backlog.owed as f64);
    metrics::gauge!("baedal_webhook_oldest_owed_seconds").set(backlog.late.as_secs_f64());
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
                Ok(b) => publish(&b),
                Err(e) => tracing::warn!(error = %e, "could not read the webhook backlog"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, Utc};

    /// How the database would run `sql` (`Db::explain`).
    async fn plan(db: &Db, sql: &str) -> String {
        db.explain(sql).await.unwrap()
    }

    #[tokio::test]
    async fn the_gauges_read_only_the_index_of_pending_deliveries() {
        let db = baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &crate::migrations(),
        )
        .await
        .unwrap();
        for sql in [
            count_sql(db.dialect).replace("$1", "100000"),
            late_sql(db.dialect),
        ] {
            let p = plan(&db, &sql).await;
            assert!(p.contains("hook_deliveries_due_per_hook"), "{p}");
            let reads = [
                "on hook_deliveries",
                "SCAN hook_deliveries",
                "SEARCH hook_deliveries",
                "SCAN x",
                "SEARCH x",
                "SCAN y",
                "SEARCH y",
            ];
            for line in p.lines().filter(|l| reads.iter().any(|r| l.contains(r))) {
                assert!(line.contains("hook_deliveries_due_per_hook"), "{line}\n{p}");
            }
            assert!(!p.contains("Seq Scan") && !p.contains("SCAN h\n"), "{p}");
        }
    }

    fn ago(secs: i64) -> String {
        (Utc::now() - chrono::Duration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    #[tokio::test]
    async fn every_pending_delivery_is_owed_and_only_healthy_hooks_due_ones_are_late() {
        let db = baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &crate::migrations(),
        )
        .await
        .unwrap();
        let b = read(&db).await.unwrap();
        assert_eq!((b.owed, b.late), (0, Duration::ZERO));

        // A healthy hook, one failing, one disabled.
        for (id, failing, disabled) in [
            ("hk_ok", None, None),
            ("hk_failing", Some(ago(900)), None),
            ("hk_off", None, Some(ago(60))),
        ] {
            sqlx::query(
                "INSERT INTO hooks (id, owner, url, events, secret, created_at, failing_since,
                    disabled_at)
                 VALUES ($1, 'o', 'http://x', '[]', 's', $2, $3, $4)",
            )
            .bind(id)
            .bind(ago(3600))
            .bind(failing)
            .bind(disabled)
            .execute(&db.pool)
            .await
            .unwrap();
        }
        let mut seq = 0;
        for (hook, status, next_attempt_in) in [
            ("hk_ok", "succeeded", -3000),
            ("hk_ok", "pending", -120), // due two minutes ago: late
            ("hk_ok", "pending", -30),
            ("hk_ok", "pending", 300),        // a retry not due yet
            ("hk_failing", "pending", -1800), // its receiver's lateness, not the engine's
            ("hk_off", "pending", -3000),     // waits to be settled
            ("hk_ok", "abandoned", -3000),
        ] {
            seq += 1;
            sqlx::query(
                "INSERT INTO hook_deliveries (id, hook_id, order_id, seq, event_type, payload,
                    status, next_attempt_at, created_at)
                 VALUES ($1, $2, 'o1', $3, 'order.placed', '{}', $4, $5, $6)",
            )
            .bind(format!("d{seq}"))
            .bind(hook)
            .bind(i64::from(seq))
            .bind(status)
            .bind(ago(-next_attempt_in))
            .bind(ago(3600))
            .execute(&db.pool)
            .await
            .unwrap();
        }
        let b = read(&db).await.unwrap();
        assert_eq!(b.owed, 5, "every pending delivery, whoever it is owed to");
        assert!(
            (Duration::from_secs(119)..Duration::from_secs(130)).contains(&b.late),
            "the healthy hook's longest-due delivery: {:?}",
            b.late
        );

        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            publish(&Backlog {
                owed: 5,
                late: Duration::from_millis(120_500),
            })
        });
        let text = handle.render();
        assert!(text.contains("baedal_webhook_deliveries_owed 5"), "{text}");
        assert!(
            text.contains("baedal_webhook_oldest_owed_seconds 120.5"),
            "{text}"
        );
    }
}
