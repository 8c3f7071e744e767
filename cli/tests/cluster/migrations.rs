//! Schema changes while the system runs: only `baedal migrate` changes a shared (PostgreSQL)
//! schema, and a release starts and serves on the next release's schema, so a rollback after
//! `baedal migrate` of the newer release never crash-loops.

use crate::procs::{Cluster, Part, SERVICE_TOKEN, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What the next release's migration does to each store: a new nullable column on a table
/// this release writes, a table this release does not know, and its row in `_sqlx_migrations`
/// (a version this release has never heard of).
async fn apply_next_release(url: &str, table: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    for sql in [
        format!("ALTER TABLE {table} ADD COLUMN next_release_note TEXT"),
        "CREATE TABLE next_release_things (id BIGINT PRIMARY KEY, what TEXT)".to_owned(),
    ] {
        sqlx::query(&sql).execute(&pool).await.expect(&sql);
    }
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101, 'next release', TRUE, $1, 1)",
    )
    .bind(vec![7u8; 48])
    .execute(&pool)
    .await
    .expect("record the next release's migration");
    pool.close().await;
}

#[tokio::test]
async fn a_release_starts_and_serves_on_the_next_releases_schema() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("schema");
    let read_model = c.setting("DATABASE_URL").unwrap().to_owned();
    let ledger = c.setting("BAEDAL_PAYMENT_DATABASE_URL").unwrap().to_owned();
    let notify = c.setting("BAEDAL_NOTIFY_DATABASE_URL").unwrap().to_owned();

    if read_model.starts_with("postgres") {
        // A role never migrates a shared database: before the deploy's migrate step it
        // refuses to start, and says what to run.
        let (code, err) = c.run_stderr(&["payment"]);
        assert_ne!(code, 0);
        assert!(err.contains("baedal migrate"), "{err}");
    }
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
    assert_eq!(code, 0, "{out}");

    // The next release's `baedal migrate` ran (its Job), then the rollout was rolled back.
    apply_next_release(&read_model, "orders").await;
    apply_next_release(&ledger, "payments").await;
    apply_next_release(&notify, "notifications").await;
    // This release's migrate Job runs again on the newer schema: nothing to do, no error.
    let (code, out) = c.run(&["migrate"]);
    assert_eq!(code, 0, "{out}");

    for p in [
        Part::Temporal,
        Part::Payment,
        Part::Notify,
        Part::Worker,
        Part::Api,
    ] {
        c.start(p);
    }
    for url in [&c.api, &c.payment, &c.notify] {
        c.wait_healthy(url, 90).await;
    }
    // Every role serves: an order is placed, paid, projected, read back and notified.
    let cust = token("customer", "schema-cust", None);
    let http = reqwest::Client::new();
    let placed = http
        .post(format!("{}/v1/orders", c.api))
        .bearer_auth(&cust)
        .header("Idempotency-Key", "schema-1")
        .json(&json!({
            "store_id": "st_3",
            "items": [{"menu_item_id": "mi_3_1", "quantity": 1}],
            "delivery": {"address": "서울 마포구 양화로 1", "region": "mapo", "lat": 37.556, "lon": 126.923},
            "payment": {"card_token": "tok_ok"}
        }))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["payment"]["status"], "succeeded");
    let read: Value = http
        .get(format!("{}/v1/orders/{id}", c.api))
        .bearer_auth(&cust)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "placed");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let inbox: Value = http
            .get(format!("{}/v1/notifications?order_id={id}", c.notify))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if inbox["notifications"]
            .as_array()
            .is_some_and(|n| !n.is_empty())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no notification on the newer schema; logs in {}",
            c.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `baedal migrate --wait` (every pod's init container) applies nothing and lets a pod start
/// only once this release's `baedal migrate` (the Job) has run: on stores with no schema it
/// gives up after its patience saying which Job to look at; started before the Job, it waits
/// and returns once the Job is done.
#[tokio::test]
async fn pods_wait_for_the_release_migration_and_apply_nothing() {
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let c = Cluster::new("migrate-wait");
    let (code, out) = c.run_stderr(&["migrate", "--wait", "3s"]);
    assert_ne!(
        code, 0,
        "waited on a store with no schema and said fine: {out}"
    );
    assert!(out.contains("baedal-migrate"), "{out}");

    let mut waiter = c.spawn("waiter", &["migrate", "--wait", "120s"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        waiter.try_wait().unwrap().is_none(),
        "the waiter did not wait for the migration"
    );
    let (code, out) = c.run(&["migrate"]);
    assert_eq!(code, 0, "{out}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = waiter.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the waiter still waits after the migration"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        status.success(),
        "{:?}",
        std::fs::read_to_string(c.dir.join("waiter.log"))
    );

    // What does not mend by waiting fails at once, not after its patience (a pod would
    // otherwise sit in Init for ten minutes, blaming the Job): on PostgreSQL, a database that
    // does not exist (as a refused login, or a certificate that does not verify).
    let url = c.setting("DATABASE_URL").unwrap().to_owned();
    if url.starts_with("postgres") {
        let (server, _db) = url.rsplit_once('/').unwrap();
        let started = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_baedal"))
            .args(["migrate", "--wait", "60s"])
            .env("DATABASE_URL", format!("{server}/no_such_database_here"))
            .env("BAEDAL_DATA_DIR", &c.dir)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{said}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a missing database was waited out: {said}"
        );
    }
}
