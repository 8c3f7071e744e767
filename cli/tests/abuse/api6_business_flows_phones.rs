//! API6:2023 Unrestricted Access to Sensitive Business Flows, the KakaoTalk channel. The
//! probe: any phone number was taken for KakaoTalk, so every status of every order could be
//! sent to a stranger. Now only a number proven with a one-time code sent through the gateway
//! (`POST /v1/me/phone/verify`, `/confirm`) can have KakaoTalk; codes expire, and both the
//! tries per code and the codes sent per customer and per number are limited.

use crate::common::kakao_provider::{self, VERIFY_TEMPLATE};
use crate::common::{Resp, TestSystem, system, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A fresh 010 number, so that tests sharing the gateway never count each other's codes.
fn fresh_number() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 90_000_000 + 10_000_000;
    format!("010{n}")
}

async fn send(s: &TestSystem, method: Method, token: &str, path: &str, body: Value) -> Resp {
    s.call(&s.api, method, path, Some(token), Some(body), None)
        .await
}

async fn ask_code(s: &TestSystem, token: &str, number: &str) -> Resp {
    send(
        s,
        Method::POST,
        token,
        "/v1/me/phone/verify",
        json!({"phone": number}),
    )
    .await
}

async fn confirm(s: &TestSystem, token: &str, code: &str) -> Resp {
    send(
        s,
        Method::POST,
        token,
        "/v1/me/phone/confirm",
        json!({"code": code}),
    )
    .await
}

async fn choose_kakao(s: &TestSystem, token: &str, number: &str) -> Resp {
    let body = json!({"kakao": true, "inbox": true, "phone": number});
    send(s, Method::PUT, token, "/v1/me/notifications", body).await
}

/// What the gateway got for `number`: the status messages, not the codes.
async fn messages_to(s: &TestSystem, number: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get(format!("{}/requests", s.kakao_provider))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all.into_iter()
        .filter(|r| {
            r["body"]["recipient"] == number && r["body"]["template_code"] != VERIFY_TEMPLATE
        })
        .collect()
}

#[tokio::test]
async fn kakao_to_a_number_nobody_proved_is_refused_and_sends_nothing() {
    let s = system();
    let cust_id = unique("cust");
    let cust = s.token("customer", &cust_id, None).await;
    let stranger = fresh_number();
    let r = choose_kakao(s, &cust, &stranger).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "phone_not_verified");
    assert!(
        r.body.to_string().contains("/v1/me/phone/verify"),
        "says what to do"
    );

    // Proving one's own number does not open KakaoTalk to another.
    let own = fresh_number();
    s.verify_phone(&cust, &own).await;
    let r = choose_kakao(s, &cust, &stranger).await;
    assert_eq!(r.code(), "phone_not_verified", "{:?}", r.body);
    let prefs = s.get(&cust, "/v1/me/notifications").await;
    assert_eq!(prefs.body["kakao"], false, "{:?}", prefs.body);

    // An order's notification reaches the inbox; nothing goes to the stranger (a message would
    // have been written in the same transaction as the inbox entry).
    let id = s.placed_order_on(&s.api, &cust).await;
    let told = s
        .notifications_until(
            &format!("recipient=customer:{cust_id}&order_id={id}"),
            1,
            20,
        )
        .await;
    assert!(!told.is_empty());
    let sent: Value = reqwest::Client::new()
        .get(format!("{}/v1/kakao/messages?order_id={id}", s.notify))
        .bearer_auth(crate::common::SERVICE_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["messages"], json!([]), "{sent}");
    assert!(messages_to(s, &stranger).await.is_empty());
}

#[tokio::test]
async fn wrong_codes_and_repeated_sends_are_limited() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let number = fresh_number();
    let r = ask_code(s, &cust, &number).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["expires_in_secs"], 300);
    let code = kakao_provider::code_for(&s.kakao_provider, &number)
        .await
        .unwrap();
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

    let r = confirm(s, &cust, "12ab56").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.code(), "invalid_code");
    for left in (0..5).rev() {
        let r = confirm(s, &cust, &wrong).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
        assert_eq!(r.code(), "wrong_code");
        assert!(
            r.body.to_string().contains(&format!("{left} tries left")),
            "{:?}",
            r.body
        );
    }
    // Five tries spent: even the right code is refused now.
    let r = confirm(s, &cust, &code).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    assert_eq!(r.code(), "too_many_attempts");
    let r = choose_kakao(s, &cust, &number).await;
    assert_eq!(r.code(), "phone_not_verified");

    // Codes sent: three per customer and per number in the window, then 429 with Retry-After.
    for _ in 0..2 {
        let r = ask_code(s, &cust, &number).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    }
    let r = ask_code(s, &cust, &fresh_number()).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "per customer: {:?}",
        r.body
    );
    assert_eq!(r.code(), "too_many_codes");
    let wait: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
    let other = s.token("customer", &unique("cust"), None).await;
    let r = ask_code(s, &other, &number).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "per number: {:?}",
        r.body
    );
    assert!(r.retry_after.is_some());
    // Another number is the other customer's to prove.
    let r = ask_code(s, &other, &fresh_number()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
}

#[tokio::test]
async fn an_expired_code_proves_nothing() {
    baedal_activities::install_crypto_provider();
    // A notification service whose codes last a millisecond, at a gateway of its own.
    let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway_url = format!("http://{}", gateway.local_addr().unwrap());
    tokio::spawn(kakao_provider::serve(gateway));
    let mut kakao = crate::common::kakao_settings(&gateway_url);
    kakao.verify.code_ttl = Duration::from_millis(1);
    let state = baedal_notification::NotifyState::open(
        &baedal_db::scratch_url().await,
        "svc",
        baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt")),
        baedal_notification::delivery::DeliverySettings::default(),
        Some(kakao),
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
    let post = |path: &str, body: Value| {
        let req = reqwest::Client::new()
            .post(format!("{base}{path}"))
            .bearer_auth("svc")
            .header("x-baedal-owner", "customer:late")
            .json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let number = fresh_number();
    let (status, body) = post("/v1/phone/verify", json!({"phone": number})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let code = kakao_provider::code_for(&gateway_url, &number)
        .await
        .unwrap();
    let sent = Instant::now();
    while sent.elapsed() < Duration::from_millis(5) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, body) = post("/v1/phone/confirm", json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "code_expired");
    let r = reqwest::Client::new()
        .put(format!("{base}/v1/channels"))
        .bearer_auth("svc")
        .header("x-baedal-owner", "customer:late")
        .json(&json!({"kakao": true, "inbox": true, "phone": number}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_proven_number_hears_about_its_orders() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let number = fresh_number();
    s.verify_phone(&cust, &number).await;
    let r = choose_kakao(s, &cust, &number).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["kakao"], true);
    let _ = s.placed_order_on(&s.api, &cust).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = messages_to(s, &number).await;
    while got.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = messages_to(s, &number).await;
    }
    assert_eq!(
        got.first().map(|m| m["body"]["template_code"].clone()),
        Some(json!("BAEDAL_PLACED")),
        "{got:?}"
    );
}
