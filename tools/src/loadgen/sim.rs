//! The simulated people: the catalog they order from, the path each lifecycle takes, and
//! the requests they send (sent again while lost in flight).

use super::Stats;
use baedal_domain::geo::distance_km;
use baedal_domain::plausible::{JUMP_TOLERANCE_M, Plausibility};
use baedal_domain::{Action, Party};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A store of the catalog the api serves, with the first item it has on sale. Read from the
/// api at start (`GET /v1/stores`, `/v1/stores/{id}/menu`), so loadgen keeps no copy of the
/// demo catalog and drives whatever catalog the system has.
#[derive(Debug, Clone)]
pub(super) struct Shop {
    pub(super) id: String,
    pub(super) item: String,
    pub(super) region: String,
    pub(super) lat: f64,
    pub(super) lon: f64,
}

/// The catalog's stores that have something on sale.
pub(super) async fn catalog(http: &reqwest::Client, api: &str) -> anyhow::Result<Vec<Shop>> {
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

/// A simulated rider. Each works around one store (one rider per store for each simulated
/// slot, which runs one lifecycle at a time): so a rider carries one delivery at a time, well
/// under `BAEDAL_RIDER_MAX_ACTIVE`, and only ever rides between the store and its doors, a
/// few hundred metres, as the api's rules (`baedal_domain::plausible`) expect of a real one.
pub(super) struct Rider {
    pub(super) token: String,
    /// Where the rider last reported, and when the api's answer to it came back.
    last: Option<((f64, f64), Instant)>,
}

impl Rider {
    pub(super) fn new(token: String) -> Self {
        Self { token, last: None }
    }
}

/// How long a rider takes from `from` to `to` at the speed the api allows by default (with a
/// tenth to spare), beyond the jump it never questions ([`JUMP_TOLERANCE_M`]). A report sent
/// sooner would be refused as `implausible_speed`: loadgen waits instead, so it measures the
/// default rules rather than switching them off. Timed from the last report's answer, which
/// the server stamped before it answered: the server's clock sees at least this much.
pub(super) fn ride_time(from: (f64, f64), to: (f64, f64)) -> Duration {
    let km = distance_km(from.0, from.1, to.0, to.1) - JUMP_TOLERANCE_M / 1000.0;
    if km <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(km / (Plausibility::default().max_speed_kmh * 0.9) * 3600.0)
}

/// Where an order to `shop` is delivered: about 450 m north, well within any store's
/// delivery area (`outside_delivery_area` otherwise) and within a jump a rider's report may
/// make at once.
pub(super) fn door_of(shop: &Shop) -> (f64, f64) {
    (shop.lat + 0.004, shop.lon)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    Complete,
    Cancel,
    Reject,
    Decline,
}

pub(super) fn path_for(n: u64) -> Path {
    match n % 20 {
        0 => Path::Cancel,
        1 => Path::Reject,
        2 => Path::Decline,
        _ => Path::Complete,
    }
}
/// How often one request is sent again after it was lost in flight (see [`Lost`]).
pub(super) const MAX_RESENDS: u32 = 8;

/// A request that never got a decision from baedal: the connection broke, or the gateway said
/// its upstream did (502/504 without baedal's error body) — what a client sees when the api
/// replica serving it dies — or the api's deadline passed while the engine redelivered the
/// order's work from a worker that died (503 `request_timeout`, with Retry-After). Safe to
/// send again, as the contract says: place-order carries its Idempotency-Key, and a command
/// that did go through is recognised by the order's history.
pub(super) fn lost_in_flight(status: StatusCode, body: &Value) -> bool {
    match status {
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT => body["error"]["code"].is_null(),
        StatusCode::SERVICE_UNAVAILABLE => body["error"]["code"] == "request_timeout",
        _ => false,
    }
}

pub(super) struct Sim {
    pub(super) http: reqwest::Client,
    pub(super) api: String,
    pub(super) customer: String,
    pub(super) shops: Vec<Shop>,
    pub(super) owners: Vec<String>,
    pub(super) stats: Arc<Mutex<Stats>>,
    pub(super) requests: Arc<AtomicU64>,
    pub(super) lost: Arc<AtomicU64>,
    pub(super) temporal: Option<temporalio_client::Client>,
    pub(super) place_only: bool,
}

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Place,
    Command,
    Read,
    /// `POST /v1/rider/location`.
    Report,
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
                Kind::Report => &mut s.report,
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

    pub(super) fn error(&self, kind: String) {
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

    /// Report `rider` at `at`, after the time a ride there takes from their last report.
    async fn report(&self, rider: &mut Rider, at: (f64, f64)) -> Result<(), String> {
        if let Some((from, when)) = rider.last {
            let wait = ride_time(from, at).saturating_sub(when.elapsed());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let (s, b) = self
            .call(
                Kind::Report,
                Method::POST,
                "/v1/rider/location",
                &rider.token,
                Some(json!({"lat": at.0, "lon": at.1})),
                None,
            )
            .await?;
        if s != StatusCode::OK {
            return Err(format!(
                "location {} {}",
                s.as_u16(),
                b["error"]["code"].as_str().unwrap_or("")
            ));
        }
        rider.last = Some((at, Instant::now()));
        Ok(())
    }

    /// Lifecycle `n`, its rider's steps by one of `riders` (one per store of the catalog,
    /// by the catalog's order).
    pub(super) async fn lifecycle(&self, n: u64, riders: &mut [Rider]) -> Result<Path, String> {
        let path = if self.place_only {
            Path::Complete
        } else {
            path_for(n)
        };
        let shop = &self.shops[(n as usize) % self.shops.len()];
        let door = door_of(shop);
        let card = if path == Path::Decline {
            "tok_declined"
        } else {
            "tok_ok"
        };
        let body = json!({
            "store_id": shop.id,
            "items": [{"menu_item_id": shop.item, "quantity": 1 + n % 2}],
            "delivery": {"address": "loadgen", "region": shop.region, "lat": door.0, "lon": door.1},
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
        let rider = &mut riders[(n as usize) % self.shops.len()];
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
            // A rider's app reports where the rider is before each step: at the store for
            // the claim and the pickup, at the door for the deliver.
            match action {
                Action::Claim | Action::Pickup => self.report(rider, (shop.lat, shop.lon)).await?,
                Action::Deliver => self.report(rider, door).await?,
                _ => {}
            }
            let tok = match action.rule().by {
                Party::StoreOwner => owner.as_str(),
                Party::Rider => rider.token.as_str(),
                _ => self.customer.as_str(),
            };
            self.step(tok, *action, &id, body.clone()).await?;
        }
        Ok(path)
    }
}
