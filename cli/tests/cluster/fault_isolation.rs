//! Fault isolation with the parts as separate processes: orders are taken and paid while the
//! store api is down, and reach its board when it returns; with the notification service down
//! orders still flow, and their notifications arrive, once each, when it is back. And the
//! worker as a Deployment runs it (`baedal worker`, alone) does its background work.

use crate::procs;
use crate::sse;

use procs::{Cluster, Part, SERVICE_TOKEN, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn post(
    base: &str,
    tok: &str,
    path: &str,
    body: Option<Value>,
    key: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(tok)
        .timeout(Duration::from_secs(30));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(base: &str, tok: &str, path: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(tok)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn order_body() -> Value {
    json!({
        "store_id": "st_3",
        "items": [{"menu_item_id": "mi_3_1", "quantity": 1}],
        "delivery": {"address": "서울 마포구 양화로 1", "region": "mapo", "lat": 37.556, "lon": 126.923},
        "payment": {"card_token": "tok_ok"}
    })
}

async fn inbox(notify: &str, order_id: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{notify}/v1/notifications?order_id={order_id}"))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await;
    match r {
        Ok(r) if r.status().is_success() => {
            let v: Value = r.json().await.unwrap();
            v["notifications"].as_array().cloned().unwrap_or_default()
        }
        _ => vec![],
    }
}

#[tokio::test]
async fn orders_flow_while_store_api_and_notifications_are_down() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("isolation");
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
    assert_eq!(code, 0, "{out}");
    for p in [
        Part::Temporal,
        Part::Payment,
        Part::Notify,
        Part::Worker,
        Part::OrderApi,
        Part::StoreApi,
        Part::RiderApi,
    ] {
        c.start(p);
    }
    for url in [
        &c.order_api,
        &c.store_api,
        &c.rider_api,
        &c.payment,
        &c.notify,
    ] {
        c.wait_healthy(url, 90).await;
    }
    // Outside `baedal dev` no api mints tokens.
    let minted = reqwest::Client::new()
        .post(format!("{}/v1/dev/tokens", c.order_api))
        .json(&serde_json::json!({"role": "ops", "sub": "mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), reqwest::StatusCode::NOT_FOUND);
    let cust = token("customer", "iso-cust", None);
    let owner = token("store_owner", "iso-owner", Some("st_3"));

    // The store api goes down; customers keep ordering and paying.
    c.kill(Part::StoreApi);
    let mut ids = Vec::new();
    for n in 0..3 {
        let (s, o) = post(
            &c.order_api,
            &cust,
            "/v1/orders",
            Some(order_body()),
            Some(&format!("iso-{n}")),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{o}");
        assert_eq!(o["payment"]["status"], "succeeded");
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    // The order api does not serve store endpoints: that is the store api's job.
    let (s, _) = get(&c.order_api, &owner, "/v1/store/orders").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The store api returns and finds the orders on its board.
    c.start(Part::StoreApi);
    c.wait_healthy(&c.store_api, 60).await;
    let (s, board) = get(&c.store_api, &owner, "/v1/store/orders?status=placed").await;
    assert_eq!(s, StatusCode::OK);
    for id in &ids {
        assert!(
            board.to_string().contains(id.as_str()),
            "{id} missing from {board}"
        );
    }

    // The notification service goes down; every api stays ready (it needs only Temporal and
    // the read model), so do the worker (probed on its metrics port) and the payment service
    // (its own database), and an order still goes all the way.
    c.kill(Part::Notify);
    for api in [
        &c.order_api,
        &c.store_api,
        &c.rider_api,
        &c.worker_admin,
        &c.payment,
    ] {
        let r = reqwest::get(format!("{api}/readyz")).await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{api} not ready without notifications: {body}"
        );
        assert_eq!(body["ready"], true);
        assert!(
            body["checks"].as_object().is_some_and(|c| !c.is_empty()),
            "{api}/readyz names its checks: {body}"
        );
    }
    let id = ids[0].clone();
    let rider = token("rider", "iso-rider", None);
    // The customer follows the order on the order api while the store api (another process,
    // beside a separate worker) moves it: the change reaches the stream through the database.
    let (st, stream, body) = sse::open(
        &format!("{}/v1/orders/{id}/events", c.order_api),
        Some(&cust),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let mut stream = stream.unwrap();
    let first = stream.next_event(Duration::from_secs(10)).await.unwrap();
    assert_eq!(first.event, "placed");
    for step in ["accept", "start-cooking", "finish-cooking"] {
        let (s, b) = post(
            &c.store_api,
            &owner,
            &format!("/v1/store/orders/{id}/{step}"),
            None,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{step}: {b}");
        let e = stream.next_event(Duration::from_secs(10)).await;
        assert_eq!(
            e.map(|e| e.data["status"].clone()),
            Some(b["status"].clone())
        );
    }
    drop(stream);
    // The rider reports where each step happens first, as a rider's app does: at the store
    // for the claim and the pickup, at the door for the deliver.
    let (_, order) = get(&c.order_api, &cust, &format!("/v1/orders/{id}")).await;
    let at_store = (
        order["pickup"]["lat"].clone(),
        order["pickup"]["lon"].clone(),
    );
    let at_door = (
        order["delivery"]["lat"].clone(),
        order["delivery"]["lon"].clone(),
    );
    for step in ["claim", "pickup", "deliver"] {
        let (lat, lon) = if step == "deliver" {
            &at_door
        } else {
            &at_store
        };
        let (s, b) = post(
            &c.rider_api,
            &rider,
            "/v1/rider/location",
            Some(json!({"lat": lat, "lon": lon})),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "report for {step}: {b}");
        let (s, b) = post(
            &c.rider_api,
            &rider,
            &format!("/v1/rider/deliveries/{id}/{step}"),
            None,
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{step}: {b}");
    }
    let (s, b) = post(
        &c.order_api,
        &cust,
        &format!("/v1/orders/{id}/confirm"),
        None,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "completed");

    // `baedal readmodel rebuild` on the running system changes nothing that is right.
    let before = get(&c.store_api, &owner, "/v1/store/orders?limit=100").await;
    let (code, out) = c.run(&["readmodel", "rebuild"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rebuilt"), "{out}");
    assert_eq!(
        get(&c.store_api, &owner, "/v1/store/orders?limit=100").await,
        before
    );

    // It comes back: all eight notifications arrive, each once.
    c.start(Part::Notify);
    c.wait_healthy(&c.notify, 60).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let seqs = loop {
        let notes = inbox(&c.notify, &id).await;
        let mut seqs: Vec<(String, u64)> = notes
            .iter()
            .map(|n| {
                (
                    n["recipient"].as_str().unwrap().to_owned(),
                    n["seq"].as_u64().unwrap(),
                )
            })
            .filter(|(r, _)| r == "customer:iso-cust")
            .collect();
        seqs.sort();
        if seqs.len() >= 8 || Instant::now() > deadline {
            break seqs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let just_seqs: Vec<u64> = seqs.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        just_seqs,
        (1..=8).collect::<Vec<_>>(),
        "each notification once, none lost"
    );
}

/// Outside `baedal dev`, no role starts on an unset, default or short secret, and the error
/// names the variable. Checked before anything is bound or connected, so no servers needed.
#[test]
fn roles_refuse_to_start_on_missing_default_or_short_secrets() {
    let good = "x".repeat(40);
    let key = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    // (role, BAEDAL_JWT_SECRET, BAEDAL_SERVICE_TOKEN, BAEDAL_PAYLOAD_KEY, the variable named)
    let cases = [
        (
            "payment",
            None,
            Some(good.as_str()),
            None,
            "BAEDAL_JWT_SECRET",
        ),
        (
            "payment",
            Some(good.as_str()),
            None,
            None,
            "BAEDAL_SERVICE_TOKEN",
        ),
        (
            "notify",
            Some(good.as_str()),
            Some("short"),
            None,
            "BAEDAL_SERVICE_TOKEN",
        ),
        // The worker reads no JWT secret (it verifies no one's token), only the service token.
        (
            "worker",
            Some(good.as_str()),
            Some("baedal-dev-service-token"),
            Some(key),
            "BAEDAL_SERVICE_TOKEN",
        ),
        (
            "reconcile",
            None,
            Some("short"),
            Some(key),
            "BAEDAL_SERVICE_TOKEN",
        ),
        (
            "api",
            Some("too-short-for-a-jwt-secret"),
            Some(good.as_str()),
            Some(key),
            "BAEDAL_JWT_SECRET",
        ),
        // Without a payload key card data would reach Temporal in plaintext.
        (
            "api",
            Some(good.as_str()),
            Some(good.as_str()),
            None,
            "BAEDAL_PAYLOAD_KEY",
        ),
        (
            "worker",
            Some(good.as_str()),
            Some(good.as_str()),
            Some("k1:dG9vLXNob3J0"),
            "BAEDAL_PAYLOAD_KEY",
        ),
    ];
    for (role, jwt, service, payload_key, named) in cases {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_baedal"));
        cmd.env_remove("BAEDAL_JWT_SECRET")
            .env_remove("BAEDAL_SERVICE_TOKEN")
            .env_remove("BAEDAL_PAYLOAD_KEY")
            // The worker's payment token is good here: each case is about the variable named.
            .env("BAEDAL_PAYMENT_TOKEN", "p".repeat(40))
            .env(
                "BAEDAL_DATA_DIR",
                std::env::temp_dir().join("baedal-secrets-test"),
            )
            .arg(role);
        if let Some(j) = jwt {
            cmd.env("BAEDAL_JWT_SECRET", j);
        }
        if let Some(t) = service {
            cmd.env("BAEDAL_SERVICE_TOKEN", t);
        }
        if let Some(k) = payload_key {
            cmd.env("BAEDAL_PAYLOAD_KEY", k);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{role} started with a bad {named}");
        assert!(
            stderr.contains(named),
            "{role}: the error should name {named}: {stderr}"
        );
    }
}

/// A rider's position is personal data the README promises to keep at most five minutes: the
/// worker, run as a Deployment runs it (`baedal worker`, a process of its own), deletes those
/// past their use and keeps the fresh ones. (It once did so only inside `baedal dev`.)
#[tokio::test]
async fn a_standalone_worker_forgets_rider_positions_past_their_use() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("positions");
    let (code, out) = c.run(&["migrate"]);
    assert_eq!(code, 0, "{out}");
    let rm = baedal_readmodel::ReadModel::open(c.setting("DATABASE_URL").unwrap())
        .await
        .unwrap();
    let at = |ago: i64| {
        let t = chrono::Utc::now() - chrono::Duration::seconds(ago);
        baedal_readmodel::RiderLocation {
            lat: 37.5,
            lon: 127.0,
            at: t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    };
    let limit = baedal_domain::eta::FIX_FRESH_FOR_SECS;
    rm.save_rider_location("rider-stale", &at(limit + 60))
        .await
        .unwrap();
    rm.save_rider_location("rider-fresh", &at(5)).await.unwrap();

    c.start(Part::Temporal);
    c.start(Part::Worker);
    c.wait_healthy(&c.worker_admin, 90).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rm.rider_location("rider-stale").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "a standalone worker kept a position older than {limit} s; logs in {}",
            c.dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        rm.rider_location("rider-fresh").await.unwrap().is_some(),
        "a fresh position is still of use"
    );
}
