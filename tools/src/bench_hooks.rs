//! `baedal bench hooks`: webhook delivery against a running `baedal dev` started with
//! `BAEDAL_HOOKS_ALLOW_PRIVATE=1` (the receiver is local). It serves a receiver that answers
//! each delivery after a fixed delay, registers `hooks` hooks for every event to it, places
//! and accepts orders at a steady rate, and reports deliveries and events per second and the
//! delay from each command's answer at the client to the event's arrival at each hook.
//! The hooks are deleted afterwards.

use crate::loadgen::{dev_token, histogram, ms};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Per event `(order_id, status)`: when the command that caused it was answered.
type Answered = Arc<Mutex<HashMap<(String, String), Instant>>>;
/// Per webhook-id: when it first arrived, and what event it was.
type Arrivals = Arc<Mutex<HashMap<String, (Instant, String, String)>>>;

#[derive(Clone)]
struct Receiver {
    delay: Duration,
    arrivals: Arrivals,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let at = Instant::now();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let order = v["data"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let status = v["data"]["status"].as_str().unwrap_or_default().to_owned();
    r.arrivals
        .lock()
        .expect("arrivals")
        .entry(id)
        .or_insert((at, order, status));
    tokio::time::sleep(r.delay).await;
    axum::http::StatusCode::NO_CONTENT
}

/// Run the benchmark: `hooks` hooks, a receiver answering after `receiver_delay`, `rate`
/// orders per second (each placed, then accepted: two events) for `duration`.
pub async fn hooks(
    api: &str,
    hooks: usize,
    receiver_delay: Duration,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Value> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrivals: Arrivals = Arc::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(Receiver {
            delay: receiver_delay,
            arrivals: arrivals.clone(),
        });
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let ops = dev_token(&http, api, json!({"role": "ops", "sub": "bench-hooks"})).await?;
    let owner = dev_token(
        &http,
        api,
        json!({"role": "store_owner", "sub": "bench-hooks-owner", "store_id": "st_1"}),
    )
    .await?;
    let customer = dev_token(
        &http,
        api,
        json!({"role": "customer", "sub": "bench-hooks-cust"}),
    )
    .await?;
    let mut ids = vec![];
    for _ in 0..hooks {
        let r = http
            .post(format!("{api}/v1/hooks"))
            .bearer_auth(&ops)
            .json(&json!({"url": url, "events": ["order.placed", "order.accepted"]}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "registering a hook: {} {} (is `baedal dev` running with BAEDAL_HOOKS_ALLOW_PRIVATE=1?)",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let v: Value = r.json().await?;
        ids.push(v["id"].as_str().unwrap_or_default().to_owned());
    }

    // Orders at a steady rate, each placed then accepted, each command's answer timed.
    let answered: Answered = Arc::default();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.01)));
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < duration {
        ticker.tick().await;
        let (http, api, customer, owner, answered) = (
            http.clone(),
            api.to_owned(),
            customer.clone(),
            owner.clone(),
            answered.clone(),
        );
        tasks.spawn(async move {
            let r = http
                .post(format!("{api}/v1/orders"))
                .bearer_auth(&customer)
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&json!({
                    "store_id": "st_1",
                    "items": [{"menu_item_id": "mi_1_1", "quantity": 1}],
                    "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.499, "lon": 127.03},
                    "payment": {"card_token": "tok_ok"}
                }))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "placing: {}", r.status());
            let at = Instant::now();
            let v: Value = r.json().await?;
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            answered
                .lock()
                .expect("answers")
                .insert((id.clone(), "placed".into()), at);
            let r = http
                .post(format!("{api}/v1/store/orders/{id}/accept"))
                .bearer_auth(&owner)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "accepting: {}", r.status());
            answered
                .lock()
                .expect("answers")
                .insert((id, "accepted".into()), Instant::now());
            Ok(())
        });
    }
    let mut errors = 0u64;
    while let Some(r) = tasks.join_next().await {
        if !matches!(r, Ok(Ok(()))) {
            errors += 1;
        }
    }
    let commands_done = started.elapsed();
    let owed = answered.lock().expect("answers").len() * hooks;
    // Wait for the deliveries to drain (or stop after a minute of no progress).
    let mut last = (0, Instant::now());
    loop {
        let n = arrivals.lock().expect("arrivals").len();
        if n >= owed {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let answered = answered.lock().expect("answers").clone();
    let arrivals = arrivals.lock().expect("arrivals").clone();
    let mut delay: Histogram<u64> = histogram();
    let mut last_arrival = started;
    for (at, order, status) in arrivals.values() {
        last_arrival = last_arrival.max(*at);
        // The event can beat the command's answer to the client: count that as no delay.
        if let Some(t) = answered.get(&(order.clone(), status.clone())) {
            let micros = at.saturating_duration_since(*t).as_micros().max(1) as u64;
            let _ = delay.record(micros.min(600_000_000));
        }
    }
    let window = last_arrival
        .duration_since(started)
        .as_secs_f64()
        .max(0.001);
    for id in &ids {
        let _ = http
            .delete(format!("{api}/v1/hooks/{id}"))
            .bearer_auth(&ops)
            .send()
            .await;
    }
    Ok(json!({
        "bench": "hooks",
        "hooks": hooks,
        "receiver_delay_ms": receiver_delay.as_millis() as u64,
        "orders_per_s": rate,
        "commands_s": commands_done.as_secs_f64(),
        "command_errors": errors,
        "events": answered.len(),
        "deliveries_owed": owed,
        "deliveries_arrived": arrivals.len(),
        "window_s": (window * 10.0).round() / 10.0,
        "deliveries_per_s": (arrivals.len() as f64 / window).round(),
        "events_per_s_to_all_hooks": ((arrivals.len() as f64 / hooks.max(1) as f64) / window * 10.0).round() / 10.0,
        "delay_from_answer": {
            "p50_ms": ms(&delay, 0.5), "p90_ms": ms(&delay, 0.9), "p99_ms": ms(&delay, 0.99),
            "max_ms": ms(&delay, 1.0)
        },
    }))
}
