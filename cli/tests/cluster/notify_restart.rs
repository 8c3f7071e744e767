//! The notification service SIGKILLed mid-backlog, with the parts as separate processes: a
//! webhook receiver hangs and the KakaoTalk gateway fails while orders move, so deliveries and
//! messages pile up (some leased to attempts in flight, the rest waiting for their next
//! attempt); the service is killed,
//! orders keep moving while it is dead, it comes back, the receivers come back, and every event
//! reaches the hook and every message the gateway: nothing lost, each exactly once after dedup.

use crate::kakao_provider;
use crate::procs;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use procs::{Cluster, Part, SERVICE_TOKEN, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An event: `(order id, status)`.
type Event = (String, String);

#[derive(Clone, Default)]
struct Receiver {
    down: Arc<AtomicBool>,
    /// webhook-id → (order id, status) of the deliveries answered 2xx, and how many times.
    taken: Arc<Mutex<HashMap<String, (Event, u32)>>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxumStatus {
    if r.down.load(Ordering::SeqCst) {
        // Down as a hung receiver is: attempts stay in flight (leased) until they time out.
        tokio::time::sleep(Duration::from_secs(20)).await;
        return AxumStatus::SERVICE_UNAVAILABLE;
    }
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let what = (
        v["data"]["order_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        v["data"]["status"].as_str().unwrap_or_default().to_owned(),
    );
    r.taken.lock().unwrap().entry(id).or_insert((what, 0)).1 += 1;
    AxumStatus::NO_CONTENT
}

async fn call(
    method: reqwest::Method,
    url: String,
    tok: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(tok)
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// How many notifications the service holds for `orders` (0 while it is down).
async fn accepted(notify: &str, orders: &[String]) -> usize {
    let mut n = 0;
    for id in orders {
        let r = reqwest::Client::new()
            .get(format!(
                "{notify}/v1/notifications?order_id={id}&recipient=customer:restart-cust"
            ))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            let v: Value = r.json().await.unwrap();
            n += v["notifications"].as_array().map_or(0, Vec::len);
        }
    }
    n
}

#[tokio::test]
async fn a_notification_service_killed_mid_backlog_loses_nothing() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let receiver = Receiver::default();
    receiver.down.store(true, Ordering::SeqCst);
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(hook_listener, app).await.unwrap() });
    let gateway_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", gateway_listener.local_addr().unwrap());
    tokio::spawn(kakao_provider::serve(gateway_listener));
    let gateway_down = |down: bool| {
        let url = format!("{gateway}/down");
        async move {
            let r = reqwest::Client::new()
                .put(url)
                .json(&down)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    gateway_down(true).await;

    let mut c = Cluster::new("notifyrestart");
    c.set_env("BAEDAL_HOOKS_ALLOW_PRIVATE", "1");
    // Attempts a second apart, many of them: the backlog outlives the outage, none gives up.
    c.set_env("BAEDAL_HOOKS_RETRY_SCHEDULE", &["1s"; 60].join(","));
    c.set_env("BAEDAL_KAKAO_RETRY_SCHEDULE", &["1s"; 60].join(","));
    c.set_env("BAEDAL_KAKAO_URL", &format!("{gateway}/v2/alimtalk/send"));
    c.set_env("BAEDAL_KAKAO_KEY", kakao_provider::KEY);
    c.set_env("BAEDAL_KAKAO_SENDER", kakao_provider::SENDER);
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
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
    let ops = token("ops", "restart-ops", None);
    let (s, hook) = call(
        reqwest::Method::POST,
        format!("{}/v1/hooks", c.api),
        &ops,
        Some(json!({"url": hook_url, "events": ["*"]})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{hook}");
    let cust = token("customer", "restart-cust", None);
    let number = "01077770000";
    // KakaoTalk goes only to a proven number: its one-time code goes out while the gateway is
    // up, then the gateway goes down again.
    gateway_down(false).await;
    let (s, sent) = call(
        reqwest::Method::POST,
        format!("{}/v1/me/phone/verify", c.api),
        &cust,
        Some(json!({"phone": number})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    let code = kakao_provider::code_for(&gateway, number).await.unwrap();
    let (s, proven) = call(
        reqwest::Method::POST,
        format!("{}/v1/me/phone/confirm", c.api),
        &cust,
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{proven}");
    gateway_down(true).await;
    let (s, prefs) = call(
        reqwest::Method::PUT,
        format!("{}/v1/me/notifications", c.api),
        &cust,
        Some(json!({"kakao": true, "inbox": true, "phone": number})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{prefs}");
    let owner = token("store_owner", "restart-owner", Some("st_3"));

    // Orders placed and accepted: two events each, owed to the hook and to the gateway.
    let mut orders: Vec<String> = vec![];
    let api = c.api.clone();
    let place_and_accept = |tag: String| {
        let (api, cust, owner) = (api.clone(), cust.clone(), owner.clone());
        async move {
            let r = reqwest::Client::new()
                .post(format!("{api}/v1/orders"))
                .bearer_auth(&cust)
                .header("Idempotency-Key", tag)
                .timeout(Duration::from_secs(30))
                .json(&json!({
                    "store_id": "st_3",
                    "items": [{"menu_item_id": "mi_3_1", "quantity": 1}],
                    "delivery": {"address": "서울 마포구 양화로 1", "region": "mapo", "lat": 37.556, "lon": 126.923},
                    "payment": {"card_token": "tok_ok"}
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let o: Value = r.json().await.unwrap();
            let id = o["id"].as_str().unwrap().to_owned();
            let (s, o) = call(
                reqwest::Method::POST,
                format!("{api}/v1/store/orders/{id}/accept"),
                &owner,
                None,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{o}");
            id
        }
    };
    for n in 0..8 {
        orders.push(place_and_accept(format!("restart-{n}")).await);
    }
    // The service holds them all, and has been trying the receivers for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted(&c.notify, &orders).await < 2 * orders.len() {
        assert!(Instant::now() < deadline, "notifications not all accepted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Killed mid-backlog; orders keep moving while it is dead (the worker retries).
    c.kill(Part::Notify);
    for n in 8..12 {
        orders.push(place_and_accept(format!("restart-{n}")).await);
    }
    c.start(Part::Notify);
    c.wait_healthy(&c.notify, 60).await;
    receiver.down.store(false, Ordering::SeqCst);
    gateway_down(false).await;

    // Every event of every order, once per webhook-id.
    let want: BTreeSet<(String, String)> = orders
        .iter()
        .flat_map(|id| {
            [
                (id.clone(), "placed".to_owned()),
                (id.clone(), "accepted".to_owned()),
            ]
        })
        .collect();
    // The attempts in flight at the kill come back when their lease (3 × the 10 s timeout)
    // runs out.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let got: BTreeSet<(String, String)> = receiver
            .taken
            .lock()
            .unwrap()
            .values()
            .map(|(w, _)| w.clone())
            .collect();
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hook is missing {:?}",
            want.difference(&got).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let taken = receiver.taken.lock().unwrap().clone();
    assert_eq!(
        taken.len(),
        want.len(),
        "one webhook-id per event: {taken:?}"
    );

    // Every message reached the gateway once (by idempotency key), as AlimTalk.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reqs: Vec<Value> = reqwest::get(format!("{gateway}/requests"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let keys: BTreeSet<String> = reqs
            .iter()
            .filter(|r| {
                r["body"]["recipient"] == number
                    && r["body"]["template_code"] != kakao_provider::VERIFY_TEMPLATE
            })
            .map(|r| r["idempotency_key"].as_str().unwrap().to_owned())
            .collect();
        let mut sent = 0;
        for id in &orders {
            let (_, m) = call(
                reqwest::Method::GET,
                format!("{}/v1/kakao/messages?order_id={id}", c.notify),
                SERVICE_TOKEN,
                None,
            )
            .await;
            sent += m["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["status"] == "sent")
                .count();
        }
        if sent == want.len() {
            assert_eq!(keys.len(), want.len(), "one idempotency key per message");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{sent} of {} KakaoTalk messages sent",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
