//! The KakaoTalk channel: customers choose it through `/v1/me/notifications` (a Korean mobile
//! number, validated), then hear every status change of their orders as AlimTalk messages at a
//! local fake gateway (the one part that cannot run here): a template per status with the
//! store, the order and the ETA filled in, the key and sender key the gateway checks, one
//! idempotency key per message; its error codes retried or given up; an SMS fallback for a
//! number without KakaoTalk. Real dev server, real HTTP.

use crate::common;

use common::kakao_provider::{FLAKY, INVALID, KEY, NO_KAKAO, SENDER};
use common::{TestSystem, system, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn set_prefs(s: &TestSystem, token: &str, body: Value) -> common::Resp {
    s.call(
        &s.api,
        Method::PUT,
        "/v1/me/notifications",
        Some(token),
        Some(body),
        None,
    )
    .await
}

/// What the fake gateway got for `number`, once `done` holds (or the test's patience ends).
async fn provider_requests(
    s: &TestSystem,
    number: &str,
    secs: u64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let all: Vec<Value> = reqwest::get(format!("{}/requests", s.kakao_provider))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The status messages, not the one-time code that proved the number.
        let mine: Vec<Value> = all
            .into_iter()
            .filter(|r| {
                r["body"]["recipient"] == number
                    && r["body"]["template_code"] != common::kakao_provider::VERIFY_TEMPLATE
            })
            .collect();
        if done(&mine) || Instant::now() > deadline {
            return mine;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The notification service's record of the KakaoTalk messages about `order`.
async fn messages(s: &TestSystem, order: &str) -> Vec<Value> {
    let r: Value = reqwest::Client::new()
        .get(format!("{}/v1/kakao/messages?order_id={order}", s.notify))
        .bearer_auth(common::SERVICE_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["messages"].as_array().unwrap().clone()
}

/// A customer who chose KakaoTalk on `number` (and, unless `inbox`, nothing in the inbox).
async fn kakao_customer(s: &TestSystem, number: &str, inbox: bool) -> (String, String) {
    let id = unique("cust");
    let token = s.token("customer", &id, None).await;
    s.verify_phone(&token, number).await;
    let r = set_prefs(
        s,
        &token,
        json!({"kakao": true, "inbox": inbox, "phone": number}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (id, token)
}

/// A fresh 010 number, so that tests sharing the gateway never read each other's messages.
fn fresh_number() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 90_000_000 + 10_000_000;
    format!("010{n}")
}

#[tokio::test]
async fn customers_choose_their_channels_and_bad_numbers_change_nothing() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let get = || async { s.get(&cust, "/v1/me/notifications").await };
    let r = get().await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"kakao": false, "inbox": true, "phone": null})
    );

    // KakaoTalk without a number on file: refused, nothing stored.
    let r = set_prefs(s, &cust, json!({"kakao": true, "inbox": true})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "phone_required");
    for bad in [
        "02-123-4567",
        "010-123-4567",
        "+1 555 123 4567",
        "010-1234-5678-9",
        "",
    ] {
        let r = set_prefs(
            s,
            &cust,
            json!({"kakao": true, "inbox": true, "phone": bad}),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
        assert!(
            r.body.to_string().contains("010-1234-5678"),
            "says what a number looks like"
        );
    }
    let r = set_prefs(s, &cust, json!({"kakao": true, "inbox": true, "sms": true})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown field");
    assert_eq!(
        get().await.body,
        json!({"kakao": false, "inbox": true, "phone": null})
    );

    // Only a proven number; then any common spelling, answered in national form; a later
    // change keeps the number.
    let r = set_prefs(
        s,
        &cust,
        json!({"kakao": true, "inbox": false, "phone": "+82 10-2345-6789"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "phone_not_verified");
    s.verify_phone(&cust, "+82 10-2345-6789").await;
    let r = set_prefs(
        s,
        &cust,
        json!({"kakao": true, "inbox": false, "phone": "+82 10-2345-6789"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"kakao": true, "inbox": false, "phone": "010-2345-6789"})
    );
    let r = set_prefs(s, &cust, json!({"kakao": false, "inbox": true})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        get().await.body,
        json!({"kakao": false, "inbox": true, "phone": "010-2345-6789"})
    );

    // Channels are a customer's.
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let r = set_prefs(s, &owner, json!({"kakao": false, "inbox": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_status_change_reaches_a_kakao_customer_as_its_alimtalk_template() {
    let s = system();
    let number = fresh_number();
    let (cust_id, cust) = kakao_customer(s, &number, false).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;

    let r = s
        .place_on(&s.api, &cust, &unique("key"), s.order_body(2, "tok_ok"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    s.make_ready(&owner, &id).await;
    for step in ["claim", "pickup", "deliver"] {
        let r = s.ride(&s.api, &rider, &id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let r = s.post(&cust, &format!("/v1/orders/{id}/confirm")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let codes = [
        "BAEDAL_PLACED",
        "BAEDAL_ACCEPTED",
        "BAEDAL_COOKING",
        "BAEDAL_READY",
        "BAEDAL_RIDER_ASSIGNED",
        "BAEDAL_PICKED_UP",
        "BAEDAL_DELIVERED",
        "BAEDAL_COMPLETED",
    ];
    let got = provider_requests(s, &number, 30, |r| r.len() >= codes.len()).await;
    let sent: Vec<&str> = got
        .iter()
        .map(|r| r["body"]["template_code"].as_str().unwrap())
        .collect();
    // One message per status change, in order (notifications go out one at a time).
    assert_eq!(sent, codes, "{got:#?}");
    let store = s.get(&cust, "/v1/stores").await.body["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["id"] == "st_1")
        .map(|st| st["name"].as_str().unwrap().to_owned())
        .unwrap();
    let mut keys = std::collections::HashSet::new();
    for r in &got {
        let b = &r["body"];
        assert_eq!(r["authorization"], format!("Bearer {KEY}"));
        assert_eq!(b["sender_key"], SENDER);
        assert_eq!(r["idempotency_key"], b["message_id"]);
        assert!(
            keys.insert(b["message_id"].to_string()),
            "one key per message"
        );
        let v = &b["variables"];
        assert_eq!(v["가게명"], store.as_str());
        // order_body: 2 of the first item and 1 of the second.
        assert_eq!(v["주문내역"], "국물떡볶이 2개 외 1건", "{v}");
        assert_eq!(v["결제금액"], "14,000원");
        let text = b["message"].as_str().unwrap();
        assert!(text.contains(&store) && !text.contains("#{"), "{text}");
        assert!(
            b["fallback"]["message"].as_str().unwrap().contains(&store),
            "an SMS text rides along"
        );
    }
    let picked = &got[5]["body"];
    let eta: u32 = picked["variables"]["도착예정"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..60).contains(&eta), "{eta}");
    assert!(
        picked["message"]
            .as_str()
            .unwrap()
            .contains(&format!("약 {eta}분 후"))
    );
    assert!(got[0]["body"]["variables"].get("도착예정").is_none());

    // Recorded as sent by AlimTalk; the customer turned their inbox off, the store did not.
    let recorded = messages(s, &id).await;
    assert_eq!(recorded.len(), codes.len(), "{recorded:#?}");
    assert!(
        recorded
            .iter()
            .all(|m| m["status"] == "sent" && m["channel"] == "alimtalk"),
        "{recorded:#?}"
    );
    let inbox = s
        .notifications(&format!("recipient=customer:{cust_id}&order_id={id}"))
        .await;
    assert!(inbox.is_empty(), "{inbox:?}");
    assert!(
        !s.notifications(&format!("recipient=store:st_1&order_id={id}"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn gateway_errors_are_retried_or_given_up_and_a_number_without_kakao_gets_an_sms() {
    let s = system();
    let mut orders = vec![];
    for number in [NO_KAKAO, INVALID, FLAKY] {
        let (_, cust) = kakao_customer(s, number, true).await;
        orders.push(s.placed_order_on(&s.api, &cust).await);
    }
    let settled = |m: &Vec<Value>| m.len() == 1 && m[0]["status"] != "pending";
    let mut recorded = vec![];
    for id in &orders {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut m = messages(s, id).await;
        while !settled(&m) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            m = messages(s, id).await;
        }
        assert!(settled(&m), "{m:#?}");
        recorded.push(m[0].clone());
    }
    // No KakaoTalk: the gateway sent the fallback as an SMS.
    assert_eq!(recorded[0]["status"], "sent");
    assert_eq!(recorded[0]["channel"], "sms");
    let sms = provider_requests(s, NO_KAKAO, 5, |r| !r.is_empty()).await;
    let text = sms[0]["body"]["fallback"]["message"].as_str().unwrap();
    assert!(text.contains("주문 접수"), "{text}");
    // An invalid number: given up at once, never sent again.
    assert_eq!(recorded[1]["status"], "failed");
    assert_eq!(recorded[1]["attempts"], 1);
    assert_eq!(recorded[1]["last_code"], "3008");
    // The gateway failed once: retried with the same key, sent once.
    assert_eq!(recorded[2]["status"], "sent");
    assert_eq!(recorded[2]["attempts"], 2);
    let flaky = provider_requests(s, FLAKY, 5, |r| r.len() >= 2).await;
    assert_eq!(flaky.len(), 2);
    assert_eq!(flaky[0]["idempotency_key"], flaky[1]["idempotency_key"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        provider_requests(s, INVALID, 0, |_| true).await.len(),
        1,
        "a given-up message is not tried again"
    );
}
