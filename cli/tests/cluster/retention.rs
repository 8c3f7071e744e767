//! Retention as a deployment enforces it: `baedal readmodel prune` on demand, the worker
//! periodically (the read model) and the notification service (its own store), each run as a
//! process of its own with retentions of seconds.

use crate::procs::{Cluster, Part, token};
use baedal_domain::{OrderStatus, OrderView};
use std::time::{Duration, Instant};

fn stamp(ago: Duration) -> String {
    (chrono::Utc::now() - chrono::Duration::from_std(ago).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A completed order delivered to an address, closed long ago.
fn closed_order(id: &str) -> OrderView {
    let json = serde_json::json!({
        "id": id, "status": "completed", "customer_id": "alice", "store_id": "st_1",
        "store_name": "s", "region": "gangnam", "items": [], "total": 9000,
        "delivery": {"address": "서울 강남구 테헤란로 427", "region": "gangnam",
                     "lat": 37.5, "lon": 127.03},
        "pickup": {"store_name": "s", "lat": 37.49, "lon": 127.02},
        "payment": {"id": "pay_1", "status": "succeeded", "amount": 9000},
        "refund": null, "rider_id": "rd_1",
        "history": [{"seq": 1, "status": "completed", "at": "2026-01-01T00:00:00Z",
                     "reason": null}],
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "seq": 1, "version": 1, "search_radius_bonus_km": 0.0
    });
    let view: OrderView = serde_json::from_value(json).unwrap();
    assert_eq!(view.status, OrderStatus::Completed);
    view
}

/// What is due for pruning: a closed order (its change-log entry and its address), a key past
/// its window and margin beside a fresh one, and an inbox entry, all past a seconds-long
/// retention.
async fn seed(rm: &baedal_readmodel::ReadModel, notify: &baedal_db::Db, order: &str) {
    rm.project(&closed_order(order)).await.unwrap();
    rm.remember_idempotency_key(
        &format!("{order}-key"),
        "alice",
        "h",
        &stamp(Duration::from_secs(3 * 86400)),
    )
    .await
    .unwrap();
    rm.remember_idempotency_key(
        &format!("{order}-fresh"),
        "alice",
        "h",
        &stamp(Duration::ZERO),
    )
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO notifications (order_id, seq, status, message, created_at)
         VALUES ($1, 1, 'completed', 'm', $2)",
    )
    .bind(order)
    .bind(stamp(Duration::from_secs(60)))
    .execute(&notify.pool)
    .await
    .unwrap();
}

async fn notifications(notify: &baedal_db::Db) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notifications")
        .fetch_one(&notify.pool)
        .await
        .unwrap()
}

/// Wait until what `seed` wrote for `order` is pruned from both stores.
async fn wait_pruned(
    c: &Cluster,
    rm: &baedal_readmodel::ReadModel,
    notify: &baedal_db::Db,
    order: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = rm.get_order(order).await.unwrap().unwrap();
        let key = rm.idempotency_key(&format!("{order}-key")).await.unwrap();
        if view.delivery.address.is_empty() && key.is_none() && notifications(notify).await == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{order} not pruned within 30 s with 2 s retentions; logs in {}",
            c.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_worker_and_the_notification_service_prune_to_their_retention_and_so_does_the_command()
{
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("retention");
    for (k, v) in [
        ("BAEDAL_CHANGE_LOG_RETENTION", "2s"),
        ("BAEDAL_NOTIFICATION_RETENTION", "2s"),
        ("BAEDAL_PERSONAL_DATA_RETENTION", "2s"),
        ("BAEDAL_IDEMPOTENCY_WINDOW", "1s"),
    ] {
        c.set_env(k, v);
    }
    let (code, out) = c.run(&["migrate"]);
    assert_eq!(code, 0, "{out}");
    let rm = baedal_readmodel::ReadModel::open(c.setting("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let notify = baedal_db::open(
        c.setting("BAEDAL_NOTIFY_DATABASE_URL").unwrap(),
        Default::default(),
        &baedal_notification::migrations(),
    )
    .await
    .unwrap();

    // On demand: both stores, what went per table.
    seed(&rm, &notify, "ord_cron").await;
    // The projection logged the order by the database's clock just now: past its 2 s.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (code, out) = c.run(&["readmodel", "prune"]);
    assert_eq!(code, 0, "{out}");
    for line in [
        "order_log: 1",
        "orders_personal_data: 1",
        "idempotency_keys: 1",
        "notifications: 1",
    ] {
        assert!(out.contains(line), "{line} in:\n{out}");
    }
    let erased = rm.get_order("ord_cron").await.unwrap().unwrap();
    assert_eq!(erased.delivery.address, "");
    assert!(
        rm.idempotency_key("ord_cron-fresh")
            .await
            .unwrap()
            .is_some()
    );

    // Periodically: the worker and the notification service, each a process of its own.
    seed(&rm, &notify, "ord_worker").await;
    c.start(Part::Temporal);
    c.start(Part::Worker);
    c.start(Part::Notify);
    c.wait_healthy(&c.worker_admin, 90).await;
    c.wait_healthy(&c.notify, 60).await;
    wait_pruned(&c, &rm, &notify, "ord_worker").await;
    // And again, rounds later: the pruning is periodic, not only at start.
    seed(&rm, &notify, "ord_later").await;
    wait_pruned(&c, &rm, &notify, "ord_later").await;
    assert!(
        rm.idempotency_key("ord_later-fresh")
            .await
            .unwrap()
            .is_some()
    );
    let metrics = reqwest::get(format!("{}/metrics", c.worker_admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("baedal_pruned_rows_total{table=\"orders_personal_data\"}"),
        "{metrics}"
    );

    // The customer still reads the erased order through the api.
    c.start(Part::Api);
    c.wait_healthy(&c.api, 60).await;
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/orders/ord_worker", c.api))
        .bearer_auth(token("customer", "alice", None))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["status"], "completed");
    assert_eq!(body["total"], 9000);
    assert_eq!(body["delivery"]["address"], "");
    assert!(body[baedal_readmodel::ERASED_MARK].is_string(), "{body}");
}
