//! `baedal-bench loadgen`: simulated customers, store owners and riders driving full order
//! lifecycles through the public api at a set concurrency for a set time.
//!
//! The mix is about 85% completed, 5% canceled before cooking, 5% rejected and 5% declined
//! cards. Latencies go into HDR histograms (place-order, the other commands, status reads from
//! the read model); every error is counted by kind and shown, never hidden.

mod plot;
mod report;
mod sim;

pub use plot::plot_svg;
pub use report::Report;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sim::{Rider, Sim, catalog};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Options {
    pub api: String,
    pub concurrency: usize,
    pub duration: Duration,
    pub progress: bool,
    /// Also read each order through a Temporal query after each status read, to compare the
    /// read model with asking the workflow (the api never does the latter).
    pub temporal: Option<temporalio_client::Client>,
    /// Only place orders (card always approved) and leave them open: for measuring memory with
    /// many orders in flight.
    pub place_only: bool,
    /// Where the simulated users' tokens come from.
    pub tokens: Tokens,
}

/// Where loadgen's users get their tokens.
#[derive(Clone, Debug)]
pub enum Tokens {
    /// `POST /v1/dev/tokens` of a `baedal dev` api.
    Dev,
    /// Signed here with the deployment's HS256 secret, issuer and audience, as its identity
    /// provider would issue them (a deployment serves no dev tokens).
    Signed(baedal_auth::TokenKeys),
}

impl Tokens {
    async fn get(
        &self,
        http: &reqwest::Client,
        api: &str,
        role: baedal_auth::Role,
        sub: String,
        store_id: Option<&str>,
    ) -> anyhow::Result<String> {
        match self {
            Tokens::Dev => {
                let mut body = json!({"role": role.as_str(), "sub": sub});
                if let Some(store) = store_id {
                    body["store_id"] = json!(store);
                }
                dev_token(http, api, body).await
            }
            Tokens::Signed(keys) => {
                let exp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs()
                    + 24 * 3600;
                Ok(keys.sign(&baedal_auth::Claims {
                    sub,
                    role,
                    store_id: store_id.map(Into::into),
                    exp,
                }))
            }
        }
    }
}

pub(crate) struct Stats {
    pub(crate) place: Histogram<u64>,
    pub(crate) command: Histogram<u64>,
    pub(crate) read: Histogram<u64>,
    pub(crate) query: Histogram<u64>,
    /// Riders' position reports (`POST /v1/rider/location`).
    pub(crate) report: Histogram<u64>,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) by_path: BTreeMap<String, u64>,
}

pub(crate) fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

pub(crate) async fn dev_token(
    http: &reqwest::Client,
    api: &str,
    body: Value,
) -> anyhow::Result<String> {
    let r = http
        .post(format!("{api}/v1/dev/tokens"))
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    if status == reqwest::StatusCode::NOT_FOUND || !status.is_success() {
        let body = r.text().await.unwrap_or_default();
        anyhow::bail!(
            "POST /v1/dev/tokens answered {status} {body}: tokens come from the api of `baedal dev` (no other role serves /v1/dev/tokens), for stores in its catalog"
        );
    }
    let v: Value = r.json().await?;
    Ok(v["token"].as_str().unwrap_or_default().to_owned())
}

pub(crate) fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    (h.value_at_quantile(q) as f64 / 1000.0 * 10.0).round() / 10.0
}

pub async fn run(opts: Options) -> anyhow::Result<Report> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(opts.concurrency * 2)
        .build()?;
    let api = opts.api.trim_end_matches('/').to_owned();
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let tok = |role, sub: String, store: Option<String>| {
        let (http, api, tokens) = (&http, &api, &opts.tokens);
        async move { tokens.get(http, api, role, sub, store.as_deref()).await }
    };
    use baedal_auth::Role;
    let customer = tok(Role::Customer, format!("loadgen-{}", &run_id[..8]), None).await?;
    let shops = catalog(&http, &api).await?;
    let mut owners = Vec::new();
    for shop in &shops {
        owners.push(
            tok(
                Role::StoreOwner,
                format!("loadgen-{}", shop.id),
                Some(shop.id.clone()),
            )
            .await?,
        );
    }
    // Each slot's riders, one per store ([`Rider`]).
    let mut riders = Vec::with_capacity(opts.concurrency);
    for slot in 0..opts.concurrency {
        let mut mine = Vec::with_capacity(shops.len());
        for shop in &shops {
            let sub = format!("loadgen-rider-{}-{slot}-{}", &run_id[..8], shop.id);
            mine.push(Rider::new(tok(Role::Rider, sub, None).await?));
        }
        riders.push(mine);
    }
    let stats = Arc::new(Mutex::new(Stats {
        place: histogram(),
        command: histogram(),
        read: histogram(),
        query: histogram(),
        report: histogram(),
        errors: BTreeMap::new(),
        by_path: BTreeMap::new(),
    }));
    let requests = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let sim = Arc::new(Sim {
        http,
        api,
        customer,
        shops,
        owners,
        stats: stats.clone(),
        requests: requests.clone(),
        lost: lost.clone(),
        temporal: opts.temporal.clone(),
        place_only: opts.place_only,
    });
    let bar = if opts.progress {
        let b = ProgressBar::new(opts.duration.as_secs());
        b.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + opts.duration;
    let mut tasks = Vec::new();
    for mut riders in riders {
        let (sim, done, failed, counter) =
            (sim.clone(), done.clone(), failed.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match sim.lifecycle(n, &mut riders).await {
                    Ok(path) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        let name = format!("{path:?}").to_lowercase();
                        *sim.stats
                            .lock()
                            .expect("stats lock")
                            .by_path
                            .entry(name)
                            .or_default() += 1;
                    }
                    Err(kind) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        sim.error(kind);
                    }
                }
            }
        }));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let secs = started.elapsed().as_secs_f64();
        bar.set_position(started.elapsed().as_secs().min(opts.duration.as_secs()));
        bar.set_message(format!(
            "{} lifecycles ({:.1}/s), {} errors",
            done.load(Ordering::Relaxed),
            done.load(Ordering::Relaxed) as f64 / secs,
            failed.load(Ordering::Relaxed)
        ));
    }
    for t in tasks {
        t.await?;
    }
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let s = stats.lock().expect("stats lock");
    let completed = done.load(Ordering::Relaxed);
    Ok(Report {
        concurrency: opts.concurrency,
        duration_secs: (elapsed * 10.0).round() / 10.0,
        completed,
        completed_by_path: s.by_path.clone(),
        errors: failed.load(Ordering::Relaxed),
        errors_by_kind: s.errors.clone(),
        lost_in_flight: lost.load(Ordering::Relaxed),
        lifecycles_per_sec: ((completed as f64 / elapsed) * 100.0).round() / 100.0,
        place_p50_ms: ms(&s.place, 0.5),
        place_p99_ms: ms(&s.place, 0.99),
        command_p50_ms: ms(&s.command, 0.5),
        command_p99_ms: ms(&s.command, 0.99),
        status_read_p50_ms: ms(&s.read, 0.5),
        status_read_p99_ms: ms(&s.read, 0.99),
        query_read_p50_ms: ms(&s.query, 0.5),
        query_read_p99_ms: ms(&s.query, 0.99),
        location_report_p50_ms: ms(&s.report, 0.5),
        location_report_p99_ms: ms(&s.report, 0.99),
        requests: requests.load(Ordering::Relaxed),
    })
}
