//! Outages much longer than any retry cap or local-activity timeout (the fast api retries
//! notifications and projections at most a second apart; a local try gives up after 3 s):
//! with the notification service down, or the read model locked, an order still completes,
//! its workflow ends Completed, its history stays bounded, and every notification arrives
//! once, in order, when the service is back. A binary of its own: it switches shared parts off.

use crate::common;

use common::{maybe_record, statuses, system, unique};
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use temporalio_client::WorkflowExecutionStatus;

/// Thirty times the retry cap, ten times the local try's budget.
const OUTAGE: Duration = Duration::from_secs(30);

/// At most this many more history events for a completed order that lived through an outage
/// than for one that did not, whatever the outage's length: one fallback activity (scheduled,
/// started, completed) and the workflow task that takes its result (measured: 6). Retries
/// inside the workflow (the old way) would add five events per retry: 150 for this outage.
const MAX_EXTRA_EVENTS: usize = 10;

/// Notifications of the outage order that go the long way, through the order's notification
/// branch: each costs the one marker of its own first try, which a plain order (workflow
/// version 8 on) folds into its projection's. One per status of a completed order, however
/// long the outage: it bounds the history as [`MAX_EXTRA_EVENTS`] does.
const HANDED_OVER: usize = 8;

/// The seven commands of an order answer well within this during an outage (they do not wait
/// for notifications; before the fix each waited ~8 s for a workflow-task heartbeat).
const COMMANDS_WITHIN: Duration = Duration::from_secs(10);

/// The history length of a plain completed order on the fast api, for comparison.
async fn plain_completed_events(s: &common::TestSystem) -> usize {
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.fast_api, &cust).await;
    complete(s, &id, &cust, &owner, &rider).await;
    let (status, events) = s.closed_workflow(&id, 30).await;
    assert_eq!(status, WorkflowExecutionStatus::Completed);
    events
}

/// POST `path` on the fast api as `token`.
async fn post(s: &common::TestSystem, token: &str, path: &str) -> common::Resp {
    s.call(
        &s.fast_api,
        reqwest::Method::POST,
        path,
        Some(token),
        None,
        None,
    )
    .await
}

/// The store's, the rider's and the customer's steps after `accept`, each answered 200.
async fn after_accept(s: &common::TestSystem, id: &str, cust: &str, owner: &str, rider: &str) {
    for step in ["start-cooking", "finish-cooking"] {
        let r = post(s, owner, &format!("/v1/store/orders/{id}/{step}")).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    // Reported where each step happens first, as a rider's app does.
    for step in ["claim", "pickup", "deliver"] {
        let r = s.ride(&s.fast_api, rider, id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let r = post(s, cust, &format!("/v1/orders/{id}/confirm")).await;
    assert_eq!(r.status, StatusCode::OK, "confirm: {:?}", r.body);
    assert_eq!(r.body["status"], "completed");
}

/// Drive the order from placed to completed on the fast api.
async fn complete(s: &common::TestSystem, id: &str, cust: &str, owner: &str, rider: &str) {
    let r = post(s, owner, &format!("/v1/store/orders/{id}/accept")).await;
    assert_eq!(r.status, StatusCode::OK, "accept: {:?}", r.body);
    after_accept(s, id, cust, owner, rider).await;
}

#[tokio::test]
async fn a_long_notification_outage_fails_no_order_and_loses_no_notification() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let plain = plain_completed_events(s).await;

    s.set_notify_unavailable(true).await;
    let started = Instant::now();
    let id = s.placed_order_on(&s.fast_api, &cust).await;
    // Commands answer throughout the outage.
    let commands = Instant::now();
    complete(s, &id, &cust, &owner, &rider).await;
    assert!(
        commands.elapsed() < COMMANDS_WITHIN,
        "the order's commands took {:?} during the outage",
        commands.elapsed()
    );
    let inbox_query = format!("recipient=customer:{customer_id}&order_id={id}");
    assert!(
        s.notifications(&inbox_query).await.is_empty(),
        "the service is down"
    );
    if let Some(rest) = OUTAGE.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let (status, _) = s.workflow(&id).await;
    assert_eq!(
        status,
        WorkflowExecutionStatus::Running,
        "waiting to notify, not failed"
    );

    s.set_notify_unavailable(false).await;
    let got = s.notifications_until(&inbox_query, 8, 30).await;
    let seqs: Vec<u64> = got.iter().map(|n| n["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>(), "each once, in order");
    let (status, events) = s.closed_workflow(&id, 30).await;
    assert_eq!(status, WorkflowExecutionStatus::Completed);
    eprintln!("history events: {plain} without an outage, {events} after a {OUTAGE:?} one");
    assert!(
        events <= plain + HANDED_OVER + MAX_EXTRA_EVENTS,
        "{events} history events after a {OUTAGE:?} outage, {plain} without"
    );
    let order = s
        .wait_for(&s.api, &cust, &id, 5, |o| o["status"] == "completed")
        .await;
    assert_eq!(statuses(&order).len(), 8);
    maybe_record(&id, "notify_outage").await;
}

#[tokio::test]
async fn a_long_read_model_outage_fails_no_order() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let plain = plain_completed_events(s).await;
    let id = s.placed_order_on(&s.fast_api, &cust).await;

    // Take the read model's write lock, as a database that refuses writes would (SQLite: the
    // database's one write lock; PostgreSQL: a lock on the orders table that lets reads by).
    let db = baedal_db::connect(
        &s.read_model_url,
        baedal_db::PoolSettings {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut lock = db.pool.acquire().await.unwrap();
    let take = match db.dialect {
        baedal_db::Dialect::Sqlite => vec!["BEGIN EXCLUSIVE"],
        // The outage outlasts what baedal's own connections may idle in a transaction.
        baedal_db::Dialect::Postgres => vec![
            "SET idle_in_transaction_session_timeout = 0",
            "BEGIN",
            "LOCK TABLE orders IN EXCLUSIVE MODE",
        ],
    };
    for stmt in take {
        sqlx::query(stmt).execute(&mut *lock).await.unwrap();
    }
    let started = Instant::now();

    // The accept waits for its projection, which waits for the database: past the request
    // deadline (10 s) the caller is told to come back, the command itself stays taken.
    let r = post(s, &owner, &format!("/v1/store/orders/{id}/accept")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "request_timeout");
    assert!(r.retry_after.is_some());
    // The customer hears of the accept while the read model is still down: a change's
    // notifications do not wait for its projection.
    let inbox = format!("recipient=customer:{customer_id}&order_id={id}");
    let heard = s.notifications_until(&inbox, 2, 15).await;
    assert!(
        heard.len() == 2 && started.elapsed() < OUTAGE,
        "the accept's notification waited for the read model: {heard:?} after {:?}",
        started.elapsed()
    );
    if let Some(rest) = OUTAGE.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let (status, _) = s.workflow(&id).await;
    assert_eq!(
        status,
        WorkflowExecutionStatus::Running,
        "{:?} into the outage",
        started.elapsed()
    );

    sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
    drop(lock);
    let order = s
        .wait_for(&s.fast_api, &cust, &id, 30, |o| o["status"] == "accepted")
        .await;
    assert_eq!(
        statuses(&order),
        ["placed", "accepted"],
        "the accept went through once"
    );
    after_accept(s, &id, &cust, &owner, &rider).await;
    let (status, events) = s.closed_workflow(&id, 30).await;
    assert_eq!(status, WorkflowExecutionStatus::Completed);
    eprintln!("history events: {plain} without an outage, {events} after a {OUTAGE:?} one");
    assert!(
        events <= plain + MAX_EXTRA_EVENTS,
        "{events} history events after a {OUTAGE:?} outage, {plain} without"
    );
    let got = s
        .notifications_until(
            &format!("recipient=customer:{customer_id}&order_id={id}"),
            8,
            20,
        )
        .await;
    assert_eq!(got.len(), 8, "every notification once");
    maybe_record(&id, "readmodel_outage").await;
}
