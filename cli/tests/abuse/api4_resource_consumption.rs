//! OWASP API4:2023 Unrestricted Resource Consumption. Probed: one customer placed 200 paid
//! orders in 3.3 s; one token held 300 rider and 300 order streams; a store stream kept
//! delivering 20 s after its token expired; one store owner registered 60 hooks at one target;
//! the catalog answered any address any number of times. Each limit here is the abuse suite's
//! ([`limited::LIMITS`]), reached in a handful of requests.

use crate::common::unique;
use crate::limited::{self, LIMITS, place, send, system};
use baedal_auth::Role;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

/// The stream tests count the replica's streams: one at a time.
static STREAMS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn two_hundred_orders_in_seconds_are_refused_past_the_customers_limit() {
    let sys = system();
    let customer = sys.token("customer", &unique("hoarder"), None).await;
    let mut placed = Vec::new();
    let mut refused = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..200 {
        let a = place(&customer, "tok_ok").await;
        match a.status.as_u16() {
            201 => placed.push(a),
            429 => refused.push(a),
            other => panic!("{other}: {:?}", a.body),
        }
    }
    let allowed = LIMITS.place_orders.count.get() as usize;
    // At most the burst, and one more for each refill the run lasted (one every `per / count`:
    // on a loaded machine the 200 requests take longer, and the limit rightly lets more by).
    let refill = LIMITS.place_orders.per / LIMITS.place_orders.count.get();
    let refills = (started.elapsed().as_secs_f64() / refill.as_secs_f64()).ceil() as usize;
    assert!(
        (allowed..=allowed + refills + 1).contains(&placed.len()),
        "{} placed in {:?}",
        placed.len(),
        started.elapsed()
    );
    for a in &refused {
        a.assert_refused("rate_limited", 60);
    }
    assert_eq!(
        refused[0].header("ratelimit-policy"),
        "\"place_order\";q=10;w=60"
    );
    // An answer let through says how many are left.
    assert_eq!(placed[0].header("ratelimit"), "\"place_order\";r=9");
    // Refused before anything was charged: only the placed orders have a charge.
    let charged: usize = futures::future::join_all(
        placed
            .iter()
            .map(|a| sys.count(a.body["id"].as_str().unwrap(), "charge", "succeeded")),
    )
    .await
    .into_iter()
    .sum();
    assert_eq!(charged, placed.len());
    // Another customer is not held back by this one.
    let other = sys.token("customer", &unique("neighbour"), None).await;
    assert_eq!(place(&other, "tok_ok").await.status, 201);
}

/// A store stream's GET as `token`: its status, and the open response on 200.
async fn store_stream(token: &str) -> (u16, Option<reqwest::Response>, serde_json::Value) {
    let url = format!("{}/v1/store/orders/events", system().api);
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    if status == 200 {
        (status, Some(resp), json!(null))
    } else {
        let retry = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        assert!(retry.is_some_and(|s| s >= 1), "a 429 says when to retry");
        (status, None, resp.json().await.unwrap())
    }
}

fn owner(store: &str) -> String {
    limited::token_until(
        Role::StoreOwner,
        &unique("owner"),
        Some(store),
        limited::now_unix() + 3600,
    )
}

#[tokio::test]
async fn three_hundred_streams_on_one_token_are_refused_past_the_bound_and_given_back() {
    let _one_at_a_time = STREAMS.lock().await;
    let store = unique("st");
    let token = owner(&store);
    let per_principal = LIMITS.streams_per_principal as usize;
    let mut open = Vec::new();
    for _ in 0..300 {
        match store_stream(&token).await {
            (200, Some(resp), _) => open.push(resp),
            (429, None, body) => assert_eq!(body["error"]["code"], "too_many_streams"),
            (status, _, body) => panic!("{status}: {body}"),
        }
    }
    assert_eq!(open.len(), per_principal);
    // Past the replica's bound, even a principal with none open waits.
    let mut others = Vec::new();
    let replica = LIMITS.streams_per_replica as usize;
    let mut refused_fresh = None;
    for n in 0..replica {
        let (status, resp, body) = store_stream(&owner(&store)).await;
        match resp {
            Some(r) => others.push(r),
            None => {
                assert_eq!(status, 429);
                assert_eq!(body["error"]["code"], "too_many_streams");
                refused_fresh = Some(n);
                break;
            }
        }
    }
    // (Streams of the test before may still be closing: at most the replica's bound in all.)
    assert!(
        refused_fresh.is_some_and(|n| n <= replica - per_principal),
        "{refused_fresh:?}"
    );
    // A stream whose client left gives its slot back (noticed at its next heartbeat).
    drop(open.pop());
    drop(others);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, resp, _) = store_stream(&token).await;
        if status == 200 {
            open.extend(resp);
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(open.len(), per_principal);
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let _one_at_a_time = STREAMS.lock().await;
    let store = unique("st");
    // A few seconds of life left once the stream is open, even when the suite's other tests
    // slow the opening down (under load a 3 s token was once nearly spent before it opened).
    let exp = limited::now_unix() + 6;
    let token = limited::token_until(Role::StoreOwner, &unique("owner"), Some(&store), exp);
    let (status, resp, body) = store_stream(&token).await;
    assert_eq!(status, 200, "{body}");
    let mut resp = resp.unwrap();
    // Heartbeats come until the server closes the stream; a stream that outlived its token
    // would keep sending them until this gives up.
    let mut heartbeats = 0;
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(_)) = resp.chunk().await {
            heartbeats += 1;
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token by a minute");
    assert!(heartbeats > 0, "the stream was open until then");
    assert!(
        limited::now_unix() >= exp,
        "the stream ended before its token expired"
    );
    // And its slot is free: the principal can open as many as ever with a fresh token.
    let fresh = owner(&store);
    let mut again = Vec::new();
    for _ in 0..LIMITS.streams_per_principal {
        let (status, resp, body) = store_stream(&fresh).await;
        assert_eq!(status, 200, "{body}");
        again.extend(resp);
    }
}

#[tokio::test]
async fn sixty_hooks_at_one_target_stop_at_the_owners_cap() {
    let token = owner(&unique("st"));
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]});
    let mut created = 0;
    let mut capped = 0;
    let mut paced = 0;
    for _ in 0..60 {
        let a = send(
            Method::POST,
            "/v1/hooks",
            Some(&token),
            None,
            Some(hook.clone()),
            None,
        )
        .await;
        match a.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(a.code(), "too_many_hooks", "{:?}", a.body);
                capped += 1;
            }
            429 => {
                a.assert_refused("rate_limited", 60);
                paced += 1;
            }
            other => panic!("{other}: {:?}", a.body),
        }
    }
    assert_eq!(created, LIMITS.hooks_per_owner);
    assert!(capped > 0 && paced > 0, "{capped} capped, {paced} paced");
    let list = send(Method::GET, "/v1/hooks", Some(&token), None, None, None).await;
    assert_eq!(
        list.body["hooks"].as_array().unwrap().len(),
        LIMITS.hooks_per_owner as usize
    );
}

#[tokio::test]
async fn delivery_retries_are_paced_per_owner() {
    let token = owner(&unique("st"));
    let mut refused = None;
    for n in 0..30 {
        let a = send(
            Method::POST,
            "/v1/hooks/hk_none/deliveries/whd_none/retry",
            Some(&token),
            None,
            None,
            None,
        )
        .await;
        if a.status == 429 {
            a.assert_refused("rate_limited", 60);
            refused = Some(n);
            break;
        }
        assert_eq!(a.status, 404, "{:?}", a.body);
    }
    assert!(
        refused.is_some_and(|n| n >= LIMITS.hook_changes.count.get() as usize),
        "{refused:?}"
    );
}

#[tokio::test]
async fn catalog_reads_are_limited_per_client_address() {
    let addr = |n: u8| format!("203.0.113.{n}");
    // A fresh address of this run's own (the tests share the suite's system).
    let me = addr(rand_octet());
    let read = |from: String| async move {
        send(Method::GET, "/v1/stores", None, Some(&from), None, None).await
    };
    let allowed = LIMITS.catalog_reads.count.get();
    let mut ok = 0;
    let mut refused = None;
    for _ in 0..100 {
        let a = read(me.clone()).await;
        if a.status == 429 {
            refused = Some(a);
            break;
        }
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert!(a.header("ratelimit").starts_with("\"catalog_reads\";r="));
        ok += 1;
    }
    assert!(
        (allowed..=allowed + 3).contains(&ok),
        "{ok} reads let through"
    );
    refused
        .expect("refused past the limit")
        .assert_refused("rate_limited", 60);
    // Saying another address before the gateway's entry changes nothing: the gateway's word is
    // the one read.
    let spoofed = read(format!("198.51.100.7, {me}")).await;
    assert_eq!(spoofed.status, 429);
    // A menu read from there is the same catalog's limit.
    let menu = send(
        Method::GET,
        "/v1/stores/st_1/menu",
        None,
        Some(&me),
        None,
        None,
    )
    .await;
    assert_eq!(menu.status, 429);
    // Another address reads on.
    let other = addr(rand_octet().wrapping_add(1));
    assert_eq!(read(other).await.status, 200);
}

/// An octet no other test of this run uses for the catalog.
fn rand_octet() -> u8 {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    NEXT.fetch_add(2, std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn location_reports_are_paced_per_rider() {
    let sys = system();
    let rider = sys.token("rider", &unique("rider"), None).await;
    let report = || {
        send(
            Method::POST,
            "/v1/rider/location",
            Some(&rider),
            None,
            Some(json!({"lat": 37.5, "lon": 127.03})),
            None,
        )
    };
    let mut let_through = 0;
    loop {
        let a = report().await;
        if a.status == 429 {
            a.assert_refused("rate_limited", 60);
            break;
        }
        let_through += 1;
        assert!(let_through <= 10, "never refused: {:?}", a.body);
    }
    assert!(let_through >= LIMITS.location_reports.count.get());
    // Another rider reports on.
    let other = sys.token("rider", &unique("rider"), None).await;
    let a = send(
        Method::POST,
        "/v1/rider/location",
        Some(&other),
        None,
        Some(json!({"lat": 37.5, "lon": 127.03})),
        None,
    )
    .await;
    assert_ne!(a.status, 429);
}

#[tokio::test]
async fn commands_are_paced_per_principal() {
    let token = owner(&unique("st"));
    let mut let_through = 0;
    loop {
        let a = send(
            Method::POST,
            "/v1/store/orders/ord_none/accept",
            Some(&token),
            None,
            None,
            None,
        )
        .await;
        if a.status == 429 {
            a.assert_refused("rate_limited", 60);
            assert!(a.header("ratelimit-policy").starts_with("\"commands\""));
            break;
        }
        assert_eq!(a.status, 404, "{:?}", a.body);
        let_through += 1;
        assert!(let_through <= 20, "never refused");
    }
    assert!(let_through >= LIMITS.commands.count.get());
}

#[tokio::test]
async fn the_store_list_comes_a_page_at_a_time() {
    let me = format!("192.0.2.{}", rand_octet());
    let page = |query: String| {
        let me = me.clone();
        async move {
            send(
                Method::GET,
                &format!("/v1/stores{query}"),
                None,
                Some(&me),
                None,
                None,
            )
            .await
        }
    };
    let whole = page(String::new()).await;
    assert_eq!(whole.status, 200, "{:?}", whole.body);
    let all = whole.body["stores"].as_array().unwrap().clone();
    assert!(all.len() > 2, "the demo catalog has stores");
    assert!(whole.body.get("next_cursor").is_none(), "one page holds it");
    let mut paged = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let a = page(query).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        let stores = a.body["stores"].as_array().unwrap();
        assert!(stores.len() <= 2);
        paged.extend(stores.iter().cloned());
        match a.body["next_cursor"].as_str() {
            Some(c) => query = format!("?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    for bad in ["?limit=0", "?limit=101"] {
        let a = page(bad.into()).await;
        assert_eq!(a.status, 422, "{bad}");
        assert_eq!(a.code(), "invalid_limit");
    }
}
