//! `baedal bench`: the read side's figures against a running `baedal dev` (tokens come from
//! its `/v1/dev/tokens`), printed as one JSON object each for BENCHMARKS.md.
//!
//! - `reads`: `GET /v1/orders/{id}` at a fixed rate (open loop: requests are sent on schedule
//!   whether or not earlier ones answered, so queueing shows in the tail); then the same read
//!   and a Temporal query of the same order, each one at a time, for the p50 speed-up.
//! - `boards`: the store board, the rider board and `GET /v1/orders` over the orders that
//!   `baedal readmodel seed` added.
//! - `sse`: many store-stream subscribers; the delay from a command's answer to its event at
//!   each of them, and the api's memory with them connected.

use crate::loadgen::{dev_token, histogram, ms};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn summary(h: &Histogram<u64>) -> Value {
    json!({"count": h.len(), "p50_ms": ms(h, 0.5), "p90_ms": ms(h, 0.9), "p99_ms": ms(h, 0.99), "max_ms": ms(h, 1.0),
        "p50_us": h.value_at_quantile(0.5), "p99_us": h.value_at_quantile(0.99)})
}

fn record(h: &Mutex<Histogram<u64>>, since: Instant) {
    let micros = since.elapsed().as_micros().max(1) as u64;
    let _ = h.lock().expect("histogram").record(micros.min(60_000_000));
}

fn client(connections: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(connections)
        .build()?)
}

async fn place(
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

/// GETs of `url` sent on a fixed schedule of `rate` per second for `duration`, whether or not
/// earlier ones answered: (latencies, errors, the rate achieved).
async fn open_loop(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    rate: u32,
    duration: Duration,
) -> (Histogram<u64>, u64, f64) {
    let hist = Arc::new(Mutex::new(histogram()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < duration {
        ticker.tick().await;
        let (http, url, tok, hist, errors) = (
            http.clone(),
            url.to_owned(),
            token.to_owned(),
            hist.clone(),
            errors.clone(),
        );
        tasks.spawn(async move {
            let t = Instant::now();
            match http.get(url).bearer_auth(tok).send().await {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    record(&hist, t);
                }
                _ => {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    let h = hist.lock().expect("histogram").clone();
    let achieved = (h.len() + errors) as f64 / started.elapsed().as_secs_f64();
    (h, errors, achieved)
}

/// Status reads at `rate` per second for `duration`; then `queries` reads one at a time and as
/// many Temporal queries one at a time (the p50 speed-up compares those two).
///
/// The one-at-a-time comparison runs twice: on this (multi-threaded) runtime, and on a
/// single-threaded client of its own thread with its own HTTP client and Temporal connection
/// (`connect`). A multi-threaded client pays its own thread hand-offs on every request (hyper's
/// connection task and the caller wake each other across threads: ~110 µs of the ~190 µs a
/// read took, on the 2-vCPU VM); a single-threaded client is what a browser tab or a curl is,
/// and both paths are measured from the same kind of client each time.
pub async fn reads<C, F>(
    api: &str,
    rate: u32,
    duration: Duration,
    temporal: &temporalio_client::Client,
    queries: u32,
    connect: C,
) -> anyhow::Result<Value>
where
    C: FnOnce() -> F + Send + 'static,
    F: std::future::Future<Output = anyhow::Result<temporalio_client::Client>>,
{
    let http = client(256)?;
    let customer = dev_token(
        &http,
        api,
        json!({"role": "customer", "sub": "bench-reads"}),
    )
    .await?;
    let order = place(&http, api, &customer, "st_1", "mi_1_1").await?;
    let id = order["id"].as_str().unwrap_or_default().to_owned();
    // Warm the connection pool.
    for _ in 0..50 {
        http.get(format!("{api}/v1/orders/{id}"))
            .bearer_auth(&customer)
            .send()
            .await?;
    }
    let (read, errors, achieved) = open_loop(
        &http,
        &format!("{api}/v1/orders/{id}"),
        &customer,
        rate,
        duration,
    )
    .await;
    // The same loop on /healthz: what HTTP alone costs here (no token, no database).
    let (floor, _, _) = open_loop(
        &http,
        &format!("{api}/healthz"),
        &customer,
        rate,
        duration / 2,
    )
    .await;

    // Like for like: one read at a time on an idle system, so the p50s compare the two paths
    // and not the queueing of the 1,000/s loop.
    let multi = one_at_a_time(&http, api, &id, &customer, temporal, queries).await?;
    let single = {
        let (api, id, customer) = (api.to_owned(), id.clone(), customer.clone());
        tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async move {
                    let temporal = connect().await?;
                    let http = client(1)?;
                    one_at_a_time(&http, &api, &id, &customer, &temporal, queries).await
                })
        })
        .await??
    };
    Ok(json!({
        "bench": "reads",
        "target_rate_per_s": rate,
        "achieved_rate_per_s": (achieved * 10.0).round() / 10.0,
        "errors": errors,
        "read_model_get": summary(&read),
        "http_floor_healthz": summary(&floor),
        "one_at_a_time_single_threaded_client": single,
        "one_at_a_time_multi_threaded_client": multi,
    }))
}

/// `queries` of each, one at a time: `/healthz` (the HTTP floor), the status read, and a
/// Temporal query of the same order; each after a warm-up of its own.
async fn one_at_a_time(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    customer: &str,
    temporal: &temporalio_client::Client,
    queries: u32,
) -> anyhow::Result<Value> {
    let http_get = async |url: String, token: Option<&str>| -> anyhow::Result<Histogram<u64>> {
        let h = Mutex::new(histogram());
        for n in 0..queries + 50 {
            let t = Instant::now();
            let mut req = http.get(&url);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let r = req.send().await?;
            anyhow::ensure!(r.status().is_success(), "GET {url}: {}", r.status());
            r.bytes().await?;
            if n >= 50 {
                record(&h, t);
            }
        }
        Ok(h.into_inner().expect("histogram"))
    };
    let floor = http_get(format!("{api}/healthz"), None).await?;
    let read = http_get(format!("{api}/v1/orders/{id}"), Some(customer)).await?;

    let query = Mutex::new(histogram());
    let handle = temporal.get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.to_owned());
    for n in 0..queries + 20 {
        let t = Instant::now();
        handle
            .query(
                baedal_workflows::OrderWorkflow::order,
                (),
                temporalio_client::WorkflowQueryOptions::default(),
            )
            .await?;
        if n >= 20 {
            record(&query, t);
        }
    }
    let query = query.into_inner().expect("histogram");
    let speedup = query.value_at_quantile(0.5) as f64 / read.value_at_quantile(0.5).max(1) as f64;
    Ok(json!({
        "http_floor_healthz": summary(&floor),
        "read_model_get": summary(&read),
        "temporal_query": summary(&query),
        "p50_speedup": (speedup * 10.0).round() / 10.0,
    }))
}

/// `requests` reads of each board, `concurrency` at a time, over seeded orders.
#[allow(clippy::too_many_arguments)]
pub async fn boards(
    api: &str,
    requests: u32,
    concurrency: usize,
    stores: u32,
    customers: u32,
    limit: u32,
    radius_km: f64,
) -> anyhow::Result<Value> {
    let http = client(concurrency * 2)?;
    let mut out = serde_json::Map::new();
    let rider = dev_token(&http, api, json!({"role": "rider", "sub": "bench-rider"})).await?;
    let mut owners = Vec::new();
    for n in 0..8u32 {
        let store = format!("st_bench_{}", n * (stores / 8).max(1) % stores.max(1));
        owners.push(dev_token(&http, api, json!({"role": "store_owner", "sub": format!("bench-owner-{n}"), "store_id": store})).await?);
    }
    let mut custs = Vec::new();
    for n in 0..8u32 {
        let sub = format!("c_bench_{}", n * (customers / 8).max(1) % customers.max(1));
        custs.push(dev_token(&http, api, json!({"role": "customer", "sub": sub})).await?);
    }
    type Req = (String, String);
    let boards: Vec<(&str, Vec<Req>)> = vec![
        (
            "store_board",
            owners.iter().map(|t| (format!("/v1/store/orders?limit={limit}"), t.clone())).collect(),
        ),
        (
            "store_board_page_2",
            owners.iter().map(|t| (format!("/v1/store/orders?limit={limit}&cursor=0~2026-10-01T00:00:00.000Z~ord_bench_99999999"), t.clone())).collect(),
        ),
        (
            "store_board_status",
            owners.iter().map(|t| (format!("/v1/store/orders?status=completed&limit={limit}"), t.clone())).collect(),
        ),
        (
            "customer_orders",
            custs.iter().map(|t| (format!("/v1/orders?limit={limit}"), t.clone())).collect(),
        ),
        (
            "rider_board",
            [(37.5665, 126.978), (37.4979, 127.0276), (37.5572, 126.9245), (37.5133, 127.1001)]
                .iter()
                .map(|(lat, lon)| (format!("/v1/rider/deliveries?lat={lat}&lon={lon}&radius_km={radius_km}&limit={limit}"), rider.clone()))
                .collect(),
        ),
    ];
    for (name, reqs) in boards {
        let hist = Arc::new(Mutex::new(histogram()));
        let next = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut items = 0u64;
        let mut tasks = tokio::task::JoinSet::new();
        let reqs = Arc::new(reqs);
        for _ in 0..concurrency {
            let (http, hist, next, reqs, api) = (
                http.clone(),
                hist.clone(),
                next.clone(),
                reqs.clone(),
                api.to_owned(),
            );
            tasks.spawn(async move {
                let mut items = 0u64;
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= requests {
                        return Ok::<u64, anyhow::Error>(items);
                    }
                    let (path, tok) = &reqs[n as usize % reqs.len()];
                    let t = Instant::now();
                    let r = http
                        .get(format!("{api}{path}"))
                        .bearer_auth(tok)
                        .send()
                        .await?;
                    anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
                    let v: Value = r.json().await?;
                    record(&hist, t);
                    items += v
                        .as_object()
                        .and_then(|o| o.values().find_map(Value::as_array))
                        .map_or(0, |a| a.len()) as u64;
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            items += r??;
        }
        let h = hist.lock().expect("histogram").clone();
        let mut s = summary(&h);
        s["avg_items"] = json!(items as f64 / requests.max(1) as f64);
        out.insert(name.to_owned(), s);
    }
    Ok(
        json!({"bench": "boards", "requests_each": requests, "concurrency": concurrency, "boards": out}),
    )
}

/// `subscribers` store-stream clients of store st_1; `orders` orders placed one after another.
/// Each event's delay is from the place-order's answer to the event at the subscriber.
pub async fn sse(
    api: &str,
    subscribers: usize,
    orders: u32,
    pid: Option<u32>,
) -> anyhow::Result<Value> {
    let http = client(16)?;
    let owner = dev_token(
        &http,
        api,
        json!({"role": "store_owner", "sub": "bench-sse", "store_id": "st_1"}),
    )
    .await?;
    let customer = dev_token(
        &http,
        api,
        json!({"role": "customer", "sub": "bench-sse-cust"}),
    )
    .await?;
    let rss_before = pid.and_then(rss_kib);
    // Each subscriber on its own connection, as each would be a phone.
    let answered: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
    let hist = Arc::new(Mutex::new(histogram()));
    let connected = Arc::new(tokio::sync::Semaphore::new(0));
    let mut subs = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        let (api, owner, answered, hist, connected) = (
            api.to_owned(),
            owner.clone(),
            answered.clone(),
            hist.clone(),
            connected.clone(),
        );
        subs.spawn(async move {
            let http = reqwest::Client::builder().build()?;
            let mut resp = http
                .get(format!("{api}/v1/store/orders/events"))
                .bearer_auth(&owner)
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "subscribing: {}", resp.status());
            connected.add_permits(1);
            let mut buf = String::new();
            let mut seen = 0u32;
            while let Some(chunk) = resp.chunk().await? {
                let at = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                        continue;
                    };
                    let v: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                    if v["status"] != "placed" {
                        continue;
                    }
                    let id = v["id"].as_str().unwrap_or_default();
                    // The event may beat the command's answer: wait for the answer's time.
                    let since = loop {
                        if let Some(t) = answered.lock().expect("answers").get(id) {
                            break Some(*t);
                        }
                        if at.elapsed() > Duration::from_secs(10) {
                            break None;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    };
                    if let Some(t) = since {
                        let micros = at.saturating_duration_since(t).as_micros() as u64;
                        let _ = hist
                            .lock()
                            .expect("histogram")
                            .record(micros.clamp(1, 60_000_000));
                        seen += 1;
                    }
                }
                if seen >= orders {
                    break;
                }
            }
            Ok::<u32, anyhow::Error>(seen)
        });
    }
    let waited = Instant::now();
    let _all = tokio::time::timeout(
        Duration::from_secs(120),
        connected.acquire_many(subscribers as u32),
    )
    .await
    .map_err(|_| anyhow::anyhow!("not all {subscribers} subscribers connected within 120 s"))??;
    let connect_s = waited.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = pid.and_then(rss_kib);
    for _ in 0..orders {
        let o = place(&http, api, &customer, "st_1", "mi_1_1").await?;
        let t = Instant::now();
        answered
            .lock()
            .expect("answers")
            .insert(o["id"].as_str().unwrap_or_default().to_owned(), t);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut delivered = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Some(r)) = tokio::time::timeout_at(deadline, subs.join_next()).await {
        delivered += r?? as u64;
    }
    subs.abort_all();
    let h = hist.lock().expect("histogram").clone();
    Ok(json!({
        "bench": "sse",
        "subscribers": subscribers,
        "orders": orders,
        "events_expected": subscribers as u64 * orders as u64,
        "events_delivered": delivered,
        "connect_all_s": (connect_s * 100.0).round() / 100.0,
        "command_to_event": summary(&h),
        "api_rss_mib_before": rss_before.map(|k| k / 1024),
        "api_rss_mib_connected": rss_connected.map(|k| k / 1024),
    }))
}

/// Resident memory of process `pid`, KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
