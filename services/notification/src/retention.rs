//! Retention of the notification store (docs/retention.md): what was told and delivered is
//! kept for `BAEDAL_NOTIFICATION_RETENTION`, then deleted; the phone number a KakaoTalk
//! message went to is blanked after `BAEDAL_PERSONAL_DATA_RETENTION` when that comes first.
//! Nothing still owed (`pending`) is ever touched.
//!
//! This service owns its store and nothing else reaches it, so it prunes it itself: every
//! [`Retention::notification_every`] in the service's process (the worker prunes the read
//! model on the same rule), and once on demand through `baedal readmodel prune` given
//! `BAEDAL_NOTIFY_DATABASE_URL`. As in the read model, every step deletes in batches of at
//! most [`BATCH`] rows, each its own short transaction, found through an index (`created_at`
//! of notifications, the due index of deliveries and messages) or a bounded scan from the
//! start of the inbox's rising ids; several pruners may run at once.

use baedal_db::Db;
use baedal_domain::retention::{Pruned, Retention};
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;

/// Rows deleted per batch (and per transaction).
pub const BATCH: i64 = 1000;

/// The statuses a delivery or message ends in: only rows in one of these are pruned
/// (`abandoned`: owed to a hook that was disabled or deleted, settled by the settler).
const HOOK_DELIVERY_SETTLED: &[&str] = &["succeeded", "failed", "abandoned"];
const KAKAO_SETTLED: &[&str] = &["sent", "failed"];

/// The instants before which the store's records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizons {
    /// Notifications and inbox entries accepted, deliveries and messages settled before this.
    pub notifications: DateTime<Utc>,
    /// KakaoTalk messages settled before this lose their phone number.
    pub personal_data: DateTime<Utc>,
    /// Numbers a customer asked a code for and did not prove (or proved and replaced), whose
    /// last code was sent before this: a day ago, well past any code's life and send window.
    pub unproven_phones: DateTime<Utc>,
}

impl Horizons {
    pub fn at(now: DateTime<Utc>, retention: &Retention) -> Self {
        let before =
            |d: std::time::Duration| now - chrono::Duration::from_std(d).unwrap_or_default();
        Self {
            notifications: before(retention.notifications),
            personal_data: before(retention.personal_data),
            unproven_phones: now - chrono::Duration::days(1),
        }
    }
}

/// Count `n` rows of `table` in `pruned` and in `baedal_pruned_rows_total{table}`.
fn count(pruned: &mut Pruned, table: &'static str, n: u64) {
    pruned.add(table, n);
    metrics::counter!("baedal_pruned_rows_total", "table" => table).increment(n);
}

/// As the store stamps its rows (RFC 3339 UTC with milliseconds: they compare as text).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Run `sql` (binding the horizon, [`BATCH`] and then `extra`) until a batch comes up short.
async fn in_batches(
    db: &Db,
    sql: &str,
    horizon: &str,
    extra: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let q = sqlx::query(sql).bind(horizon).bind(BATCH);
        let q = match extra {
            Some(e) => q.bind(e),
            None => q,
        };
        let n = q.execute(&db.pool).await?.rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prune the notification store to `h`; what went, per table.
pub async fn prune(db: &Db, h: &Horizons) -> Result<Pruned, sqlx::Error> {
    let mut pruned = Pruned::default();
    let horizon = stamp(h.notifications);
    let n = in_batches(
        db,
        "DELETE FROM notifications WHERE (order_id, seq) IN (SELECT order_id, seq
            FROM notifications WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        &horizon,
        None,
    )
    .await?;
    count(&mut pruned, "notifications", n);
    count(&mut pruned, "inbox", prune_inbox(db, &horizon).await?);
    for (table, settled) in [
        ("hook_deliveries", HOOK_DELIVERY_SETTLED),
        ("kakao_messages", KAKAO_SETTLED),
    ] {
        // A settled row's due time is when it settled (the last attempt); the due index
        // (status, next_attempt_at) finds them.
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table}
                WHERE status = $3 AND next_attempt_at < $1 LIMIT $2)"
        );
        for status in settled.iter().copied() {
            let n = in_batches(db, &sql, &horizon, Some(status)).await?;
            count(&mut pruned, table, n);
        }
    }
    if h.personal_data > h.notifications {
        // Messages kept longer than their phone numbers: blank the number of those settled
        // between the two horizons (the older ones went above).
        let sql = "UPDATE kakao_messages SET phone = '' WHERE id IN (SELECT id FROM kakao_messages
            WHERE status = $3 AND next_attempt_at < $1 AND phone <> '' LIMIT $2)";
        for status in KAKAO_SETTLED {
            let n = in_batches(db, sql, &stamp(h.personal_data), Some(status)).await?;
            count(&mut pruned, "kakao_messages_phone", n);
        }
    }
    // A deleted hook stays while deliveries of it are kept (they name it); then it goes.
    let mut hooks = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM hooks WHERE id IN (SELECT id FROM hooks h WHERE deleted = 1
                AND NOT EXISTS (SELECT 1 FROM hook_deliveries d WHERE d.hook_id = h.id) LIMIT $1)",
        )
        .bind(BATCH)
        .execute(&db.pool)
        .await?
        .rows_affected();
        hooks += n;
        if n < BATCH as u64 {
            break;
        }
    }
    count(&mut pruned, "hooks", hooks);
    let unproven = stamp(h.unproven_phones);
    let n = in_batches(
        db,
        "DELETE FROM phone_verifications WHERE (recipient, phone) IN (SELECT recipient, phone
            FROM phone_verifications WHERE sent_at < $1 AND verified_at IS NULL LIMIT $2)",
        &unproven,
        None,
    )
    .await?;
    count(&mut pruned, "phone_verifications", n);
    Ok(pruned)
}

/// Delete inbox entries accepted before `horizon`, oldest first: ids rise with time, so each
/// batch reads the first [`BATCH`] by id and cuts at the first one inside the horizon. Both
/// forms: `inbox_entries` (an entry is as old as its notification, which it shares a
/// transaction with; one whose notification already went is past the horizon too) and the
/// previous release's `inbox`, emptied here until the release that drops it.
async fn prune_inbox(db: &Db, horizon: &str) -> Result<u64, sqlx::Error> {
    let entries = "SELECT e.id, n.created_at FROM inbox_entries e
        LEFT JOIN notifications n ON n.order_id = e.order_id AND n.seq = e.seq
        ORDER BY e.id LIMIT $1";
    let old = "SELECT id, created_at FROM inbox ORDER BY id LIMIT $1";
    Ok(prune_by_id(db, "inbox_entries", entries, horizon).await?
        + prune_by_id(db, "inbox", old, horizon).await?)
}

/// [`prune_inbox`] for one table: `oldest` reads its first `$1` rows by id with when each was
/// accepted (`created_at`, NULL for "long gone").
async fn prune_by_id(
    db: &Db,
    table: &str,
    oldest: &str,
    horizon: &str,
) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    let delete = format!("DELETE FROM {table} WHERE id <= $1");
    loop {
        let rows = sqlx::query(oldest).bind(BATCH).fetch_all(&db.pool).await?;
        let last = rows
            .iter()
            .take_while(|r| {
                r.get::<Option<String>, _>("created_at")
                    .is_none_or(|at| at.as_str() < horizon)
            })
            .last()
            .map(|r| r.get::<i64, _>("id"));
        let Some(last) = last else {
            return Ok(total);
        };
        let n = sqlx::query(&delete)
            .bind(last)
            .execute(&db.pool)
            .await?
            .rows_affected();
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prune the store every [`Retention::notification_every`] until the process ends (a missed
/// round is skipped, not caught up; a failed one is logged and tried again next round).
pub fn spawn(db: Db, retention: Retention) -> tokio::task::JoinHandle<()> {
    let every = retention.notification_every();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            match prune(&db, &Horizons::at(Utc::now(), &retention)).await {
                Ok(p) if p.total() > 0 => {
                    tracing::info!(
                        rows = p.total(),
                        "notification store pruned to its retention"
                    )
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "pruning the notification store failed; trying again next round")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "2026-01-01T00:00:00.000Z";
    const MID: &str = "2026-02-15T00:00:00.000Z";
    const NEW: &str = "2026-03-01T00:00:00.000Z";

    async fn store() -> Db {
        baedal_db::open(
            &baedal_db::scratch_url().await,
            Default::default(),
            &crate::migrations(),
        )
        .await
        .unwrap()
    }

    async fn exec(db: &Db, sql: &str, binds: &[&str]) {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&db.pool).await.unwrap();
    }

    async fn ids(db: &Db, sql: &str) -> Vec<String> {
        sqlx::query(sql)
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    async fn delivery(db: &Db, id: &str, hook: &str, status: &str, at: &str) {
        exec(
            db,
            "INSERT INTO hook_deliveries (id, hook_id, order_id, seq, event_type, payload, status,
                next_attempt_at, created_at) VALUES ($1, $2, $1, 1, 'order.placed', '{}', $3, $4, $4)",
            &[id, hook, status, at],
        )
        .await;
    }

    async fn kakao(db: &Db, id: &str, status: &str, at: &str) {
        exec(
            db,
            "INSERT INTO kakao_messages (id, recipient, order_id, seq, phone, template_code,
                variables, text, fallback_text, status, next_attempt_at, created_at)
             VALUES ($1, 'customer:c1', $1, 1, '+821012345678', 't', '{}', 'x', 'x', $2, $3, $3)",
            &[id, status, at],
        )
        .await;
    }

    #[tokio::test]
    async fn what_was_told_goes_after_its_retention_and_nothing_owed_ever_does() {
        let db = store().await;
        for (order, at) in [("o_old", OLD), ("o_new", NEW)] {
            exec(
                &db,
                "INSERT INTO notifications (order_id, seq, status, message, created_at)
                 VALUES ($1, 1, 'placed', 'm', $2)",
                &[order, at],
            )
            .await;
        }
        // Inbox ids rise with time. An entry is as old as its notification: `o_old2`'s is
        // gone already (pruned as long gone). The previous release's `inbox` rows carry their
        // own time.
        for order in ["o_old", "o_old2", "o_new"] {
            exec(
                &db,
                "INSERT INTO inbox_entries (recipient, order_id, seq) VALUES ('customer:c1', $1, 1)",
                &[order],
            )
            .await;
        }
        for (order, at) in [("o_old", OLD), ("o_old2", OLD), ("o_new", NEW)] {
            exec(
                &db,
                "INSERT INTO inbox (recipient, order_id, seq, status, message, created_at)
                 VALUES ('customer:c1', $1, 1, 'placed', 'm', $2)",
                &[order, at],
            )
            .await;
        }
        for (hook, deleted) in [("h_live", "0"), ("h_gone", "1"), ("h_gone_owed", "1")] {
            exec(
                &db,
                &format!(
                    "INSERT INTO hooks (id, owner, url, events, secret, created_at, deleted)
                     VALUES ($1, 'ops', 'https://example.com', '[\"*\"]', 's', $2, {deleted})"
                ),
                &[hook, OLD],
            )
            .await;
        }
        delivery(&db, "d_ok_old", "h_live", "succeeded", OLD).await;
        delivery(&db, "d_failed_old", "h_live", "failed", OLD).await;
        delivery(&db, "d_pending_old", "h_live", "pending", OLD).await;
        delivery(&db, "d_abandoned_old", "h_gone", "abandoned", OLD).await;
        delivery(&db, "d_ok_new", "h_live", "succeeded", NEW).await;
        delivery(&db, "d_gone_new", "h_gone_owed", "failed", NEW).await;
        kakao(&db, "k_sent_old", "sent", OLD).await;
        kakao(&db, "k_pending_old", "pending", OLD).await;
        kakao(&db, "k_sent_mid", "sent", MID).await;
        kakao(&db, "k_failed_new", "failed", NEW).await;
        for (recipient, sent, verified) in [
            ("customer:unproven_old", OLD, None),
            ("customer:proven_old", OLD, Some(OLD)),
            ("customer:unproven_new", NEW, None),
        ] {
            sqlx::query(
                "INSERT INTO phone_verifications (recipient, phone, code_hash, expires_at,
                    attempts, sends, window_start, sent_at, verified_at)
                 VALUES ($1, '+821012345678', NULL, $2, 0, 1, $2, $2, $3)",
            )
            .bind(recipient)
            .bind(sent)
            .bind(verified)
            .execute(&db.pool)
            .await
            .unwrap();
        }

        // Told before February goes; phone numbers of messages settled before March go.
        let h = Horizons {
            notifications: "2026-02-01T00:00:00Z".parse().unwrap(),
            personal_data: "2026-02-20T00:00:00Z".parse().unwrap(),
            unproven_phones: "2026-02-01T00:00:00Z".parse().unwrap(),
        };
        let pruned = prune(&db, &h).await.unwrap();
        assert_eq!(pruned.get("notifications"), 1, "{pruned}");
        assert_eq!(
            pruned.get("inbox"),
            4,
            "two entries and two rows of the old form"
        );
        assert_eq!(
            pruned.get("hook_deliveries"),
            3,
            "succeeded, failed and abandoned"
        );
        assert_eq!(pruned.get("kakao_messages"), 1);
        assert_eq!(pruned.get("kakao_messages_phone"), 1);
        assert_eq!(pruned.get("hooks"), 1);
        assert_eq!(pruned.get("phone_verifications"), 1);
        assert_eq!(
            ids(
                &db,
                "SELECT recipient FROM phone_verifications ORDER BY recipient"
            )
            .await,
            ["customer:proven_old", "customer:unproven_new"],
            "a proven number stays while it is the customer's"
        );
        assert_eq!(
            ids(&db, "SELECT order_id FROM notifications").await,
            ["o_new"]
        );
        assert_eq!(ids(&db, "SELECT order_id FROM inbox").await, ["o_new"]);
        assert_eq!(
            ids(&db, "SELECT order_id FROM inbox_entries").await,
            ["o_new"]
        );
        assert_eq!(
            ids(&db, "SELECT id FROM hook_deliveries ORDER BY id").await,
            ["d_gone_new", "d_ok_new", "d_pending_old"],
            "a pending delivery stays however old"
        );
        assert_eq!(
            ids(&db, "SELECT id FROM kakao_messages ORDER BY id").await,
            ["k_failed_new", "k_pending_old", "k_sent_mid"]
        );
        assert_eq!(
            ids(
                &db,
                "SELECT id FROM kakao_messages WHERE phone = '' ORDER BY id"
            )
            .await,
            ["k_sent_mid"],
            "the pending message keeps the number it is still to be sent to"
        );
        assert_eq!(
            ids(&db, "SELECT id FROM hooks ORDER BY id").await,
            ["h_gone_owed", "h_live"],
            "a deleted hook stays while deliveries name it"
        );
        // Done: a second prune finds nothing.
        assert_eq!(prune(&db, &h).await.unwrap().total(), 0);
    }

    /// How the database would run `sql` (`Db::explain`: sequential scans off on PostgreSQL).
    async fn plan(db: &Db, sql: &str) -> String {
        db.explain(sql).await.unwrap()
    }

    #[tokio::test]
    async fn notifications_are_found_by_their_age_through_an_index() {
        let db = store().await;
        let sql = "SELECT order_id FROM notifications WHERE created_at < 'x'
                   ORDER BY created_at LIMIT 10";
        let plan = plan(&db, sql).await;
        assert!(plan.contains("notifications_created"), "{plan}");
    }

    /// Measured in review: through the due index, every batch that blanks phone numbers
    /// walked every message blanked before it (400k rows for a 1,000-row batch).
    #[tokio::test]
    async fn phones_to_blank_are_found_without_the_ones_already_blanked() {
        let db = store().await;
        let sql = "SELECT id FROM kakao_messages
                   WHERE status = 'sent' AND next_attempt_at < 'x' AND phone <> '' LIMIT 10";
        let plan = plan(&db, sql).await;
        assert!(plan.contains("kakao_messages_phone_kept"), "{plan}");
    }
}
