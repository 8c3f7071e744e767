//! Webhooks: a store owner's and ops' subscriptions through the api, deliveries that a local
//! receiver verifies with the Standard Webhooks library, retried until the receiver takes
//! them (one webhook-id per event, whatever the attempts), 410 Gone disabling the hook, other
//! owners kept out, and internal targets refused at registration. Real dev server, real HTTP.

use crate::common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use common::{system, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    webhook_id: String,
    verified: bool,
    /// Whether it also verifies with `other_secret`.
    verified_other: bool,
    body: Value,
    answered: u16,
}

#[derive(Clone, Default)]
struct ReceiverState {
    secret: Arc<Mutex<Option<String>>>,
    /// Another secret to check each request against (rotation).
    other_secret: Arc<Mutex<Option<String>>>,
    got: Arc<Mutex<Vec<Received>>>,
    /// Per order id: how many more of its requests to answer 503 before taking them.
    fail_first: Arc<Mutex<HashMap<String, u32>>>,
    /// Answer every request with this instead of 204.
    always: Arc<Mutex<Option<u16>>>,
}

async fn receive(
    State(st): State<ReceiverState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxumStatus {
    let verifies = |secret: Option<String>| {
        secret.is_some_and(|s| {
            standardwebhooks::Webhook::new(&s)
                .and_then(|w| w.verify(&body, &headers))
                .is_ok()
        })
    };
    let verified = verifies(st.secret.lock().unwrap().clone());
    let verified_other = verifies(st.other_secret.lock().unwrap().clone());
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let order = json["data"]["order_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let answer = if let Some(code) = *st.always.lock().unwrap() {
        code
    } else {
        let mut fail = st.fail_first.lock().unwrap();
        match fail.get_mut(&order) {
            Some(n) if *n > 0 => {
                *n -= 1;
                503
            }
            _ => 204,
        }
    };
    st.got.lock().unwrap().push(Received {
        webhook_id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        verified,
        verified_other,
        body: json,
        answered: answer,
    });
    AxumStatus::from_u16(answer).unwrap()
}

/// A local receiver; its URL and what it got.
async fn receiver() -> (String, ReceiverState) {
    let st = ReceiverState::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, st)
}

async fn create_hook(s: &common::TestSystem, token: &str, body: Value) -> common::Resp {
    s.call(
        &s.api,
        Method::POST,
        "/v1/hooks",
        Some(token),
        Some(body),
        None,
    )
    .await
}

/// What the receiver got about `order`, once `done` holds of it (or the test's patience ends).
async fn got_until(
    st: &ReceiverState,
    order: &str,
    secs: u64,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let mine: Vec<Received> = st
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.body["data"]["order_id"] == order)
            .cloned()
            .collect();
        if done(&mine) || Instant::now() > deadline {
            return mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_store_owners_hook_gets_each_event_once_signed_and_retried_until_taken() {
    let s = system();
    let (url, st) = receiver().await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let created = create_hook(s, &owner, json!({"url": url, "events": ["order.accepted"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hook_id = created.body["id"].as_str().unwrap().to_owned();
    *st.secret.lock().unwrap() = Some(secret);

    // Only its owner sees it; customers and riders have no hooks.
    let listed = s.get(&owner, "/v1/hooks").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(listed.body["hooks"].to_string().contains(&hook_id));
    assert!(
        !listed.body.to_string().contains("whsec_"),
        "the secret is shown once"
    );
    let other = s.token("store_owner", &unique("owner"), Some("st_2")).await;
    assert!(
        !s.get(&other, "/v1/hooks")
            .await
            .body
            .to_string()
            .contains(&hook_id)
    );
    for (method, path) in [
        (Method::DELETE, format!("/v1/hooks/{hook_id}")),
        (Method::GET, format!("/v1/hooks/{hook_id}/deliveries")),
    ] {
        let r = s
            .call(&s.api, method, &path, Some(&other), None, None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {:?}", r.body);
    }
    let cust = s.token("customer", &unique("cust"), None).await;
    assert_eq!(
        create_hook(
            s,
            &cust,
            json!({"url": "https://example.com/h", "events": ["*"]})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let bad = create_hook(
        s,
        &owner,
        json!({"url": "https://example.com/h", "events": ["order.eaten"]}),
    )
    .await;
    assert_eq!(
        bad.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        bad.body
    );

    // An order of the store is accepted; the receiver is down for the first two attempts.
    let id = s.placed_order_on(&s.api, &cust).await;
    st.fail_first.lock().unwrap().insert(id.clone(), 2);
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = got_until(&st, &id, 30, |g| g.iter().any(|r| r.answered == 204)).await;
    assert!(
        got.iter().any(|r| r.answered == 204),
        "never delivered: {got:?}"
    );
    assert_eq!(
        got.len(),
        3,
        "two refused attempts, then the one taken: {got:?}"
    );
    assert!(
        got.iter().all(|r| r.verified),
        "every attempt verifies: {got:?}"
    );
    let ids: std::collections::HashSet<_> = got.iter().map(|r| r.webhook_id.clone()).collect();
    assert_eq!(
        ids.len(),
        1,
        "one webhook-id for the event, whatever the attempts"
    );
    let event = &got[2].body;
    assert_eq!(event["type"], "order.accepted");
    assert_eq!(event["data"]["status"], "accepted");
    assert_eq!(event["data"]["store_id"], "st_1");
    assert!(event["data"]["seq"].as_u64().unwrap() >= 2);
    // Placed was not subscribed to: nothing else about this order came.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(got_until(&st, &id, 0, |_| true).await.len(), 3);

    // The owner sees the delivery's story.
    let d = s
        .get(&owner, &format!("/v1/hooks/{hook_id}/deliveries"))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let mine = d.body["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["order_id"] == id.as_str())
        .cloned()
        .expect("the delivery is listed");
    assert_eq!(mine["status"], "succeeded");
    assert_eq!(mine["attempts"], 3);
    assert_eq!(mine["last_status_code"], 204);
    assert_eq!(mine["id"], got[0].webhook_id.as_str());

    // Deleted: no more deliveries, and it is gone from the list.
    let del = s
        .call(
            &s.api,
            Method::DELETE,
            &format!("/v1/hooks/{hook_id}"),
            Some(&owner),
            None,
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let id2 = s.placed_order_on(&s.api, &cust).await;
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id2}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(got_until(&st, &id2, 0, |_| true).await.is_empty());
}

#[tokio::test]
async fn a_receiver_that_answers_gone_disables_the_hook_and_its_owner_is_told() {
    let s = system();
    let (url, st) = receiver().await;
    *st.always.lock().unwrap() = Some(410);
    let ops = s.token("ops", &unique("ops"), None).await;
    let created = create_hook(s, &ops, json!({"url": url, "events": ["*"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let hook_id = created.body["id"].as_str().unwrap().to_owned();
    *st.secret.lock().unwrap() = Some(created.body["secret"].as_str().unwrap().to_owned());

    let cust = s.token("customer", &unique("cust"), None).await;
    let _ = s.placed_order_on(&s.api, &cust).await;
    // An ops hook hears of every order of the shared system: the first event it gets, of this
    // order or of another test's, is answered 410 and disables it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while st.got.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = st.got.lock().unwrap().clone();
    assert!(!got.is_empty(), "ops' hook hears of orders");
    assert!(
        got.iter().all(|r| r.answered == 410 && r.verified),
        "{got:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let hook = loop {
        let list = s.get(&ops, "/v1/hooks").await;
        let hook = list.body["hooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["id"] == hook_id.as_str())
            .cloned()
            .unwrap();
        if !hook["disabled_at"].is_null() || Instant::now() > deadline {
            break hook;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!hook["disabled_at"].is_null(), "{hook}");
    assert!(hook["disabled_reason"].as_str().unwrap().contains("410"));
    let told = s
        .notifications_until(&format!("recipient=ops&order_id=hook:{hook_id}"), 1, 10)
        .await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["status"], "hook_disabled");
    // Nothing more is sent to it.
    let before = st.got.lock().unwrap().len();
    let _ = s.placed_order_on(&s.api, &cust).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(st.got.lock().unwrap().len(), before);
}

#[tokio::test]
async fn hooks_cannot_point_inside_the_deployment() {
    baedal_activities::install_crypto_provider();
    // A notification service as deployed: private targets refused.
    let state = baedal_notification::NotifyState::open(
        &baedal_db::scratch_url().await,
        "svc-token",
        baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt-secret")),
        baedal_notification::delivery::DeliverySettings::default(),
        None,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, baedal_notification::router(state))
            .await
            .unwrap()
    });
    let post = |url: &str, owner: Option<&str>, token: Option<&str>| {
        let mut req = reqwest::Client::new()
            .post(format!("{base}/v1/hooks"))
            .json(&json!({"url": url, "events": ["*"]}));
        if let Some(o) = owner {
            req = req.header("x-baedal-owner", o);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://localhost:8443/x",
        "https://10.0.0.1/x",
        "https://172.16.5.4/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[fd00:ec2::254]/x",
        "https://[fe80::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::ffff:169.254.169.254]/x",
        "https://100.64.0.1/x",
        "https://0.0.0.0/x",
    ] {
        let (status, body) = post(url, Some("ops"), Some("svc-token")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid_hook_url", "{url}: {body}");
    }
    let (status, _) = post("https://hooks.example.com/x", None, Some("svc-token")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no owner named");
    let (status, _) = post("https://hooks.example.com/x", Some("ops"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "only the api may call");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_and_a_failed_delivery_can_be_sent_again() {
    let s = system();
    let (url, st) = receiver().await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let created = create_hook(s, &owner, json!({"url": url, "events": ["order.placed"]})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let hook_id = created.body["id"].as_str().unwrap().to_owned();
    let old_secret = created.body["secret"].as_str().unwrap().to_owned();

    // Rotate: the answer carries the new secret; deliveries verify with either for a day.
    let other = s.token("store_owner", &unique("owner"), Some("st_2")).await;
    let path = format!("/v1/hooks/{hook_id}/rotate-secret");
    let r = s
        .call(&s.api, Method::POST, &path, Some(&other), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "only the owner rotates");
    let r = s
        .call(&s.api, Method::POST, &path, Some(&owner), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let new_secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != old_secret);
    *st.secret.lock().unwrap() = Some(new_secret);
    *st.other_secret.lock().unwrap() = Some(old_secret);

    // The receiver refuses everything about this order until the schedule (five attempts in
    // the test system) runs out.
    let cust = s.token("customer", &unique("cust"), None).await;
    *st.always.lock().unwrap() = Some(500);
    let id = s.placed_order_on(&s.api, &cust).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let d = s
            .get(&owner, &format!("/v1/hooks/{hook_id}/deliveries"))
            .await;
        let mine = d.body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["order_id"] == id.as_str())
            .cloned();
        if mine.as_ref().is_some_and(|m| m["status"] == "failed") || Instant::now() > deadline {
            break mine.expect("the delivery is listed");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(
        failed["attempts"], 6,
        "the first try and five retries: {failed}"
    );
    assert_eq!(failed["last_status_code"], 500);
    let got = got_until(&st, &id, 0, |_| true).await;
    assert_eq!(got.len(), 6);
    assert!(
        got.iter().all(|r| r.verified && r.verified_other),
        "both the new and the old secret verify every attempt: {got:?}"
    );

    // The receiver is fixed; the owner sends the failed delivery again.
    *st.always.lock().unwrap() = None;
    let delivery_id = failed["id"].as_str().unwrap();
    let retry = format!("/v1/hooks/{hook_id}/deliveries/{delivery_id}/retry");
    let r = s
        .call(&s.api, Method::POST, &retry, Some(&other), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s
        .call(&s.api, Method::POST, &retry, Some(&owner), None, None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let got = got_until(&st, &id, 20, |g| g.iter().any(|r| r.answered == 204)).await;
    assert!(got.iter().any(|r| r.answered == 204), "{got:?}");
    assert!(
        got.iter().all(|r| r.webhook_id == delivery_id),
        "the same webhook-id"
    );
}
