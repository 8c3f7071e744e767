//! The delivery engine as deployed, against real HTTP receivers: a hook whose receiver hangs
//! holds only its own slots (the others' deliveries arrive while its attempts still hang),
//! and two notification services on one database (each its own pool and delivery loop, as
//! two processes) deliver every event exactly once per `webhook-id`. On PostgreSQL when
//! `BAEDAL_TEST_POSTGRES_URL` is set (`scripts/with-postgres`), else on a SQLite file.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use baedal_notification::delivery::DeliverySettings;
use baedal_notification::{NotificationRequest, NotifyState};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A fresh store of the dialect under test that two pools can share (a file for SQLite).
async fn store_url() -> String {
    if baedal_db::test_postgres().is_some() {
        return baedal_db::scratch_url().await;
    }
    let dir = std::env::temp_dir().join(format!("baedal-leases-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    baedal_db::scratch_url_in(&dir, "notify.db")
}

async fn service(url: &str, settings: DeliverySettings) -> NotifyState {
    let _ = rustls::crypto::ring::default_provider().install_default();
    NotifyState::open(
        url,
        "svc",
        baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt")),
        settings,
        None,
    )
    .await
    .unwrap()
}

/// Local receivers allowed; attempts that hang are held for the whole test (the timeout is
/// far beyond the test's patience), so "arrived while they hang" needs no clock.
fn settings() -> DeliverySettings {
    DeliverySettings {
        allow_private: true,
        timeout: Duration::from_secs(600),
        poll: Duration::from_millis(50),
        ..Default::default()
    }
}

/// A status change of `order` at `store` (what the worker sends).
fn event(order: &str, store: &str) -> NotificationRequest {
    NotificationRequest {
        order_id: order.into(),
        seq: 1,
        recipients: vec![format!("store:{store}")],
        status: "accepted".into(),
        message: "accepted".into(),
        store_id: Some(store.into()),
        order: None,
    }
}

/// A receiver that takes everything: how many times each `webhook-id` came.
#[derive(Clone, Default)]
struct Counts(Arc<Mutex<HashMap<String, u32>>>);

impl Counts {
    fn snapshot(&self) -> HashMap<String, u32> {
        self.0.lock().unwrap().clone()
    }
}

async fn take(State(c): State<Counts>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    *c.0.lock().unwrap().entry(id).or_default() += 1;
    StatusCode::NO_CONTENT
}

async fn receiver() -> (String, Counts) {
    let counts = Counts::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(take))
        .with_state(counts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counts)
}

/// A receiver that accepts connections and never answers; how many it holds.
async fn hanging_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let held = Arc::new(AtomicUsize::new(0));
    let count = held.clone();
    tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            sockets.push(s);
        }
    });
    (url, held)
}

/// Wait (up to the test's patience) until `done` holds.
async fn until(secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn by_status(s: &NotifyState, hook: &str) -> HashMap<String, i64> {
    sqlx::query(
        "SELECT status, count(*) AS n FROM hook_deliveries WHERE hook_id = $1 GROUP BY status",
    )
    .bind(hook)
    .fetch_all(&s.db().pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("status"), r.get("n")))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_hook_holds_only_its_own_slots_and_other_hooks_deliveries_arrive() {
    let s = service(&store_url().await, settings()).await;
    let (hang_url, held) = hanging_receiver().await;
    let (ok_url, got) = receiver().await;
    let all = ["*".to_owned()];
    let (hanging, _) = s
        .hooks()
        .create("store:st_hang", &hang_url, &all)
        .await
        .unwrap();
    let (healthy, _) = s
        .hooks()
        .create("store:st_ok", &ok_url, &all)
        .await
        .unwrap();

    // The hanging hook is owed far more than a round reads, and owed it first (so its
    // deliveries are the longest due); then the healthy hook is owed a few.
    let backlog = 300;
    for i in 0..backlog {
        s.accept(&event(&format!("ord_h{i}"), "st_hang"))
            .await
            .unwrap();
    }
    let owed = 20;
    for i in 0..owed {
        s.accept(&event(&format!("ord_ok{i}"), "st_ok"))
            .await
            .unwrap();
    }

    until(60, || got.snapshot().len() == owed).await;
    assert_eq!(
        got.snapshot().len(),
        owed,
        "the healthy hook's deliveries arrive"
    );
    assert!(got.snapshot().values().all(|n| *n == 1));
    // ... while the hanging hook's attempts still hang: none has come back yet, it holds at
    // most its own slots, and the rest of its backlog waits its turn.
    let per_hook = settings().per_hook;
    assert!(held.load(Ordering::SeqCst) <= per_hook, "{held:?}");
    let hanging_rows = by_status(&s, &hanging.id).await;
    assert_eq!(
        hanging_rows.get("pending"),
        Some(&(backlog as i64)),
        "{hanging_rows:?}"
    );
    let attempted: i64 = sqlx::query(
        "SELECT count(*) AS n FROM hook_deliveries WHERE hook_id = $1 AND attempts > 0",
    )
    .bind(&hanging.id)
    .fetch_one(&s.db().pool)
    .await
    .unwrap()
    .get("n");
    assert_eq!(attempted, 0, "no hanging attempt has ended");
    // The receiver counts a delivery when it arrives; the service records it once the answer
    // is back, a moment later (CI once read 19 of 20 in between).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut succeeded = by_status(&s, &healthy.id).await.get("succeeded").copied();
    while succeeded != Some(owed as i64) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        succeeded = by_status(&s, &healthy.id).await.get("succeeded").copied();
    }
    assert_eq!(succeeded, Some(owed as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_on_one_database_deliver_every_event_exactly_once_per_webhook_id() {
    let url = store_url().await;
    // Two services, each with its own pool and delivery loop, as two processes would be.
    let a = service(&url, settings()).await;
    let b = service(&url, settings()).await;
    let (hook_url, got) = receiver().await;
    let (hook, _) = a
        .hooks()
        .create("ops", &hook_url, &["*".to_owned()])
        .await
        .unwrap();

    // Events come in through both, as the worker's calls would land on either replica.
    let events = 400;
    for i in 0..events {
        let s = if i % 2 == 0 { &a } else { &b };
        s.accept(&event(&format!("ord_{i}"), "st_1")).await.unwrap();
    }

    // Until every delivery is settled in the store: then nothing more can be sent.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rows = by_status(&a, &hook.id).await;
        if rows.get("succeeded") == Some(&(events as i64)) || Instant::now() > deadline {
            assert_eq!(rows.get("succeeded"), Some(&(events as i64)), "{rows:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counts = got.snapshot();
    assert_eq!(counts.len(), events, "every event arrived");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "{} sent more than once, such as {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    let attempts: i64 = sqlx::query(
        "SELECT CAST(sum(attempts) AS BIGINT) AS n FROM hook_deliveries WHERE hook_id = $1",
    )
    .bind(&hook.id)
    .fetch_one(&a.db().pool)
    .await
    .unwrap()
    .get("n");
    assert_eq!(attempts, events as i64, "one attempt each");
}
