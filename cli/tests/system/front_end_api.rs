//! What the web front end reads besides the order contract: a customer's shareable tracking
//! link (status and ETA only, dead once the order ends), the customer's inbox newest first,
//! and ops' live counts and lists of open orders by status. Real dev server, real HTTP.

use crate::common;

use common::{system, unique};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

async fn anonymous(s: &common::TestSystem, path: &str) -> common::Resp {
    s.call(&s.api, Method::GET, path, None, None, None).await
}

#[tokio::test]
async fn a_tracking_link_shows_status_only_and_dies_with_the_order() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;

    let made = s
        .post(&cust, &format!("/v1/orders/{id}/tracking-link"))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let token = made.body["token"].as_str().unwrap().to_owned();
    assert_eq!(made.body["path"], format!("/#/track/{token}"));

    let seen = anonymous(s, &format!("/v1/track/{token}")).await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    let raw = reqwest::get(format!("{}/v1/track/{token}", s.api))
        .await
        .unwrap();
    assert_eq!(
        raw.headers()["cache-control"],
        "no-store",
        "no cache keeps it"
    );
    assert_eq!(seen.body["status"], "placed");
    assert!(seen.body["store_name"].is_string());
    // Status and ETA only: nothing personal, nothing about money.
    let keys: Vec<&String> = seen.body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["status", "store_name", "updated_at", "eta"].contains(&k.as_str())),
        "{keys:?}"
    );

    // Another customer cannot make one for this order; a forged or altered link is nobody's.
    let other = s.token("customer", &unique("cust"), None).await;
    let r = s
        .post(&other, &format!("/v1/orders/{id}/tracking-link"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (order, tag) = token.rsplit_once('.').unwrap();
    for forged in [
        format!("{order}.{}", "0".repeat(tag.len())),
        format!("{}.{tag}", s.placed_order_on(&s.api, &other).await),
        order.to_owned(),
    ] {
        let r = anonymous(s, &format!("/v1/track/{forged}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{forged}: {:?}", r.body);
        assert_eq!(r.code(), "tracking_link_not_found");
    }

    let cancel = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(cancel.status, StatusCode::OK, "{:?}", cancel.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = anonymous(s, &format!("/v1/track/{token}")).await;
        if r.status == StatusCode::GONE {
            assert_eq!(r.code(), "tracking_link_expired");
            break;
        }
        assert!(Instant::now() < deadline, "still {:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = s
        .post(&cust, &format!("/v1/orders/{id}/tracking-link"))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "order_ended");
}

#[tokio::test]
async fn the_inbox_is_the_customers_own_newest_first() {
    let s = system();
    let who = unique("cust");
    let cust = s.token("customer", &who, None).await;
    let first = s.placed_order_on(&s.api, &cust).await;
    let second = s.placed_order_on(&s.api, &cust).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let entries = loop {
        let r = s.get(&cust, "/v1/me/inbox?limit=5").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let entries = r.body["notifications"].as_array().unwrap().clone();
        if entries.len() >= 2 {
            break entries;
        }
        assert!(Instant::now() < deadline, "{entries:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(entries[0]["order_id"], second.as_str());
    assert_eq!(entries.last().unwrap()["order_id"], first.as_str());
    let one = s.get(&cust, "/v1/me/inbox?limit=1").await;
    assert_eq!(one.body["notifications"].as_array().unwrap().len(), 1);
    // Nobody else's: another customer's inbox has none of these.
    let other = s.token("customer", &unique("cust"), None).await;
    let theirs = s.get(&other, "/v1/me/inbox").await;
    assert_eq!(theirs.body["notifications"], json!([]));
    assert_eq!(
        s.get(&cust, "/v1/me/inbox?limit=0").await.code(),
        "invalid_limit"
    );
    let rider = s.token("rider", &unique("rd"), None).await;
    assert_eq!(
        s.get(&rider, "/v1/me/inbox").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn ops_see_open_orders_by_status_with_their_counts() {
    let s = system();
    let ops = s.token("ops", &unique("ops"), None).await;
    let cust = s.token("customer", &unique("cust"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;

    let counts = s.get(&ops, "/v1/ops/orders/counts").await;
    assert_eq!(counts.status, StatusCode::OK, "{:?}", counts.body);
    let counts = counts.body["counts"].as_object().unwrap();
    assert!(counts["placed"].as_i64().unwrap() >= 1);
    for closed in ["completed", "rejected", "canceled", "payment_failed"] {
        assert!(
            !counts.contains_key(closed),
            "closed orders are not counted"
        );
    }
    assert!(counts.contains_key("delivered") && counts.contains_key("cooking"));

    let placed = s.get(&ops, "/v1/ops/orders?status=placed&limit=500").await;
    assert_eq!(placed.status, StatusCode::OK, "{:?}", placed.body);
    let listed = placed.body["orders"].as_array().unwrap();
    assert!(listed.iter().any(|o| o["id"] == id.as_str()), "{listed:?}");
    assert!(listed.iter().all(|o| o["status"] == "placed"));

    for bad in ["completed", "nonsense"] {
        let r = s.get(&ops, &format!("/v1/ops/orders?status={bad}")).await;
        assert_eq!(r.code(), "invalid_status", "{bad}");
    }
    assert_eq!(
        s.get(&cust, "/v1/ops/orders/counts").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_store_board_says_how_long_a_new_order_waits_for_acceptance() {
    let s = system();
    let owner = s.token("store_owner", &unique("owner"), Some("st_2")).await;
    let r = s.get(&owner, "/v1/store/orders?limit=1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The main test api places orders with a 600 s store-accept timer.
    assert_eq!(r.body["accept_within_secs"], 600);
}
