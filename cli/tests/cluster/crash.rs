//! Crash safety: a stream of order lifecycles while the worker, the api, the payment service and
//! the whole dev stack (Temporal dev server included) are SIGKILLed at random points and started
//! again on the same data. Then: every order a customer was told exists still exists and
//! finishes; every succeeded charge belongs to an order the customer can see; each rejected or
//! canceled order has exactly one refund; nothing is charged twice (`baedal reconcile`); no
//! notification is stored twice per `(order_id, seq)`.
//!
//! Clients behave as real ones do: on a dropped connection or a 503 they retry the same request
//! (same Idempotency-Key for a new order).

use crate::procs;

use procs::{Cluster, Part, SERVICE_TOKEN, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ORDERS: usize = 222;
const CONCURRENCY: usize = 8;
/// How long a client keeps retrying one request before the test calls it lost.
const PATIENCE: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    Complete,
    Cancel,
    Reject,
    Decline,
}

fn path_for(n: usize) -> Path {
    match n % 20 {
        0 => Path::Decline,
        1 => Path::Cancel,
        2 => Path::Reject,
        _ => Path::Complete,
    }
}

struct Client {
    api: String,
    http: reqwest::Client,
}

enum Answer {
    Done(StatusCode, Value),
    Retry(Duration),
}

impl Client {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        tok: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(tok)
            .timeout(Duration::from_secs(20));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        match req.send().await {
            Err(_) => Answer::Retry(Duration::from_millis(300)),
            Ok(r) => {
                let status = r.status();
                let retry_after = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body: Value = r.json().await.unwrap_or(Value::Null);
                if status.is_server_error() {
                    let wait = retry_after.unwrap_or(1).min(3);
                    Answer::Retry(Duration::from_secs(wait))
                } else {
                    Answer::Done(status, body)
                }
            }
        }
    }

    /// Retry until the api gives a non-5xx answer.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tok: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.send(method.clone(), path, tok, body, key).await {
                Answer::Done(s, b) => return (s, b),
                Answer::Retry(wait) => {
                    assert!(
                        Instant::now() < deadline,
                        "{path}: no answer within {PATIENCE:?}"
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// The order's status as the holder of `tok` reads it (a rider reads the delivery).
    async fn status(&self, tok: &str, id: &str, rider: bool) -> String {
        let path = if rider {
            format!("/v1/rider/deliveries/{id}")
        } else {
            format!("/v1/orders/{id}")
        };
        let (s, b) = self
            .call(reqwest::Method::GET, &path, tok, None, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{id}: {b}");
        b["status"].as_str().unwrap().to_owned()
    }

    /// Report the rider whose token is `tok` at `(lat, lon)`.
    async fn report(&self, tok: &str, (lat, lon): (f64, f64)) {
        let (s, b) = self
            .call(
                reqwest::Method::POST,
                "/v1/rider/location",
                tok,
                Some(&json!({"lat": lat, "lon": lon})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "report: {b}");
    }

    /// Send a command; a 409 after a retry is fine when the order already moved on (the first
    /// attempt went through but its answer was lost).
    async fn command(&self, tok: &str, path: &str, id: &str, reached: &[&str]) {
        let (s, b) = self
            .call(reqwest::Method::POST, path, tok, None, None)
            .await;
        if s == StatusCode::OK {
            return;
        }
        assert_eq!(s, StatusCode::CONFLICT, "{path}: {b}");
        let now = self.status(tok, id, path.starts_with("/v1/rider/")).await;
        assert!(
            reached.contains(&now.as_str()),
            "{path} refused ({b}) and the order is {now}"
        );
    }
}

struct Tokens {
    customer: String,
    owner: String,
}

async fn lifecycle(client: &Client, t: &Tokens, n: usize, told: &Mutex<Vec<(String, Path)>>) {
    let path = path_for(n);
    let card = if path == Path::Decline {
        "tok_declined"
    } else {
        "tok_ok"
    };
    let body = json!({
        "store_id": "st_1",
        "items": [{"menu_item_id": "mi_1_1", "quantity": 1 + (n % 3)}],
        // About 250 m from st_1 (37.4979, 127.0276), where the rider reports for the deliver.
        "delivery": {"address": "서울 강남구", "region": "gangnam", "lat": 37.499, "lon": 127.03},
        "payment": {"card_token": card}
    });
    let key = format!("crash-{n}");
    let (s, o) = client
        .call(
            reqwest::Method::POST,
            "/v1/orders",
            &t.customer,
            Some(&body),
            Some(&key),
        )
        .await;
    if path == Path::Decline {
        assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{o}");
        return;
    }
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    told.lock().unwrap().push((id.clone(), path));
    let store = |step: &str| format!("/v1/store/orders/{id}/{step}");
    let rider = |step: &str| format!("/v1/rider/deliveries/{id}/{step}");
    const AFTER_ACCEPT: &[&str] = &[
        "accepted",
        "cooking",
        "ready_for_pickup",
        "rider_assigned",
        "picked_up",
        "delivered",
        "completed",
    ];
    match path {
        Path::Cancel => {
            client
                .command(
                    &t.customer,
                    &format!("/v1/orders/{id}/cancel"),
                    &id,
                    &["canceled"],
                )
                .await;
        }
        Path::Reject => {
            let (s, b) = client
                .call(
                    reqwest::Method::POST,
                    &store("reject"),
                    &t.owner,
                    Some(&json!({"reason": "closed early"})),
                    None,
                )
                .await;
            if s != StatusCode::OK {
                assert_eq!(client.status(&t.owner, &id, false).await, "rejected", "{b}");
            }
        }
        Path::Complete => {
            client
                .command(&t.owner, &store("accept"), &id, AFTER_ACCEPT)
                .await;
            client
                .command(&t.owner, &store("start-cooking"), &id, &AFTER_ACCEPT[1..])
                .await;
            client
                .command(&t.owner, &store("finish-cooking"), &id, &AFTER_ACCEPT[2..])
                .await;
            // A rider of its own per lifecycle (a rider carries at most BAEDAL_RIDER_MAX_ACTIVE
            // deliveries at once), who reports where each step happens first, as a rider's app
            // does: at the store for the claim and the pickup, at the door for the deliver.
            let tok = token("rider", &format!("crash-rider-{n}"), None);
            let (at_store, at_door) = ((37.4979, 127.0276), (37.499, 127.03));
            client.report(&tok, at_store).await;
            client
                .command(&tok, &rider("claim"), &id, &AFTER_ACCEPT[3..])
                .await;
            client.report(&tok, at_store).await;
            client
                .command(&tok, &rider("pickup"), &id, &AFTER_ACCEPT[4..])
                .await;
            client.report(&tok, at_door).await;
            client
                .command(&tok, &rider("deliver"), &id, &AFTER_ACCEPT[5..])
                .await;
            client
                .command(
                    &t.customer,
                    &format!("/v1/orders/{id}/confirm"),
                    &id,
                    &AFTER_ACCEPT[6..],
                )
                .await;
        }
        Path::Decline => unreachable!(),
    }
}

fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % n as u128) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_lost_or_charged_twice_across_sigkills() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("crash");
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
    let tokens = Arc::new(Tokens {
        customer: token("customer", "crash-cust", None),
        owner: token("store_owner", "crash-owner", Some("st_1")),
    });
    let told = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut drivers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (tokens, told, next) = (tokens.clone(), told.clone(), next.clone());
        let client = Client {
            api: c.api.clone(),
            http: reqwest::Client::new(),
        };
        drivers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if n >= ORDERS {
                    return;
                }
                lifecycle(&client, &tokens, n, &told).await;
            }
        }));
    }

    // Chaos: SIGKILL a part at a random moment, restart it shortly after, while orders flow.
    let victims = [
        Part::Worker,
        Part::Api,
        Part::Payment,
        Part::Temporal,
        Part::Worker,
        Part::Api,
        Part::Temporal,
    ];
    let mut kills = 0;
    for victim in victims {
        if next.load(std::sync::atomic::Ordering::SeqCst) >= ORDERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1500 + random_below(2500))).await;
        c.kill(victim);
        kills += 1;
        tokio::time::sleep(Duration::from_millis(200 + random_below(1500))).await;
        c.start(victim);
        c.supervise();
    }
    // Keep the parts up (a part that lost Temporal may exit; a supervisor restarts it).
    let all_done = async {
        for d in drivers {
            d.await.expect("a client saw the contract broken");
        }
    };
    tokio::pin!(all_done);
    loop {
        tokio::select! {
            _ = &mut all_done => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => c.supervise(),
        }
    }
    assert!(
        kills >= 5,
        "only {kills} kills happened before the orders ran out"
    );

    // Every order a customer was told exists still exists and finished as driven.
    let told = told.lock().unwrap().clone();
    assert!(told.len() >= 200, "only {} orders established", told.len());
    let client = Client {
        api: c.api.clone(),
        http: reqwest::Client::new(),
    };
    for (id, path) in &told {
        let want = match path {
            Path::Complete => "completed",
            Path::Cancel => "canceled",
            Path::Reject => "rejected",
            Path::Decline => unreachable!(),
        };
        assert_eq!(
            client.status(&tokens.customer, id, false).await,
            want,
            "{id}"
        );
    }

    // Money and orders agree once refunds in flight have landed.
    let deadline = Instant::now() + Duration::from_secs(90);
    let report = loop {
        let (code, report) = c.run(&["reconcile"]);
        if code == 0 || Instant::now() > deadline {
            break (code, report);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(report.0, 0, "reconcile found mismatches:\n{}", report.1);
    let ledger: Value = reqwest::Client::new()
        .get(format!("{}/v1/payments", c.payment))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut charges: HashMap<String, usize> = HashMap::new();
    let mut refunds: HashMap<String, usize> = HashMap::new();
    for p in ledger["payments"].as_array().unwrap() {
        if p["status"] != "succeeded" {
            continue;
        }
        let id = p["order_id"].as_str().unwrap().to_owned();
        *if p["kind"] == "charge" {
            &mut charges
        } else {
            &mut refunds
        }
        .entry(id)
        .or_default() += 1;
    }
    let visible: HashSet<&str> = told.iter().map(|(id, _)| id.as_str()).collect();
    for (id, n) in &charges {
        assert_eq!(*n, 1, "{id} charged {n} times");
        assert!(
            visible.contains(id.as_str()) || refunds.get(id) == Some(&1),
            "charge for {id}, which no customer was told about, was not given back"
        );
    }
    for (id, path) in &told {
        let want = usize::from(matches!(path, Path::Cancel | Path::Reject));
        assert_eq!(
            refunds.get(id).copied().unwrap_or(0),
            want,
            "refunds of {id}"
        );
    }

    // No notification stored twice per (order_id, seq).
    for (id, _) in told.iter().take(40) {
        let v: Value = reqwest::Client::new()
            .get(format!("{}/v1/notifications?order_id={id}", c.notify))
            .bearer_auth(SERVICE_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut seen = HashSet::new();
        for n in v["notifications"].as_array().unwrap() {
            let k = (n["recipient"].to_string(), n["seq"].as_u64().unwrap());
            assert!(
                seen.insert(k.clone()),
                "notification {k:?} of {id} delivered twice"
            );
        }
    }
    eprintln!(
        "crash test: {} orders established, {kills} kills, ledger {} lines",
        told.len(),
        ledger["payments"].as_array().unwrap().len()
    );
}
