//! Order lifecycles end to end: real Temporal dev server, real HTTP, real SQLite stores.

use crate::common;

use common::{maybe_record, statuses, system, unique};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

const FULL: [&str; 8] = [
    "placed",
    "accepted",
    "cooking",
    "ready_for_pickup",
    "rider_assigned",
    "picked_up",
    "delivered",
    "completed",
];

/// Wait up to 10 s for exactly one workflow to match the visibility `query`; answer how many
/// matched last.
async fn visible(query: String) -> usize {
    system()
        .visible_workflows(&query, Duration::from_secs(10), |n| n == 1)
        .await
}

/// Every payload in the history as the server stores it: (metadata, data), base64-decoded.
fn payloads(
    v: &serde_json::Value,
    out: &mut Vec<(serde_json::Map<String, serde_json::Value>, Vec<u8>)>,
) {
    use base64::Engine;
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .unwrap_or_default()
    };
    match v {
        // A marker's bookkeeping (patch id; local activity seq, attempt, type, times) is
        // written by the SDK's core itself and holds nothing of the order: only a local
        // activity's result is ours.
        serde_json::Value::Object(o) if o.contains_key("marker_name") => {
            if let Some(result) = o.get("details").and_then(|d| d.get("result")) {
                payloads(result, out);
            }
        }
        serde_json::Value::Object(o) => {
            if let (Some(serde_json::Value::Object(meta)), Some(data)) =
                (o.get("metadata"), o.get("data").and_then(|d| d.as_str()))
                && meta.contains_key("encoding")
            {
                out.push((meta.clone(), b64(data)));
            }
            o.values().for_each(|c| payloads(c, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| payloads(c, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_card_token_never_reaches_history_in_plaintext() {
    use base64::Engine;
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    let r = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let raw = s.raw_history(&id).await;
    let mut found = Vec::new();
    payloads(&serde_json::from_str(&raw).unwrap(), &mut found);
    assert!(
        found.len() >= 4,
        "start input, charge, refund, updates: {}",
        found.len()
    );
    let sealed = base64::engine::general_purpose::STANDARD.encode("binary/encrypted");
    let token = b"tok_ok";
    let mut opened_token = false;
    for (meta, data) in &found {
        assert!(
            !data.windows(token.len()).any(|w| w == token),
            "a payload in history carries the card token in plaintext: {meta:?}"
        );
        if meta.contains_key("type") {
            continue; // a search attribute: indexed by the server, so never sealed
        }
        assert_eq!(
            meta["encoding"],
            sealed.as_str(),
            "every payload is sealed: {meta:?}"
        );
        // Those who hold the key (the codec server) can read it back.
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let payload = temporalio_common::protos::temporal::api::common::v1::Payload {
            metadata: meta.iter().map(|(k, v)| (k.clone(), b64(v))).collect(),
            data: data.clone(),
            ..Default::default()
        };
        let opened = common::payload_codec()
            .open(payload)
            .expect("opens with the key");
        opened_token |= opened.data.windows(token.len()).any(|w| w == token);
    }
    assert!(
        opened_token,
        "the charge input, opened with the key, has the token"
    );
    // Search attributes stay readable for the Web UI's filters.
    assert!(raw.contains("OrderStatus"));
}

#[tokio::test]
async fn happy_path_reaches_completed_with_one_charge_and_every_notification() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider_id = unique("rider");
    let rider = s.token("rider", &rider_id, None).await;

    let r = s
        .place_on(&s.api, &cust, &unique("key"), s.order_body(2, "tok_ok"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let order = r.body;
    let id = order["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ord_"));
    assert_eq!(order["status"], "placed");
    // 2 × 국물떡볶이 (5000) + 1 × 모둠튀김 (4000), priced by the server.
    assert_eq!(order["total"], 14_000);
    assert_eq!(order["payment"]["status"], "succeeded");
    assert_eq!(order["customer_id"], customer_id.as_str());

    // Read-your-writes: the read model already has the order.
    let got = s.get(&cust, &format!("/v1/orders/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["status"], "placed");
    let board = s.get(&owner, "/v1/store/orders?status=placed").await;
    assert!(board.body.to_string().contains(&id));
    // Ops can filter by the search attributes from the start (set when the workflow starts).
    let indexed = |status: &str| {
        format!(
            "WorkflowId = '{id}' AND StoreId = 'st_1' AND OrderStatus = '{status}' \
             AND CustomerId = '{customer_id}' AND Region = 'gangnam'"
        )
    };
    assert_eq!(visible(indexed("placed")).await, 1, "indexed as placed");

    for (step, want) in [
        ("accept", "accepted"),
        ("start-cooking", "cooking"),
        ("finish-cooking", "ready_for_pickup"),
    ] {
        let r = s
            .post(&owner, &format!("/v1/store/orders/{id}/{step}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
        assert_eq!(r.body["status"], want);
        assert_eq!(
            s.get(&cust, &format!("/v1/orders/{id}")).await.body["status"],
            want
        );
        if step == "accept" {
            assert_eq!(visible(indexed(want)).await, 1, "status upserted on {step}");
        }
    }

    // The store is at 37.4979,127.0276; a rider 1 km away sees it, one 20 km away does not.
    let near = s
        .get(
            &rider,
            "/v1/rider/deliveries?lat=37.4979&lon=127.0376&radius_km=3",
        )
        .await;
    assert_eq!(near.status, StatusCode::OK);
    assert!(near.body.to_string().contains(&id));
    let far = s
        .get(
            &rider,
            "/v1/rider/deliveries?lat=37.68&lon=127.0276&radius_km=3",
        )
        .await;
    assert!(!far.body.to_string().contains(&id));
    let other_region = s
        .get(
            &rider,
            "/v1/rider/deliveries?lat=37.4979&lon=127.0376&radius_km=3&region=mapo",
        )
        .await;
    assert!(!other_region.body.to_string().contains(&id));

    for (step, want) in [
        ("claim", "rider_assigned"),
        ("pickup", "picked_up"),
        ("deliver", "delivered"),
    ] {
        let r = s.ride(&s.api, &rider, &id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
        assert_eq!(r.body["status"], want);
    }
    let r = s.post(&cust, &format!("/v1/orders/{id}/confirm")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "completed");
    // The customer knows the rider by a display name, never by the rider's id.
    assert!(r.body["rider"]["display_name"].is_string(), "{:?}", r.body);
    assert!(!r.body.to_string().contains(&rider_id), "{:?}", r.body);
    assert_eq!(statuses(&r.body), FULL);

    let listed = s.get(&cust, "/v1/orders").await;
    assert_eq!(listed.body["orders"].as_array().unwrap().len(), 1);

    assert_eq!(s.count(&id, "charge", "succeeded").await, 1);
    assert_eq!(
        s.payments(&id).await.len(),
        1,
        "no refund for a completed order"
    );

    // One notification per transition, each delivered once, in order.
    let order_id = id.clone();
    let mut seqs = Vec::new();
    for _ in 0..50 {
        let inbox = s
            .notifications(&format!(
                "recipient=customer:{customer_id}&order_id={order_id}"
            ))
            .await;
        seqs = inbox.iter().map(|n| n["seq"].as_u64().unwrap()).collect();
        if seqs.len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seqs, (1..=8).collect::<Vec<u64>>());

    // Ops can find the order by its search attributes.
    assert_eq!(
        visible(indexed("completed")).await,
        1,
        "indexed as completed"
    );
    // A completed order stays within the history budget (80). Since workflow version 8 each
    // change's notifications go out with its projection, one marker per change: 68 events
    // (76 in version 7, which spent a second marker per change on the notification).
    let (status, events) = s.closed_workflow(&id, 20).await;
    assert_eq!(
        status,
        temporalio_client::WorkflowExecutionStatus::Completed
    );
    assert!(
        events <= 70,
        "{events} history events for a completed order: a change's notifications no longer go \
         out with its projection?"
    );
    maybe_record(&id, "completed").await;
}

#[tokio::test]
async fn store_reject_refunds_exactly_once() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    let r = s
        .call(
            &s.api,
            Method::POST,
            &format!("/v1/store/orders/{id}/reject"),
            Some(&owner),
            Some(json!({"reason": "재료 소진 / out of ingredients"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "rejected");
    let order = s
        .wait_for(&s.api, &cust, &id, 20, |o| {
            o["refund"]["status"] == "succeeded"
        })
        .await;
    assert_eq!(order["refund"]["status"], "succeeded");
    assert_eq!(
        order["history"][1]["reason"],
        "재료 소진 / out of ingredients"
    );
    let again = s
        .post(&owner, &format!("/v1/store/orders/{id}/accept"))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "invalid_transition");
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    assert_eq!(s.count(&id, "charge", "succeeded").await, 1);
    maybe_record(&id, "rejected").await;
}

#[tokio::test]
async fn cancel_before_cooking_refunds_exactly_once() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    assert_eq!(
        s.post(&owner, &format!("/v1/store/orders/{id}/accept"))
            .await
            .status,
        StatusCode::OK
    );
    let r = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "canceled");
    let twice = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    s.wait_for(&s.api, &cust, &id, 20, |o| {
        o["refund"]["status"] == "succeeded"
    })
    .await;
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    maybe_record(&id, "canceled").await;
}

#[tokio::test]
async fn cancel_after_cooking_started_is_409_and_changes_nothing() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    for step in ["accept", "start-cooking"] {
        assert_eq!(
            s.post(&owner, &format!("/v1/store/orders/{id}/{step}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    let before = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    let r = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "invalid_transition");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cooking")
    );
    let after = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    assert_eq!(before, after, "a refused cancel changes nothing");
    assert_eq!(after["status"], "cooking");
    assert_eq!(s.payments(&id).await.len(), 1, "no refund");
}

#[tokio::test]
async fn declined_card_is_402_and_no_order_exists() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let key = unique("key");
    let r = s
        .place_on(&s.api, &cust, &key, s.order_body(1, "tok_declined"))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    assert_eq!(r.code(), "payment_declined");
    let mine = s.get(&cust, "/v1/orders").await;
    assert_eq!(mine.body["orders"], json!([]));
    let order_id = baedal_api::order_id_for(&customer_id, &key);
    // Not in the read model at all (ops see every order there).
    let ops = s.token("ops", "ops-1", None).await;
    let lookup = s.get(&ops, &format!("/v1/orders/{order_id}")).await;
    assert_eq!(lookup.status, StatusCode::NOT_FOUND, "{:?}", lookup.body);
    let board = s
        .get(&owner, "/v1/store/orders?status=payment_failed")
        .await;
    assert_eq!(board.body["orders"], json!([]));
    assert_eq!(
        visible(format!(
            "WorkflowId = '{order_id}' AND OrderStatus = 'payment_failed'"
        ))
        .await,
        1,
        "a declined attempt is indexed as payment_failed, not as the placed it started as"
    );
    maybe_record(&order_id, "declined").await;
    // The same key again gives the same answer and does not charge again.
    let again = s
        .place_on(&s.api, &cust, &key, s.order_body(1, "tok_declined"))
        .await;
    assert_eq!(again.status, StatusCode::PAYMENT_REQUIRED);
}

/// A retry must get the order it placed even when its item has sold out since: the customer
/// was charged, and a 409 would make them order (and pay) again. A new key is refused.
#[tokio::test]
async fn a_retry_after_the_item_sold_out_gets_the_order_it_placed() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    // st_2's last item: no other test orders it, so selling it out disturbs nobody.
    let body = json!({
        "store_id": "st_2",
        "items": [{"menu_item_id": "mi_2_4", "quantity": 1}],
        "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.499, "lon": 127.03},
        "payment": {"card_token": "tok_ok"}
    });
    let key = unique("key");
    let first = s.place_on(&s.api, &cust, &key, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let id = first.body["id"].as_str().unwrap().to_owned();

    let read_model = baedal_readmodel::ReadModel::open(&s.read_model_url)
        .await
        .unwrap();
    assert!(
        read_model
            .set_item_available("mi_2_4", false)
            .await
            .unwrap()
    );
    let retry = s.place_on(&s.api, &cust, &key, body.clone()).await;
    let fresh = s
        .place_on(&s.api, &cust, &unique("key"), body.clone())
        .await;
    read_model.set_item_available("mi_2_4", true).await.unwrap();

    assert_eq!(retry.status, StatusCode::CREATED, "{:?}", retry.body);
    assert_eq!(retry.body["id"], id.as_str());
    assert_eq!(s.count(&id, "charge", "succeeded").await, 1);
    assert_eq!(fresh.status, StatusCode::CONFLICT, "{:?}", fresh.body);
    assert_eq!(fresh.code(), "item_unavailable");
}

#[tokio::test]
async fn four_concurrent_requests_with_one_key_make_one_order_and_one_charge() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let key = unique("key");
    let body = s.order_body(1, "tok_ok");
    let calls = (0..4).map(|_| s.place_on(&s.api, &cust, &key, body.clone()));
    let results = futures::future::join_all(calls).await;
    let ids: Vec<_> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(s.count(&ids[0], "charge", "succeeded").await, 1);
    assert_eq!(s.payments(&ids[0]).await.len(), 1);
    assert_eq!(
        s.get(&cust, "/v1/orders").await.body["orders"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The same key with another body is refused and changes nothing.
    let other = s
        .place_on(&s.api, &cust, &key, s.order_body(3, "tok_ok"))
        .await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        other.body
    );
    assert_eq!(other.code(), "idempotency_key_reused");
    assert_eq!(s.payments(&ids[0]).await.len(), 1);
}

#[tokio::test]
async fn two_riders_claiming_at_once_one_wins() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let a = s.token("rider", &unique("rider-a"), None).await;
    let b = s.token("rider", &unique("rider-b"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    for step in ["accept", "start-cooking", "finish-cooking"] {
        assert_eq!(
            s.post(&owner, &format!("/v1/store/orders/{id}/{step}"))
                .await
                .status,
            StatusCode::OK
        );
    }
    s.report_for(&a, &id, "claim").await;
    s.report_for(&b, &id, "claim").await;
    let path = format!("/v1/rider/deliveries/{id}/claim");
    let (ra, rb) = tokio::join!(s.post(&a, &path), s.post(&b, &path));
    let mut codes = [ra.status, rb.status];
    codes.sort();
    assert_eq!(
        codes,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{:?} {:?}",
        ra.body,
        rb.body
    );
    let loser = if ra.status == StatusCode::CONFLICT {
        &ra
    } else {
        &rb
    };
    assert_eq!(loser.code(), "already_claimed");
    let (winner, other) = if ra.status == StatusCode::OK {
        (&a, &b)
    } else {
        (&b, &a)
    };
    // Only the winner may pick up; the loser no longer sees the order.
    let not_yours = s.ride(&s.api, other, &id, "pickup").await;
    assert_eq!(not_yours.status, StatusCode::NOT_FOUND);
    let ok = s.ride(&s.api, winner, &id, "pickup").await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    maybe_record(&id, "claim_race").await;
}

#[tokio::test]
async fn store_that_never_answers_auto_rejects_with_one_refund() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let id = s.placed_order_on(&s.fast_api, &cust).await;
    let order = s
        .wait_for(&s.api, &cust, &id, 30, |o| {
            o["status"] == "rejected" && o["refund"]["status"] == "succeeded"
        })
        .await;
    assert!(
        order["history"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("store did not answer")
    );
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    s.closed_workflow(&id, 20).await;
    maybe_record(&id, "store_timeout").await;
}

#[tokio::test]
async fn delivered_order_auto_confirms() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.fast_api, &cust).await;
    s.make_ready(&owner, &id).await;
    for step in ["claim", "pickup", "deliver"] {
        let r = s.ride(&s.api, &rider, &id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let order = s
        .wait_for(&s.api, &cust, &id, 30, |o| o["status"] == "completed")
        .await;
    assert_eq!(statuses(&order), FULL);
    assert!(
        order["history"][7]["reason"]
            .as_str()
            .unwrap()
            .contains("automatically")
    );
    s.closed_workflow(&id, 20).await;
    maybe_record(&id, "auto_confirmed").await;
}

#[tokio::test]
async fn unclaimed_delivery_widens_the_search_and_notifies_ops() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.fast_api, &cust).await;
    s.make_ready(&owner, &id).await;
    let order = s
        .wait_for(&s.api, &cust, &id, 30, |o| {
            o["search_radius_bonus_km"].as_f64().unwrap_or(0.0) > 0.0
        })
        .await;
    assert_eq!(order["status"], "ready_for_pickup");
    // A rider 4 km from the store with a 3 km radius now sees it (bonus ≥ 2 km).
    let rider = s.token("rider", &unique("rider"), None).await;
    let board = s
        .get(
            &rider,
            "/v1/rider/deliveries?lat=37.5339&lon=127.0276&radius_km=3",
        )
        .await;
    assert!(board.body.to_string().contains(&id), "{}", board.body);
    // Ops hear of the escalation itself (seq 10,001+), not only of a stuck order (20,000+).
    let escalation = |n: &serde_json::Value| (10_001..20_000).contains(&n["seq"].as_u64().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ops = loop {
        let ops = s
            .notifications(&format!("recipient=ops&order_id={id}"))
            .await;
        if ops.iter().any(escalation) || std::time::Instant::now() > deadline {
            break ops;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        ops.iter().any(escalation),
        "ops notified of the widened search: {ops:?}"
    );
    maybe_record(&id, "escalated").await;
}

#[tokio::test]
async fn a_key_reused_after_its_window_is_refused_and_never_charges_again() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let key = unique("key");
    let body = s.order_body(1, "tok_ok");
    let first = s.place_on(&s.window_api, &cust, &key, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    let id = first.body["id"].as_str().unwrap().to_owned();
    let again = s.place_on(&s.window_api, &cust, &key, body.clone()).await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "within the window: the same order"
    );
    assert_eq!(again.body["id"], id.as_str());

    tokio::time::sleep(common::SHORT_WINDOW + Duration::from_millis(500)).await;
    let late = s.place_on(&s.window_api, &cust, &key, body).await;
    assert_eq!(
        late.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        late.body
    );
    assert_eq!(late.code(), "idempotency_key_too_old");
    assert!(
        late.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new key")
    );
    let charges = s
        .payments(&id)
        .await
        .into_iter()
        .filter(|p| p["kind"] == "charge")
        .count();
    assert_eq!(
        charges, 1,
        "one charge attempt in all: the late reuse charged nothing"
    );
}

#[tokio::test]
async fn dev_server_keeps_closed_workflows_longer_than_the_idempotency_window() {
    let s = system();
    let cli = baedal::devserver::find_cli().unwrap();
    let out = std::process::Command::new(cli)
        .args([
            "operator",
            "namespace",
            "describe",
            "--namespace",
            "default",
            "-o",
            "json",
        ])
        .args([
            "--address",
            s.temporal_address.trim_start_matches("http://"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ttl = doc["config"]["workflowExecutionRetentionTtl"]
        .as_str()
        .unwrap_or_else(|| panic!("no retention in {doc}"));
    let secs: u64 = ttl.trim_end_matches('s').parse().unwrap();
    // The test system's window is a day: retention at least that, plus a day.
    assert!(secs >= 2 * 24 * 3600, "retention {ttl}");
}

#[tokio::test]
async fn a_store_owner_reprices_and_sells_out_their_own_items_only() {
    let s = system();
    // st_4 (합정 화덕피자): no other test orders from it. mi_4_2 is 고르곤졸라, 18,000 won.
    let owner = s.token("store_owner", &unique("owner"), Some("st_4")).await;
    let other_owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let cust = s.token("customer", &unique("cust"), None).await;
    let body = json!({
        "store_id": "st_4",
        "items": [{"menu_item_id": "mi_4_2", "quantity": 2}],
        "delivery": {"address": "서울 마포구 양화로 1", "region": "mapo", "lat": 37.556, "lon": 126.923},
        "payment": {"card_token": "tok_ok"}
    });
    let change = |token: &str, item: &str, change: serde_json::Value| {
        let (token, path) = (token.to_owned(), format!("/v1/store/menu/{item}"));
        async move {
            s.call(&s.api, Method::PUT, &path, Some(&token), Some(change), None)
                .await
        }
    };
    let price_on_menu = || async {
        s.get(&cust, "/v1/stores/st_4/menu").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == "mi_4_2")
            .map(|i| {
                (
                    i["price"].as_i64().unwrap(),
                    i["available"].as_bool().unwrap(),
                )
            })
            .unwrap()
    };
    let before = s
        .place_on(&s.api, &cust, &unique("key"), body.clone())
        .await;
    assert_eq!(before.status, StatusCode::CREATED, "{:?}", before.body);
    assert_eq!(before.body["total"], 36_000);

    // Refused, and nothing changes: another store's owner (404, as an unknown item), a
    // customer, a price out of range or not whole, an unknown field.
    assert_eq!(
        change(&other_owner, "mi_4_2", json!({"price": 1}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        change(&owner, "mi_9_9", json!({"price": 1})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        change(&cust, "mi_4_2", json!({"price": 1})).await.status,
        StatusCode::FORBIDDEN
    );
    for bad in [
        json!({"price": 0}),
        json!({"price": 10_000_001}),
        json!({"price": 1.5}),
        json!({"cost": 1}),
    ] {
        let r = change(&owner, "mi_4_2", bad.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
    }
    assert_eq!(price_on_menu().await, (18_000, true));

    // A new price: new orders pay it, the order placed before keeps its own.
    let r = change(&owner, "mi_4_2", json!({"price": 19_500})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["price"], 19_500);
    assert_eq!(r.body["available"], true);
    let after = s
        .place_on(&s.api, &cust, &unique("key"), body.clone())
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{:?}", after.body);
    assert_eq!(after.body["total"], 39_000);
    let id = before.body["id"].as_str().unwrap();
    assert_eq!(
        s.get(&cust, &format!("/v1/orders/{id}")).await.body["total"],
        36_000
    );

    // Sold out, then back.
    let r = change(&owner, "mi_4_2", json!({"available": false})).await;
    assert_eq!(
        (r.body["price"].as_i64(), r.body["available"].as_bool()),
        (Some(19_500), Some(false))
    );
    let refused = s
        .place_on(&s.api, &cust, &unique("key"), body.clone())
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(refused.code(), "item_unavailable");
    let r = change(
        &owner,
        "mi_4_2",
        json!({"available": true, "price": 18_000}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(price_on_menu().await, (18_000, true));
}

#[tokio::test]
async fn a_rider_on_the_way_reports_their_position_and_the_customer_sees_when_they_arrive() {
    use baedal_domain::geo::{delivery_eta_minutes, distance_km};
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    // A rider looking for work reports too (a claim needs it); it feeds no estimate yet.
    // 3 km north of the store.
    let (rlat, rlon) = (37.4979 + 0.027, 127.0276);
    let r = s
        .report_position(&rider, json!({"lat": rlat, "lon": rlon}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["deliveries"], json!([]));
    let order = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    assert!(order.get("eta").is_none(), "no rider yet: {order}");

    let r = s
        .post(&rider, &format!("/v1/rider/deliveries/{id}/claim"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let order = s
        .wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "rider_assigned")
        .await;
    let (plat, plon) = (
        order["pickup"]["lat"].as_f64().unwrap(),
        order["pickup"]["lon"].as_f64().unwrap(),
    );
    let (dlat, dlon) = (37.4990, 127.0300);
    let to_door = distance_km(plat, plon, dlat, dlon);
    // Claimed from 3 km north of the store, and reporting again from there.
    assert_eq!((plat, plon), (37.4979, 127.0276));
    let r = s
        .report_position(&rider, json!({"lat": rlat, "lon": rlon}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["deliveries"],
        json!([{"id": id, "status": "rider_assigned"}])
    );
    let order = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    let eta = &order["eta"];
    assert_eq!(eta["basis"], "rider_location", "{order}");
    assert_eq!(eta["rider_location"]["lat"], rlat);
    assert_eq!(eta["rider_location"]["at"], r.body["at"]);
    let expected = delivery_eta_minutes(distance_km(rlat, rlon, plat, plon) + to_door);
    let minutes = eta["minutes"].as_u64().unwrap() as u32;
    assert!(
        (expected - 1..=expected).contains(&minutes),
        "{minutes} vs {expected}"
    );
    // The store sees the same estimate for its order.
    let seen = s.get(&owner, &format!("/v1/orders/{id}")).await.body;
    assert_eq!(seen["eta"]["basis"], "rider_location");
    assert!(seen["eta"].get("rider_location").is_none(), "{seen}");

    // Refused reports change nothing.
    for (who, body, status) in [
        (
            &rider,
            json!({"lat": 91.0, "lon": 127.0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &rider,
            json!({"lat": 37.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &rider,
            json!({"lat": 37.5, "lon": 127.0, "speed": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &owner,
            json!({"lat": 37.5, "lon": 127.0}),
            StatusCode::FORBIDDEN,
        ),
        (
            &cust,
            json!({"lat": 37.5, "lon": 127.0}),
            StatusCode::FORBIDDEN,
        ),
        (
            // New York, a second later: implausible.
            &rider,
            json!({"lat": 40.7128, "lon": -74.006}),
            StatusCode::CONFLICT,
        ),
    ] {
        let r = s.report_position(who, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert!(r.body["error"]["message"].is_string(), "{:?}", r.body);
    }
    let again = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    assert_eq!(again["eta"]["rider_location"], eta["rider_location"]);

    // With the food, at the door: the shortest promise, counted from the report.
    let r = s.ride(&s.api, &rider, &id, "pickup").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    s.wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "picked_up")
        .await;
    let r = s
        .report_position(&rider, json!({"lat": dlat, "lon": dlon}))
        .await;
    assert_eq!(
        r.body["deliveries"][0]["status"], "picked_up",
        "{:?}",
        r.body
    );
    let order = s.get(&cust, &format!("/v1/orders/{id}")).await.body;
    let minutes = order["eta"]["minutes"].as_u64().unwrap();
    assert!((4..=5).contains(&minutes), "{order}");

    // Delivered: no estimate, and the rider's reports feed none.
    let r = s.ride(&s.api, &rider, &id, "deliver").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let order = s
        .wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "delivered")
        .await;
    assert!(order.get("eta").is_none(), "{order}");
    let r = s
        .report_position(&rider, json!({"lat": dlat, "lon": dlon}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["deliveries"], json!([]));
}
