//! Live status over SSE against the running system: the customer's order stream, the store's
//! stream of all its orders, and the riders' stream of deliveries nearby; resuming with
//! `Last-Event-ID` without gaps or repeats; the same authorization as the reads; heartbeats.

use crate::common;
use crate::sse;

use common::{SSE_HEARTBEAT, system, unique};
use reqwest::StatusCode;
use std::time::Duration;

/// Generous: the figure that matters (under a second) is measured by `baedal-bench sse`.
const ARRIVES: Duration = Duration::from_secs(10);

fn ids(events: &[sse::SseEvent]) -> Vec<String> {
    events.iter().filter_map(|e| e.id.clone()).collect()
}

#[tokio::test]
async fn a_customer_follows_their_order_and_a_reconnect_replays_what_it_missed_once() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    let url = format!("{}/v1/orders/{id}/events", s.api);

    // Connecting answers the current status first.
    let (st, stream, _) = sse::open(&url, Some(&cust), None).await;
    assert_eq!(st, StatusCode::OK);
    let mut stream = stream.unwrap();
    let first = stream
        .next_event(ARRIVES)
        .await
        .expect("the current status");
    assert_eq!(first.event, "placed");
    assert_eq!(first.id.as_deref(), Some(format!("{id}:1").as_str()));
    assert_eq!(first.data["order"]["id"], id.as_str());

    // A change made through the api arrives as it happens.
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let accepted = stream.next_event(ARRIVES).await.expect("the accept");
    assert_eq!(accepted.event, "accepted");
    assert_eq!(accepted.id.as_deref(), Some(format!("{id}:2").as_str()));
    assert_eq!(accepted.data["seq"], 2);
    assert_eq!(accepted.data["status"], "accepted");
    drop(stream);

    // While disconnected the order moves twice; the reconnect gets both, in order, and the
    // next live change once.
    for step in ["start-cooking", "finish-cooking"] {
        let r = s
            .post(&owner, &format!("/v1/store/orders/{id}/{step}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let (st, stream, _) = sse::open(&url, Some(&cust), Some(&format!("{id}:2"))).await;
    assert_eq!(st, StatusCode::OK);
    let mut stream = stream.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(stream.next_event(ARRIVES).await.expect("a missed change"));
    }
    assert_eq!(ids(&got), [format!("{id}:3"), format!("{id}:4")]);
    assert_eq!(got[1].event, "ready_for_pickup");
    let cancel = s
        .call(
            &s.api,
            reqwest::Method::POST,
            &format!("/v1/orders/{id}/cancel"),
            Some(&cust),
            None,
            None,
        )
        .await;
    let after = stream.next_event(ARRIVES).await;
    if cancel.status == StatusCode::OK {
        let after = after.expect("the cancel");
        assert_eq!(after.id.as_deref(), Some(format!("{id}:5").as_str()));
    }
    // Nothing twice: nothing else is pending on the stream.
    let rest = stream.next_event(Duration::from_secs(2)).await;
    assert!(rest.is_none(), "{rest:?}");
}

#[tokio::test]
async fn order_streams_are_authorized_as_the_order_is() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let other = s.token("customer", &unique("other"), None).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let stranger_owner = s.token("store_owner", &unique("owner"), Some("st_2")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    let url = format!("{}/v1/orders/{id}/events", s.api);
    for (tok, want) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(&other), StatusCode::NOT_FOUND),
        (Some(&stranger_owner), StatusCode::NOT_FOUND),
        (Some(&rider), StatusCode::FORBIDDEN),
    ] {
        let (st, _, body) = sse::open(&url, tok.map(String::as_str), None).await;
        assert_eq!(st, want, "{body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (st, _, body) = sse::open(&url, Some(&cust), Some("three")).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_last_event_id");
    // The store's owner may follow it too.
    let (st, _, _) = sse::open(&url, Some(&owner), None).await;
    assert_eq!(st, StatusCode::OK);
    // Only store owners get the store stream, only riders the rider stream.
    let (st, _, _) = sse::open(
        &format!("{}/v1/store/orders/events", s.api),
        Some(&cust),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let rider_url = format!(
        "{}/v1/rider/deliveries/events?lat=37.4979&lon=127.0276&radius_km=3",
        s.api
    );
    let (st, _, _) = sse::open(&rider_url, Some(&owner), None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, body) = sse::open(
        &format!(
            "{}/v1/rider/deliveries/events?lat=99&lon=127&radius_km=3",
            s.api
        ),
        Some(&rider),
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn a_store_owner_sees_every_new_order_of_their_store_and_only_theirs() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let url = format!("{}/v1/store/orders/events", s.api);
    let (st, stream, _) = sse::open(&url, Some(&owner), None).await;
    assert_eq!(st, StatusCode::OK);
    let mut stream = stream.unwrap();

    let mut st2 = s.order_body(1, "tok_ok");
    st2["store_id"] = "st_2".into();
    st2["items"] = serde_json::json!([{"menu_item_id": "mi_2_1", "quantity": 1}]);
    let elsewhere = s.place_on(&s.api, &cust, &unique("key"), st2).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::CREATED,
        "{:?}",
        elsewhere.body
    );
    let id = s.placed_order_on(&s.api, &cust).await;

    let (new, before) = stream.until(ARRIVES, |e| e.data["id"] == id.as_str()).await;
    assert_eq!(new.event, "placed");
    assert_eq!(new.data["items"][0]["menu_item_id"], "mi_1_1");
    for e in before.iter().chain([&new]) {
        assert_eq!(e.data["store_id"], "st_1", "another store's order: {e:?}");
    }
    let pos = new.id.clone().expect("a stream position");
    drop(stream);

    // Accepted while away: the reconnect from that position gets it, and nothing at or
    // before the position.
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (_, stream, _) = sse::open(&url, Some(&owner), Some(&pos)).await;
    let mut stream = stream.unwrap();
    let (accepted, before) = stream.until(ARRIVES, |e| e.data["id"] == id.as_str()).await;
    assert_eq!(accepted.event, "accepted");
    let p: i64 = pos.parse().unwrap();
    for e in before.iter().chain([&accepted]) {
        let q: i64 = e.id.as_deref().unwrap().parse().unwrap();
        assert!(q > p, "replayed {q} at or before {p}");
        assert_eq!(e.data["store_id"], "st_1");
    }
}

#[tokio::test]
async fn riders_nearby_see_a_delivery_appear_and_go_as_a_card_and_far_ones_do_not() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let taker = s.token("rider", &unique("rider"), None).await;
    let watcher = s.token("rider", &unique("rider"), None).await;
    // st_1 is at 37.4979, 127.0276; Busan is 325 km away.
    let near = format!(
        "{}/v1/rider/deliveries/events?lat=37.4990&lon=127.0280&radius_km=3",
        s.api
    );
    let far = format!(
        "{}/v1/rider/deliveries/events?lat=35.1796&lon=129.0756&radius_km=3",
        s.api
    );
    let mut near_stream = sse::open(&near, Some(&watcher), None).await.1.unwrap();
    let mut far_stream = sse::open(&far, Some(&watcher), None).await.1.unwrap();

    let id = s.placed_order_on(&s.api, &cust).await;
    for step in ["accept", "start-cooking", "finish-cooking"] {
        let r = s
            .post(&owner, &format!("/v1/store/orders/{id}/{step}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let (ready, _) = near_stream
        .until(ARRIVES, |e| e.data["id"] == id.as_str())
        .await;
    assert_eq!(ready.event, "ready_for_pickup");
    assert_eq!(ready.data["pickup"]["store_name"], "강남역 떡볶이");
    assert!(ready.data["distance_km"].as_f64().unwrap() < 1.0);
    let card = ready.data.to_string();
    for secret in ["customer_id", "delivery", "payment", "history", "테헤란로"] {
        assert!(!card.contains(secret), "the stream leaks {secret}: {card}");
    }

    let r = s.ride(&s.api, &taker, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (taken, _) = near_stream
        .until(ARRIVES, |e| e.data["id"] == id.as_str())
        .await;
    assert_eq!(taken.event, "rider_assigned");
    assert!(!taken.data.to_string().contains("rider_id"));

    while let Some(e) = far_stream.next_event(Duration::from_millis(500)).await {
        assert_ne!(
            e.data["id"],
            id.as_str(),
            "a rider 325 km away was told: {e:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_stream_gets_heartbeats() {
    let s = system();
    let owner = s.token("store_owner", &unique("owner"), Some("st_7")).await;
    let (_, stream, _) = sse::open(
        &format!("{}/v1/store/orders/events", s.api),
        Some(&owner),
        None,
    )
    .await;
    let mut stream = stream.unwrap();
    let mut beats = 0;
    while beats < 2 {
        match stream.next_item(SSE_HEARTBEAT * 3).await {
            Some(sse::Item::Comment) => beats += 1,
            Some(sse::Item::Event(_)) => {}
            None => panic!("no heartbeat within {:?}", SSE_HEARTBEAT * 3),
        }
    }
}

#[tokio::test]
async fn the_customer_stream_carries_each_new_rider_position_as_an_eta_once() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    let r = s.ride(&s.api, &rider, &id, "claim").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    s.wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "rider_assigned")
        .await;

    let url = format!("{}/v1/orders/{id}/events", s.api);
    let (st, stream, _) = sse::open(&url, Some(&cust), None).await;
    assert_eq!(st, StatusCode::OK);
    let mut stream = stream.unwrap();
    let first = stream
        .next_event(ARRIVES)
        .await
        .expect("the current status");
    assert_eq!(first.event, "rider_assigned");

    for (n, lat) in [37.51, 37.505].into_iter().enumerate() {
        let r = s
            .report_position(&rider, serde_json::json!({"lat": lat, "lon": 127.03}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let mut eta = stream.next_event(ARRIVES).await.expect("an eta event");
        // The position reported for the claim (at the store) may come first, once.
        if n == 0 && eta.data["eta"]["rider_location"]["at"] != r.body["at"] {
            eta = stream.next_event(ARRIVES).await.expect("an eta event");
        }
        assert_eq!(eta.event, "eta", "report {n}: {eta:?}");
        assert_eq!(eta.id, None, "an eta is not a resumable status change");
        assert_eq!(eta.data["order_id"], id.as_str());
        assert_eq!(eta.data["eta"]["basis"], "rider_location");
        assert_eq!(eta.data["eta"]["rider_location"]["lat"], lat);
        assert_eq!(eta.data["eta"]["rider_location"]["at"], r.body["at"]);
        assert!(eta.data["eta"]["minutes"].as_u64().unwrap() >= 5);
    }
    // No new report, no new event (the stream looks every few seconds).
    let rest = stream
        .next_event(baedal_api::ETA_EVERY * 2 + Duration::from_secs(1))
        .await;
    assert!(rest.is_none(), "{rest:?}");

    // The status still arrives as before.
    let r = s.ride(&s.api, &rider, &id, "pickup").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let picked = stream.next_event(ARRIVES).await.expect("the pickup");
    assert_eq!(picked.event, "picked_up");
    assert_eq!(picked.id.as_deref(), Some(format!("{id}:6").as_str()));
}

#[tokio::test]
async fn a_resume_the_log_cannot_serve_gets_a_reset_with_the_current_state_and_one_past_the_end_is_refused()
 {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let open = s.placed_order_on(&s.api, &cust).await;
    let ready = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &ready).await;
    let store_url = format!("{}/v1/store/orders/events", s.api);
    let board_url = format!(
        "{}/v1/rider/deliveries/events?lat=37.4990&lon=127.0280&radius_km=3",
        s.api
    );

    // A position past the log's end was never handed out.
    for url in [&store_url, &board_url] {
        let tok = if url == &store_url { &owner } else { &rider };
        let (st, _, body) = sse::open(url, Some(tok), Some("999999999999999999")).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_last_event_id");
    }

    // A position the log no longer holds (here one it never held): the store's open orders,
    // without an id, then live changes.
    let (st, stream, _) = sse::open(&store_url, Some(&owner), Some("0")).await;
    assert_eq!(st, StatusCode::OK);
    let mut stream = stream.unwrap();
    let reset = stream.next_event(ARRIVES).await.expect("a reset");
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.id, None, "a reset is not a place to resume from");
    let orders = reset.data["orders"].as_array().expect("the open orders");
    assert!(
        orders.iter().any(|o| o["id"] == open.as_str()),
        "{orders:?}"
    );
    assert!(orders.iter().all(|o| o["store_id"] == "st_1"));
    let r = s
        .post(&owner, &format!("/v1/store/orders/{open}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (accepted, _) = stream
        .until(ARRIVES, |e| {
            e.data["id"] == open.as_str() && e.event == "accepted"
        })
        .await;
    assert!(accepted.id.is_some(), "live events carry positions again");

    // The rider's: the board nearby, as cards.
    let (st, stream, _) = sse::open(&board_url, Some(&rider), Some("0")).await;
    assert_eq!(st, StatusCode::OK);
    let reset = stream.unwrap().next_event(ARRIVES).await.expect("a reset");
    assert_eq!(reset.event, "reset");
    let cards = reset.data["deliveries"].as_array().expect("the board");
    let card = cards
        .iter()
        .find(|c| c["id"] == ready.as_str())
        .expect("the ready delivery");
    assert!(card["distance_km"].is_number());
    assert!(!card.to_string().contains("customer_id"));
}
