//! `reads`: the order read at a fixed rate, and beside a Temporal query.

use super::{client, dev_token, histogram, place, record, summary};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// GETs of `url` sent on a fixed schedule of `rate` per second for `duration`, whether or not
/// earlier ones answered: (latencies, errors, the rate achieved).
pub(super) async fn open_loop(
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
pub(super) async fn one_at_a_time(
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
