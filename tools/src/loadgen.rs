//! `baedal loadgen`: simulated customers, store owners and riders driving full order
//! lifecycles through the public api at a set concurrency for a set time.
//!
//! The mix is about 85% completed, 5% canceled before cooking, 5% rejected and 5% declined
//! cards. Latencies go into HDR histograms (place-order, the other commands, status reads from
//! the read model); every error is counted by kind and shown, never hidden.

use baedal_domain::{Action, Party};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A store of the catalog the api serves, with the first item it has on sale. Read from the
/// api at start (`GET /v1/stores`, `/v1/stores/{id}/menu`), so loadgen keeps no copy of the
/// demo catalog and drives whatever catalog the system has.
#[derive(Debug, Clone)]
struct Shop {
    id: String,
    item: String,
    region: String,
    lat: f64,
    lon: f64,
}

/// The catalog's stores that have something on sale.
async fn catalog(http: &reqwest::Client, api: &str) -> anyhow::Result<Vec<Shop>> {
    let stores: Value = http
        .get(format!("{api}/v1/stores"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let mut shops = Vec::new();
    for store in stores["stores"].as_array().into_iter().flatten() {
        let id = store["id"].as_str().unwrap_or_default().to_owned();
        let menu: Value = http
            .get(format!("{api}/v1/stores/{id}/menu"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let on_sale = menu["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["available"].as_bool().unwrap_or(false));
        if let Some(item) = on_sale {
            shops.push(Shop {
                item: item["id"].as_str().unwrap_or_default().to_owned(),
                region: store["region"].as_str().unwrap_or_default().to_owned(),
                lat: store["lat"].as_f64().unwrap_or_default(),
                lon: store["lon"].as_f64().unwrap_or_default(),
                id,
            });
        }
    }
    anyhow::ensure!(
        !shops.is_empty(),
        "{api}/v1/stores lists no store with an item on sale: seed a catalog (`baedal migrate \
         --seed-demo`, or run `baedal dev`)"
    );
    Ok(shops)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Complete,
    Cancel,
    Reject,
    Decline,
}

fn path_for(n: u64) -> Path {
    match n % 20 {
        0 => Path::Cancel,
        1 => Path::Reject,
        2 => Path::Decline,
        _ => Path::Complete,
    }
}

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

/// How often one request is sent again after it was lost in flight (see [`Lost`]).
const MAX_RESENDS: u32 = 8;

/// A request that never got a decision from baedal: the connection broke, or the gateway said
/// its upstream did (502/504 without baedal's error body) — what a client sees when the api
/// replica serving it dies — or the api's deadline passed while the engine redelivered the
/// order's work from a worker that died (503 `request_timeout`, with Retry-After). Safe to
/// send again, as the contract says: place-order carries its Idempotency-Key, and a command
/// that did go through is recognised by the order's history.
fn lost_in_flight(status: StatusCode, body: &Value) -> bool {
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => body["error"]["code"].is_null(),
        StatusCode::SERVICE_UNAVAILABLE => body["error"]["code"] == "request_timeout",
        _ => false,
    }
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub concurrency: usize,
    pub duration_secs: f64,
    /// Lifecycles that ended as the path meant (completed, canceled, rejected or declined).
    pub completed: u64,
    pub completed_by_path: BTreeMap<String, u64>,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests lost in flight (connection broken, 502/504 from a gateway whose upstream died,
    /// 503 `request_timeout`) and sent again; their lifecycles went on and are not errors.
    pub lost_in_flight: u64,
    pub lifecycles_per_sec: f64,
    pub place_p50_ms: f64,
    pub place_p99_ms: f64,
    pub command_p50_ms: f64,
    pub command_p99_ms: f64,
    pub status_read_p50_ms: f64,
    pub status_read_p99_ms: f64,
    /// The same reads through a Temporal query (0 unless `--query-reads`).
    pub query_read_p50_ms: f64,
    pub query_read_p99_ms: f64,
    pub requests: u64,
}

struct Stats {
    place: Histogram<u64>,
    command: Histogram<u64>,
    read: Histogram<u64>,
    query: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    by_path: BTreeMap<String, u64>,
}

pub(crate) fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

struct Sim {
    http: reqwest::Client,
    api: String,
    customer: String,
    shops: Vec<Shop>,
    owners: Vec<String>,
    rider: String,
    stats: Arc<Mutex<Stats>>,
    requests: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
    temporal: Option<temporalio_client::Client>,
    place_only: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Place,
    Command,
    Read,
}

impl Sim {
    /// One request, sent again (same body, same key) while it is lost in flight.
    async fn call(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        tok: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<(StatusCode, Value), String> {
        self.call_resending(kind, method, path, tok, body, key)
            .await
            .map(|(status, body, _)| (status, body))
    }

    /// [`Self::call`], also telling how many times the request was sent again.
    async fn call_resending(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        tok: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<(StatusCode, Value, u32), String> {
        let mut resent = 0;
        loop {
            let answer = self
                .send_once(kind, method.clone(), path, tok, body.clone(), key)
                .await;
            let lost = match &answer {
                Err(kind) => kind == "connection",
                Ok((status, body)) => lost_in_flight(*status, body),
            };
            if !lost || resent >= MAX_RESENDS {
                return answer.map(|(status, body)| (status, body, resent));
            }
            resent += 1;
            self.lost.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100 * u64::from(resent))).await;
        }
    }

    async fn send_once(
        &self,
        kind: Kind,
        method: Method,
        path: &str,
        tok: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Result<(StatusCode, Value), String> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(tok);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let started = Instant::now();
        let resp = req.send().await;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = resp.map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                "connection".to_owned()
            }
        })?;
        let status = resp.status();
        let body: Value = match resp.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(_) => return Err("connection".to_owned()),
        };
        let micros = started.elapsed().as_micros().max(1) as u64;
        {
            let mut s = self.stats.lock().expect("stats lock");
            let h = match kind {
                Kind::Place => &mut s.place,
                Kind::Command => &mut s.command,
                Kind::Read => &mut s.read,
            };
            let _ = h.record(micros.min(60_000_000));
        }
        Ok((status, body))
    }

    /// The order as its customer reads it (`GET /v1/orders/{id}`).
    async fn read(&self, id: &str) -> Result<(StatusCode, Value), String> {
        self.call(
            Kind::Read,
            Method::GET,
            &format!("/v1/orders/{id}"),
            &self.customer,
            None,
            None,
        )
        .await
    }

    /// Whether `id`'s history already holds `status`: a command whose first try was lost in
    /// flight went through, and its resend was refused as a repeat.
    async fn reached(&self, id: &str, status: &str) -> Result<bool, String> {
        let (s, order) = self.read(id).await?;
        Ok(s == StatusCode::OK
            && order["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|e| e["status"] == status)))
    }

    fn error(&self, kind: String) {
        *self
            .stats
            .lock()
            .expect("stats lock")
            .errors
            .entry(kind)
            .or_default() += 1;
    }

    /// A command that must answer 200, then a status read as the customer's app would do.
    /// Its path and the status it leads to come from the domain's command table.
    async fn step(
        &self,
        tok: &str,
        action: Action,
        id: &str,
        body: Option<Value>,
    ) -> Result<(), String> {
        let path = action.path().replace("{id}", id);
        let (s, b, resent) = self
            .call_resending(Kind::Command, Method::POST, &path, tok, body, None)
            .await?;
        let repeat = s == StatusCode::CONFLICT
            && resent > 0
            && self.reached(id, action.rule().to.as_str()).await?;
        if s != StatusCode::OK && !repeat {
            return Err(format!(
                "{} {} {}",
                action.name(),
                s.as_u16(),
                b["error"]["code"].as_str().unwrap_or("")
            ));
        }
        let (s, _) = self.read(id).await?;
        if s != StatusCode::OK {
            return Err(format!("status read {}", s.as_u16()));
        }
        if let Some(client) = &self.temporal {
            let started = Instant::now();
            client
                .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.to_owned())
                .query(
                    baedal_workflows::OrderWorkflow::order,
                    (),
                    temporalio_client::WorkflowQueryOptions::default(),
                )
                .await
                .map_err(|_| "temporal query".to_owned())?;
            let micros = started.elapsed().as_micros().max(1) as u64;
            let _ = self
                .stats
                .lock()
                .expect("stats lock")
                .query
                .record(micros.min(60_000_000));
        }
        Ok(())
    }

    async fn lifecycle(&self, n: u64) -> Result<Path, String> {
        let path = if self.place_only {
            Path::Complete
        } else {
            path_for(n)
        };
        let shop = &self.shops[(n as usize) % self.shops.len()];
        let card = if path == Path::Decline {
            "tok_declined"
        } else {
            "tok_ok"
        };
        let body = json!({
            "store_id": shop.id,
            "items": [{"menu_item_id": shop.item, "quantity": 1 + n % 2}],
            "delivery": {"address": "loadgen", "region": shop.region, "lat": shop.lat + 0.004, "lon": shop.lon},
            "payment": {"card_token": card}
        });
        let key = uuid::Uuid::new_v4().to_string();
        let (s, o) = self
            .call(
                Kind::Place,
                Method::POST,
                "/v1/orders",
                &self.customer,
                Some(body),
                Some(&key),
            )
            .await?;
        match (path, s) {
            (Path::Decline, StatusCode::PAYMENT_REQUIRED) => return Ok(path),
            (_, StatusCode::CREATED) => {}
            (_, s) => {
                return Err(format!(
                    "place {} {}",
                    s.as_u16(),
                    o["error"]["code"].as_str().unwrap_or("")
                ));
            }
        }
        if self.place_only {
            return Ok(path);
        }
        let id = o["id"].as_str().unwrap_or_default().to_owned();
        let owner = &self.owners[(n as usize) % self.shops.len()];
        let who = |action: Action| match action.rule().by {
            Party::StoreOwner => owner.as_str(),
            Party::Rider => self.rider.as_str(),
            _ => self.customer.as_str(),
        };
        let steps: &[(Action, Option<Value>)] = match path {
            Path::Cancel => &[(Action::Cancel, None)],
            Path::Reject => &[(Action::Reject, Some(json!({"reason": "busy"})))],
            Path::Complete => &[
                (Action::Accept, None),
                (Action::StartCooking, None),
                (Action::FinishCooking, None),
                (Action::Claim, None),
                (Action::Pickup, None),
                (Action::Deliver, None),
                (Action::Confirm, None),
            ],
            Path::Decline => &[],
        };
        for (action, body) in steps {
            self.step(who(*action), *action, &id, body.clone()).await?;
        }
        Ok(path)
    }
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
    let rider = tok(Role::Rider, format!("loadgen-rider-{}", &run_id[..8]), None).await?;
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
    let stats = Arc::new(Mutex::new(Stats {
        place: histogram(),
        command: histogram(),
        read: histogram(),
        query: histogram(),
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
        rider,
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
    for _ in 0..opts.concurrency {
        let (sim, done, failed, counter) =
            (sim.clone(), done.clone(), failed.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match sim.lifecycle(n).await {
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
        requests: requests.load(Ordering::Relaxed),
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "baedal loadgen: concurrency {}, {:.1}s",
            self.concurrency, self.duration_secs
        )?;
        writeln!(
            f,
            "  lifecycles   {} ({:.2}/s) {:?}",
            self.completed, self.lifecycles_per_sec, self.completed_by_path
        )?;
        writeln!(
            f,
            "  errors       {} {:?}",
            self.errors, self.errors_by_kind
        )?;
        if self.lost_in_flight > 0 {
            writeln!(
                f,
                "  lost in flight and sent again: {} requests",
                self.lost_in_flight
            )?;
        }
        writeln!(
            f,
            "  place-order  p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.place_p50_ms, self.place_p99_ms
        )?;
        writeln!(
            f,
            "  commands     p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.command_p50_ms, self.command_p99_ms
        )?;
        writeln!(
            f,
            "  status reads p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.status_read_p50_ms, self.status_read_p99_ms
        )?;
        write!(f, "  requests     {}", self.requests)
    }
}

/// Draw lifecycles/s and place-order p99 against concurrency as an SVG line chart.
pub fn plot_svg(reports: &[Report]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 360.0, 60.0, 70.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let n = reports.len().max(1);
    let x = |i: usize| {
        left + if n == 1 {
            pw / 2.0
        } else {
            pw * i as f64 / (n - 1) as f64
        }
    };
    let max_tp = reports
        .iter()
        .map(|r| r.lifecycles_per_sec)
        .fold(1.0, f64::max)
        * 1.15;
    let max_p99 = reports.iter().map(|r| r.place_p99_ms).fold(1.0, f64::max) * 1.15;
    let y_tp = |v: f64| top + ph - ph * v / max_tp;
    let y_p99 = |v: f64| top + ph - ph * v / max_p99;
    let line = |y: &dyn Fn(&Report) -> f64| {
        reports
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{:.1},{:.1}", x(i), y(r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{cx}" y="20" text-anchor="middle" font-size="14">baedal loadgen: throughput and place-order p99 by concurrency</text>
<line x1="{left}" y1="{yb}" x2="{xr}" y2="{yb}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{yb}" stroke="#1f77b4"/>
<line x1="{xr}" y1="{top}" x2="{xr}" y2="{yb}" stroke="#d62728"/>
<text x="14" y="{cy}" fill="#1f77b4" transform="rotate(-90 14 {cy})" text-anchor="middle">lifecycles/s</text>
<text x="{xr2}" y="{cy}" fill="#d62728" transform="rotate(90 {xr2} {cy})" text-anchor="middle">place-order p99 (ms)</text>
<text x="{cx}" y="{xl}" text-anchor="middle">concurrency</text>
"##,
        cx = w / 2.0,
        yb = top + ph,
        xr = left + pw,
        xr2 = w - 16.0,
        cy = top + ph / 2.0,
        xl = h - 12.0,
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let yy = top + ph - ph * f;
        svg += &format!(
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">{:.1}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{:.0}</text>\n",
            left + pw,
            left - 6.0,
            yy + 4.0,
            max_tp * f,
            left + pw + 6.0,
            yy + 4.0,
            max_p99 * f
        );
    }
    for (i, r) in reports.iter().enumerate() {
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f77b4\"/>\n<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#d62728\"/>\n",
            x(i),
            top + ph + 18.0,
            r.concurrency,
            x(i),
            y_tp(r.lifecycles_per_sec),
            x(i),
            y_p99(r.place_p99_ms)
        );
    }
    svg += &format!(
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"{}\"/>\n</svg>\n",
        line(&|r| y_tp(r.lifecycles_per_sec)),
        line(&|r| y_p99(r.place_p99_ms))
    );
    svg
}
