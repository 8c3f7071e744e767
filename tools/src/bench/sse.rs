//! `sse`: many store-stream subscribers and the delay to each.

use super::{client, dev_token, histogram, place, summary};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
pub(super) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
