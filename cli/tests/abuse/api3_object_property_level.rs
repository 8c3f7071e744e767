//! API3:2023 Broken Object Property Level Authorization. The probe: a store owner read the
//! customer's id, exact address and the rider's live position of their orders, for ever, on
//! every read and stream; a rider read the customer's address after delivery; a customer read
//! the rider's internal id. Now each party sees what it needs while it needs it
//! (`api/src/views.rs`), on every read, list, command answer and stream.

use crate::common::{TestSystem, system, unique};
use crate::sse;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const ARRIVES: Duration = Duration::from_secs(10);

/// Where the order goes: unique, so that finding it anywhere is finding a leak.
fn address() -> String {
    format!("서울 강남구 테헤란로 1 {}", unique("door"))
}

fn body(s: &TestSystem, address: &str) -> Value {
    let mut b = s.order_body(1, "tok_ok");
    b["delivery"]["address"] = json!(address);
    b
}

fn lacks(what: &str, body: &Value, secrets: &[&str]) {
    let text = body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// The store's order as its list shows it.
async fn listed(s: &TestSystem, owner: &str, id: &str) -> Value {
    let r = s.get(owner, "/v1/store/orders?limit=100").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["orders"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["id"] == id).cloned())
        .expect("the store lists its order")
}

#[tokio::test]
async fn each_party_sees_only_what_it_needs_while_it_needs_it() {
    let s = system();
    let cust_id = unique("secret-cust");
    let cust = s.token("customer", &cust_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider_id = unique("secret-rider");
    let rider = s.token("rider", &rider_id, None).await;
    let other_rider = s.token("rider", &unique("rider"), None).await;
    let ops = s.token("ops", &unique("ops"), None).await;
    let door = address();

    // The store's live stream, open before the order exists.
    let url = format!("{}/v1/store/orders/events", s.api);
    let mut store_stream = sse::open(&url, Some(&owner), None).await.1.unwrap();

    let r = s
        .place_on(&s.api, &cust, &unique("key"), body(s, &door))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let (placed, _) = store_stream
        .until(ARRIVES, |e| e.data["id"] == id.as_str())
        .await;
    lacks("the store stream", &placed.data, &[&cust_id, "customer_id"]);
    assert_eq!(placed.data["delivery"]["address"], door.as_str());

    s.make_ready(&owner, &id).await;
    // Not assigned: the rider board and another rider's read show no address.
    let board = s
        .get(
            &other_rider,
            "/v1/rider/deliveries?lat=37.4979&lon=127.0376&radius_km=3",
        )
        .await;
    lacks("the rider board", &board.body, &[&door, &cust_id]);
    let r = s
        .get(&other_rider, &format!("/v1/rider/deliveries/{id}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    lacks("another rider's read", &r.body, &[&door]);

    let r = s.ride(&s.api, &rider, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["delivery"]["address"], door.as_str(), "assigned");
    let r = s
        .report_position(&rider, json!({"lat": 37.4985, "lon": 127.0290}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // The customer's order stream, open while the rider rides.
    let url = format!("{}/v1/orders/{id}/events", s.api);
    let mut cust_stream = sse::open(&url, Some(&cust), None).await.1.unwrap();
    let first = cust_stream.next_event(ARRIVES).await.expect("the status");
    lacks("the customer's stream", &first.data, &[&rider_id]);

    // The customer: the rider's display name and position, never the rider's id.
    let seen = s
        .wait_for(&s.api, &cust, &id, 10, |o| {
            o["eta"]["basis"] == "rider_location"
        })
        .await;
    lacks("the customer's read", &seen, &[&rider_id, "rider_id"]);
    assert!(seen["rider"]["display_name"].is_string(), "{seen}");
    assert!(seen["eta"]["rider_location"]["lat"].is_number(), "{seen}");
    assert_eq!(seen["delivery"]["address"], door.as_str());

    // The store owner, on the way: the address (for the bag), the estimate, the rider's name;
    // never the customer's id, the rider's id or position.
    let store_secrets = [
        cust_id.as_str(),
        rider_id.as_str(),
        "customer_id",
        "rider_location\":",
    ];
    let r = s.get(&owner, &format!("/v1/orders/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    lacks("the store's read", &r.body, &store_secrets);
    assert_eq!(r.body["delivery"]["address"], door.as_str());
    assert_eq!(r.body["eta"]["basis"], "rider_location");
    assert!(r.body["rider"]["display_name"].is_string());
    lacks(
        "the store's list",
        &listed(s, &owner, &id).await,
        &store_secrets,
    );
    let url = format!("{}/v1/orders/{id}/events", s.api);
    let mut owner_stream = sse::open(&url, Some(&owner), None).await.1.unwrap();
    let first = owner_stream.next_event(ARRIVES).await.expect("the status");
    lacks("the store's order stream", &first.data, &store_secrets);

    for step in ["pickup", "deliver"] {
        let r = s.ride(&s.api, &rider, &id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let (delivered, _) = store_stream
        .until(ARRIVES, |e| {
            e.data["id"] == id.as_str() && e.event == "delivered"
        })
        .await;

    // Delivered: the store owner and the rider no longer see the door.
    let gone = [door.as_str(), cust_id.as_str(), rider_id.as_str()];
    lacks("the store stream after delivery", &delivered.data, &gone);
    let r = s.get(&owner, &format!("/v1/orders/{id}")).await;
    assert_eq!(r.body["status"], "delivered", "{:?}", r.body);
    lacks("the store's read after delivery", &r.body, &gone);
    lacks(
        "the store's list after delivery",
        &listed(s, &owner, &id).await,
        &gone,
    );
    let (after, _) = owner_stream
        .until(ARRIVES, |e| e.event == "delivered")
        .await;
    lacks(
        "the store's order stream after delivery",
        &after.data,
        &gone,
    );
    let r = s.get(&rider, &format!("/v1/rider/deliveries/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "delivered");
    lacks(
        "the rider's read after delivery",
        &r.body,
        &[&door, &cust_id],
    );
    let (after, _) = cust_stream.until(ARRIVES, |e| e.event == "delivered").await;
    lacks("the customer's stream", &after.data, &[&rider_id]);

    // The customer keeps their own order; ops see everything.
    let r = s.get(&cust, &format!("/v1/orders/{id}")).await;
    assert_eq!(r.body["delivery"]["address"], door.as_str());
    lacks("the customer's read after delivery", &r.body, &[&rider_id]);
    let r = s.post(&cust, &format!("/v1/orders/{id}/confirm")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    lacks("the customer's confirm", &r.body, &[&rider_id]);
    let r = s.get(&ops, &format!("/v1/orders/{id}")).await;
    assert_eq!(r.body["customer_id"], cust_id.as_str());
    assert_eq!(r.body["rider_id"], rider_id.as_str());
    assert_eq!(r.body["delivery"]["address"], door.as_str());
}

/// The document says which fields each role gets: the order schema marks the personal ones
/// optional and says for whom.
#[tokio::test]
async fn the_document_states_what_each_role_sees() {
    let s = system();
    let doc: Value = reqwest::get(format!("{}/openapi.json", s.api))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = &doc["components"]["schemas"]["OrderForRole"];
    let required: Vec<&str> = order["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for personal in ["customer_id", "delivery", "rider_id", "rider", "eta"] {
        assert!(!required.contains(&personal), "{personal} is optional");
    }
    for personal in ["customer_id", "delivery", "rider_id", "eta"] {
        assert!(
            order["properties"][personal]["description"].is_string(),
            "{personal} says who sees it: {order}"
        );
    }
}
