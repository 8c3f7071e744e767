//! `baedal-bench reads|boards|sse`: the read side's figures against a running `baedal dev` (tokens come from
//! its `/v1/dev/tokens`), printed as one JSON object each for BENCHMARKS.md.
//!
//! - `reads`: `GET /v1/orders/{id}` at a fixed rate (open loop: requests are sent on schedule
//!   whether or not earlier ones answered, so queueing shows in the tail); then the same read
//!   and a Temporal query of the same order, each one at a time, for the p50 speed-up.
//! - `boards`: the store board, the rider board and `GET /v1/orders` over the orders that
//!   `baedal-bench seed` added.
//! - `sse`: many store-stream subscribers; the delay from a command's answer to its event at
//!   each of them, and the api's memory with them connected.

mod boards;
mod reads;
mod sse;

pub use boards::boards;
pub use reads::reads;
pub use sse::sse;

use crate::loadgen::{dev_token, histogram, ms};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) fn summary(h: &Histogram<u64>) -> Value {
    json!({"count": h.len(), "p50_ms": ms(h, 0.5), "p90_ms": ms(h, 0.9), "p99_ms": ms(h, 0.99), "max_ms": ms(h, 1.0),
        "p50_us": h.value_at_quantile(0.5), "p99_us": h.value_at_quantile(0.99)})
}

pub(super) fn record(h: &Mutex<Histogram<u64>>, since: Instant) {
    let micros = since.elapsed().as_micros().max(1) as u64;
    let _ = h.lock().expect("histogram").record(micros.min(60_000_000));
}

pub(super) fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(connections)
        .build()?)
}

pub(super) async fn place(
    http: &reqwest::Client,
    api: &str,
    customer: &str,
    store: &str,
    item: &str,
) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{api}/v1/orders"))
        .bearer_auth(customer)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({
            "store_id": store,
            "items": [{"menu_item_id": item, "quantity": 1}],
            "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.499, "lon": 127.03},
            "payment": {"card_token": "tok_ok"}
        }))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "placing an order: {}", r.status());
    Ok(r.json().await?)
}
