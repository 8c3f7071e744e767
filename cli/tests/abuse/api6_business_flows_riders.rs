//! API6:2023, unrestricted access to sensitive business flows: riders' claims, pickups and
//! deliveries, and where an order may be delivered. A rider is paid per delivery, so a rider
//! far away has a reason to claim by id what their board never showed, and to report a position
//! they are not at; a customer has one to order from a store that does not deliver to them.

use crate::common::{Resp, system, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

const JEJU: (f64, f64) = (33.4996, 126.5312);
const NEW_YORK: (f64, f64) = (40.7128, -74.0060);

async fn at(rider: &str, (lat, lon): (f64, f64)) -> Resp {
    system()
        .report_position(rider, json!({"lat": lat, "lon": lon}))
        .await
}

/// A Gangnam (st_1) order, ready for pickup.
async fn ready_gangnam_order() -> String {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    id
}

fn claim_path(id: &str) -> String {
    format!("/v1/rider/deliveries/{id}/claim")
}

#[tokio::test]
async fn a_rider_in_jeju_cannot_claim_gangnam_deliveries_by_id() {
    let s = system();
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = ready_gangnam_order().await;
    // Without any position: refused, and it says what to do.
    let r = s.post(&rider, &claim_path(&id)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "rider_position_unknown"),
        "{:?}",
        r.body
    );
    // From Jeju the board shows nothing of Gangnam, and a claim by id is refused.
    assert_eq!(at(&rider, JEJU).await.status, StatusCode::OK);
    let board = s
        .get(
            &rider,
            &format!(
                "/v1/rider/deliveries?lat={}&lon={}&radius_km=50",
                JEJU.0, JEJU.1
            ),
        )
        .await;
    assert!(!board.body.to_string().contains(&id));
    let r = s.post(&rider, &claim_path(&id)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "too_far"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"].is_string());
    // Still on the board for a rider who is near.
    let near = s.token("rider", &unique("rider"), None).await;
    let r = s.ride(&s.api, &near, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn seoul_new_york_seoul_within_a_second_is_refused_and_the_eta_unchanged() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    let r = s.ride(&s.api, &rider, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let before: Value = s
        .wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "rider_assigned")
        .await;
    let eta = before["eta"].clone();
    assert_eq!(eta["basis"], "rider_location", "{before}");
    let r = at(&rider, NEW_YORK).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "implausible_speed"),
        "{:?}",
        r.body
    );
    let after = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    assert_eq!(after["eta"]["rider_location"], eta["rider_location"]);
    assert_eq!(after["eta"]["minutes"], eta["minutes"]);
    // Back where the rider was: kept, and the estimate is the one before New York.
    let r = at(&rider, (37.4979, 127.0276)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let after = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    assert_eq!(after["eta"]["rider_location"]["lat"], 37.4979);
    assert_eq!(after["eta"]["minutes"], eta["minutes"]);
}

#[tokio::test]
async fn pickup_and_deliver_from_eleven_thousand_km_away_are_refused() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    // The first report of a fresh rider has nothing to be compared with: New York.
    assert_eq!(at(&rider, NEW_YORK).await.status, StatusCode::OK);
    for (step, code) in [
        ("claim", "too_far"),
        ("pickup", "order_not_found"),
        ("deliver", "order_not_found"),
    ] {
        let r = s
            .post(&rider, &format!("/v1/rider/deliveries/{id}/{step}"))
            .await;
        assert_eq!(r.code(), code, "{step}: {:?}", r.body);
    }
    // A rider who claimed at the store.
    let there = s.token("rider", &unique("rider"), None).await;
    let r = s.ride(&s.api, &there, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Reported from the door while the food is still at the store: no pickup.
    let door = s.order_body(1, "tok_ok")["delivery"].clone();
    let r = at(
        &there,
        (door["lat"].as_f64().unwrap(), door["lon"].as_f64().unwrap()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = s
        .post(&there, &format!("/v1/rider/deliveries/{id}/pickup"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "rider_not_at_store"),
        "{:?}",
        r.body
    );
    let r = s.ride(&s.api, &there, &id, "pickup").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // At the store with the food, not at the door: no deliver.
    let r = s
        .post(&there, &format!("/v1/rider/deliveries/{id}/deliver"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "rider_not_at_door"),
        "{:?}",
        r.body
    );
    let r = s.ride(&s.api, &there, &id, "deliver").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_rider_carries_at_most_max_active_deliveries() {
    let s = system();
    let rider = s.token("rider", &unique("rider"), None).await;
    let max = crate::common::PLAUSIBILITY.max_active as usize;
    let mut ids = Vec::new();
    for _ in 0..=max {
        ids.push(ready_gangnam_order().await);
    }
    for id in &ids[..max] {
        let r = s.ride(&s.api, &rider, id, "claim").await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    // The read model shows the claims a moment after they are answered: the next claim is
    // judged on it (a report answers the deliveries it holds).
    let store = (37.4979, 127.0276);
    for _ in 0..100 {
        let held = at(&rider, store).await.body["deliveries"]
            .as_array()
            .map(Vec::len);
        if held == Some(max) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = s.ride(&s.api, &rider, &ids[max], "claim").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "rider_too_many_active"),
        "{:?}",
        r.body
    );
    // Delivering one frees a hand.
    for step in ["pickup", "deliver"] {
        let r = s.ride(&s.api, &rider, &ids[0], step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
}

#[tokio::test]
async fn claims_sent_all_at_once_still_stop_at_max_active() {
    let s = system();
    let rider = s.token("rider", &unique("rider"), None).await;
    let max = crate::common::PLAUSIBILITY.max_active as usize;
    let mut ids = Vec::new();
    for _ in 0..max + 2 {
        ids.push(ready_gangnam_order().await);
    }
    assert_eq!(at(&rider, (37.4979, 127.0276)).await.status, StatusCode::OK);
    let paths: Vec<String> = ids.iter().map(|id| claim_path(id)).collect();
    let answers = futures::future::join_all(paths.iter().map(|path| s.post(&rider, path))).await;
    let won = answers
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let refused: Vec<_> = answers
        .iter()
        .filter(|r| r.status != StatusCode::OK)
        .map(|r| (r.status, r.code().to_owned()))
        .collect();
    assert_eq!(won, max, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|r| *r == (StatusCode::CONFLICT, "rider_too_many_active".to_owned())),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_gangnam_order_delivered_to_jeju_is_refused_and_nothing_is_charged() {
    let s = system();
    let sub = unique("cust");
    let cust = s.token("customer", &sub, None).await;
    let mut body = s.order_body(1, "tok_ok");
    body["delivery"] =
        json!({"address": "제주 제주시", "region": "gangnam", "lat": JEJU.0, "lon": JEJU.1});
    let key = unique("key");
    let r = s.place_on(&s.api, &cust, &key, body).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "outside_delivery_area"),
        "{:?}",
        r.body
    );
    let mine = s.get(&cust, "/v1/orders").await;
    assert_eq!(mine.body["orders"], json!([]), "{:?}", mine.body);
    let id = baedal_api::order_id_for(&sub, &key);
    assert!(s.payments(&id).await.is_empty());
}

#[tokio::test]
async fn a_lying_region_is_not_stored() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let mut body = s.order_body(1, "tok_ok");
    body["delivery"]["region"] = json!("jeju");
    let r = s.place_on(&s.api, &cust, &unique("key"), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // A Gangnam point is in Gangnam, whatever the label said.
    assert_eq!(r.body["region"], "gangnam", "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let again = s.get(&cust, &format!("/v1/orders/{id}")).await;
    assert_eq!(again.body["region"], "gangnam");
    assert_eq!(again.body["delivery"]["region"], "gangnam");
}
