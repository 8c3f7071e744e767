//! `boards`: the store board, the rider board and the customer's list over seeded orders.

use super::{client, dev_token, histogram, record, summary};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
