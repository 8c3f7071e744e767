//! Money under retries, replays and refunds that keep failing (issue 18): what a hostile or
//! unlucky client, an engine that refuses updates, a deleted history and a PSP that will not
//! refund do to a paid order. A binary of its own because it switches the shared payment
//! service's faults.

use crate::common;

use common::{maybe_record, system, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use temporalio_client::WorkflowExecuteUpdateOptions;

/// Place `body` under `key` `n` times, `width` at a time; answer each response.
async fn repeat_place(
    token: &str,
    key: &str,
    body: &Value,
    n: usize,
    width: usize,
) -> Vec<(StatusCode, Value)> {
    let s = system();
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(width) {
        let calls = chunk
            .iter()
            .map(|_| s.place_on(&s.api, token, key, body.clone()));
        for r in futures::future::join_all(calls).await {
            out.push((r.status, r.body));
        }
    }
    out
}

/// Place `body` under `key` on `base` until it is a paid order, retrying with the same key while
/// payment is still coming back from an earlier test's outage (503 with Retry-After), as a
/// client would. Answers the key that established it (a fresh one when an attempt expired) and
/// the order.
async fn place_paid(base: &str, token: &str, body: &Value) -> (String, Value) {
    let s = system();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut key = unique("key");
    loop {
        let r = s.place_on(base, token, &key, body.clone()).await;
        if r.status == StatusCode::CREATED {
            return (key, r.body);
        }
        if r.status == StatusCode::CONFLICT && r.body["error"]["code"] == "idempotency_key_expired"
        {
            // That attempt ran out of its payment window without charging: start again, as
            // the error tells a client to.
            key = unique("key");
            continue;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        assert!(
            Instant::now() < deadline,
            "payment never came back: {:?}",
            r.body
        );
        let wait: u64 = r
            .retry_after
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait.min(3))).await;
    }
}

async fn paid_order(base: &str, token: &str) -> String {
    let body = system().order_body(1, "tok_ok");
    place_paid(base, token, &body).await.1["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn history_len(order_id: &str) -> usize {
    system().workflow(order_id).await.1
}

#[tokio::test]
async fn repeats_of_a_paid_order_add_no_history_and_are_answered_while_the_door_sheds() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", "owner-1", Some("st_1")).await;
    let ops = s.token("ops", "ops-1", None).await;
    let body = s.order_body(1, "tok_ok");
    let (key, order) = place_paid(&s.api, &cust, &body).await;
    let id = order["id"].as_str().unwrap().to_owned();
    for step in ["accept", "start-cooking"] {
        let r = s
            .post(&owner, &format!("/v1/store/orders/{id}/{step}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let before = history_len(&id).await;
    // A second paid order whose view has not reached the read model (its row removed here,
    // as a lagging or locked read model would leave it): the engine's word answers it.
    let (unread_key, unread) = place_paid(&s.api, &cust, &body).await;
    let unread_id = unread["id"].as_str().unwrap().to_owned();
    let db = baedal_db::connect(&s.read_model_url, Default::default())
        .await
        .unwrap();
    sqlx::query("DELETE FROM orders WHERE id = $1")
        .bind(&unread_id)
        .execute(&db.pool)
        .await
        .unwrap();

    let answers = repeat_place(&cust, &key, &body, 500, 25).await;
    for (status, order) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{order}");
        assert_eq!(order["id"], id.as_str());
        assert_eq!(order["status"], "cooking", "the order as it is now");
    }
    assert_eq!(
        history_len(&id).await,
        before,
        "500 repeats of a paid order added history events"
    );
    assert_eq!(s.count(&id, "charge", "succeeded").await, 1);

    // Payment goes down and the door sheds new orders: a repeat of the paid one is still its
    // order, never "pay later" (a client obeying that would pay twice under a new key).
    s.set_payment_faults(json!({"unavailable": true})).await;
    let mut shed = false;
    for _ in 0..10 {
        let r = s
            .place_on(&s.api, &cust, &unique("key"), s.order_body(1, "tok_ok"))
            .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        let door = s.get(&ops, "/v1/ops/payment").await;
        if door.body["door"]["state"] == "shedding" {
            shed = true;
            break;
        }
    }
    assert!(shed, "the door never started shedding");
    let during = s.place_on(&s.api, &cust, &key, body.clone()).await;
    let unread_during = s.place_on(&s.api, &cust, &unread_key, body.clone()).await;
    s.set_payment_faults(json!({})).await;
    assert_eq!(during.status, StatusCode::CREATED, "{:?}", during.body);
    assert_eq!(during.body["id"], id.as_str());
    assert_eq!(
        unread_during.status,
        StatusCode::CREATED,
        "{:?}",
        unread_during.body
    );
    assert_eq!(unread_during.body["id"], unread_id.as_str());
    assert_eq!(s.count(&unread_id, "charge", "succeeded").await, 1);

    // Ops can still cancel; the money comes back once.
    let r = s
        .call(
            &s.api,
            reqwest::Method::POST,
            &format!("/v1/ops/orders/{id}/cancel"),
            Some(&ops),
            Some(json!({"reason": "repeat test"})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "canceled");
    s.wait_for(&s.api, &cust, &id, 30, |o| {
        o["refund"]["status"] == "succeeded"
    })
    .await;
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    let (_, events) = s.closed_workflow(&id, 20).await;
    assert!(
        events <= 80,
        "a canceled order took {events} history events"
    );
}

#[tokio::test]
async fn ops_cancel_settles_an_order_the_engine_takes_no_more_updates_for() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", "owner-1", Some("st_1")).await;
    let ops = s.token("ops", "ops-1", None).await;
    let body = s.order_body(1, "tok_ok");
    let (_key, order) = place_paid(&s.api, &cust, &body).await;
    let id = order["id"].as_str().unwrap().to_owned();
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // What an older api did on every retry: a `place` update with a fresh id, until the
    // engine's limit of distinct updates per workflow refuses them all.
    let temporal = s.temporal().await;
    let hash = baedal_api::request_hash_of(&body).unwrap();
    let handle = temporal.get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.clone());
    let mut refused = None;
    // Eight at a time: under the engine's limit of updates in flight at once, so the limit
    // met is the one of distinct updates over the workflow's life.
    'flood: for round in 0..400 {
        let calls = (0..8).map(|i| {
            handle.execute_update(
                baedal_workflows::OrderWorkflow::place,
                baedal_workflows::PlaceRequest {
                    request_hash: hash.clone(),
                },
                WorkflowExecuteUpdateOptions::builder()
                    .update_id(format!("flood-{round}-{i}"))
                    .build(),
            )
        });
        for r in futures::future::join_all(calls).await {
            if let Err(e) = r {
                refused = Some(e.to_string());
                break 'flood;
            }
        }
    }
    let refused = refused.expect("the engine never refused an update");
    assert!(refused.contains("distinct updates"), "{refused}");

    // The store is locked out with a clear answer, not a 500.
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/start-cooking"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "order_locked");

    // Ops are not: the cancel goes through the workflow's cancellation path and refunds.
    let r = s
        .call(
            &s.api,
            reqwest::Method::POST,
            &format!("/v1/ops/orders/{id}/cancel"),
            Some(&ops),
            Some(json!({"reason": "locked order"})),
            None,
        )
        .await;
    assert!(
        [StatusCode::OK, StatusCode::ACCEPTED].contains(&r.status),
        "{:?}",
        r.body
    );
    let order = s
        .wait_for(&s.api, &cust, &id, 60, |o| {
            o["status"] == "canceled" && o["refund"]["status"] == "succeeded"
        })
        .await;
    assert!(
        order["history"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("locked order"),
        "{order}"
    );
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
}

/// Remove the order's workflow as retention expiry does, and wait until the engine forgets it.
async fn delete_workflow(order_id: &str) {
    use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_protos::temporal::api::workflowservice::v1::DeleteWorkflowExecutionRequest;
    let temporal = system().temporal().await;
    temporal
        .connection()
        .workflow_service()
        .delete_workflow_execution(temporalio_client::tonic::Request::new(
            DeleteWorkflowExecutionRequest {
                namespace: "default".into(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: order_id.to_owned(),
                    run_id: String::new(),
                }),
            },
        ))
        .await
        .expect("delete");
    // Deletion is asynchronous: the engine answers for a while after.
    let deadline = Instant::now() + Duration::from_secs(90);
    let handle =
        temporal.get_workflow_handle::<baedal_workflows::OrderWorkflow>(order_id.to_owned());
    while handle.describe(Default::default()).await.is_ok() {
        assert!(Instant::now() < deadline, "{order_id} was never deleted");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_key_whose_history_is_gone_never_starts_a_second_lifecycle() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", "owner-1", Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;

    // A delivered meal, completed, its history then removed.
    let body = s.order_body(1, "tok_ok");
    let (key, order) = place_paid(&s.api, &cust, &body).await;
    let id = order["id"].as_str().unwrap().to_owned();
    s.make_ready(&owner, &id).await;
    for step in ["claim", "pickup", "deliver"] {
        let r = s.ride(&s.api, &rider, &id, step).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let r = s.post(&cust, &format!("/v1/orders/{id}/confirm")).await;
    assert_eq!(r.status, StatusCode::OK);
    s.closed_workflow(&id, 20).await;
    delete_workflow(&id).await;

    // Twice: as a key the engine answered, and as one whose first answer never came back
    // (the api records a key answered when the engine's answer reaches it).
    let again = s.place_on(&s.api, &cust, &key, body.clone()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(
        again.body["status"], "completed",
        "the stored order, as it is"
    );
    let db = baedal_db::connect(&s.read_model_url, Default::default())
        .await
        .unwrap();
    sqlx::query("UPDATE idempotency_keys SET started_at = NULL WHERE order_id = $1")
        .bind(&id)
        .execute(&db.pool)
        .await
        .unwrap();
    let again = s.place_on(&s.api, &cust, &key, body.clone()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{:?}", again.body);
    assert_eq!(again.body["status"], "completed", "{:?}", again.body);
    let handle = s
        .temporal()
        .await
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.clone());
    assert!(
        handle.describe(Default::default()).await.is_err(),
        "a second run of {id} was started"
    );
    let cancel = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(cancel.status, StatusCode::CONFLICT, "{:?}", cancel.body);
    assert_eq!(s.count(&id, "charge", "succeeded").await, 1);
    assert_eq!(
        s.payments(&id)
            .await
            .iter()
            .filter(|p| p["kind"] == "refund")
            .count(),
        0
    );

    // A declined attempt (never an order) whose history is gone: refused, nothing started.
    let key = unique("key");
    let declined = s.order_body(1, "tok_declined");
    let r = s.place_on(&s.api, &cust, &key, declined.clone()).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{:?}", r.body);
    let declined_id = baedal_api::order_id_for(&customer_id, &key);
    s.closed_workflow(&declined_id, 20).await;
    delete_workflow(&declined_id).await;
    let r = s.place_on(&s.api, &cust, &key, declined).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "idempotency_key_expired");
    let handle = s
        .temporal()
        .await
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(declined_id.clone());
    assert!(handle.describe(Default::default()).await.is_err());
}

#[tokio::test]
async fn a_refund_that_keeps_failing_is_pending_listed_and_alerted_until_it_goes_through() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let ops = s.token("ops", "ops-1", None).await;
    let id = paid_order(&s.api, &cust).await;

    s.set_payment_faults(json!({"unavailable": true})).await;
    let r = s.post(&cust, &format!("/v1/orders/{id}/cancel")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "canceled");
    assert_eq!(r.body["refund"]["status"], "pending", "{}", r.body);

    // Pending with its attempts and the PSP's error; listed and alerted once stuck.
    let order = s
        .wait_for(&s.api, &cust, &id, 20, |o| {
            o["refund"]["attempts"].as_u64().unwrap_or(0) >= 2
        })
        .await;
    assert_eq!(order["refund"]["status"], "pending");
    assert!(
        order["refund"]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{order}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = s.get(&ops, "/v1/ops/orders/stuck?limit=500").await;
        let mine = list.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id.as_str())
            .cloned();
        if let Some(o) = mine {
            assert_eq!(o["refund"]["status"], "pending", "{o}");
            break;
        }
        assert!(Instant::now() < deadline, "never listed: {:?}", list.body);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let health = s.get(&ops, "/v1/ops/payment").await;
    assert_eq!(
        health.body["refunds"]["state"], "stuck",
        "{:?}",
        health.body
    );
    assert!(health.body["refunds"]["pending"].as_u64().unwrap() >= 1);
    let alerts = s
        .notifications_until(&format!("recipient=ops&order_id={id}"), 1, 20)
        .await;
    let refund_alerts: Vec<_> = alerts
        .iter()
        .filter(|n| n["message"].as_str().unwrap_or("").contains("refund"))
        .collect();
    assert_eq!(refund_alerts.len(), 1, "{alerts:?}");
    let told = s
        .notifications(&format!("recipient=customer:{customer_id}&order_id={id}"))
        .await;
    assert!(
        told.iter().any(|n| n["status"] == "canceled"
            && n["message"]
                .as_str()
                .unwrap()
                .contains("refund in progress")),
        "{told:?}"
    );

    // The PSP is back: the next retry goes through, the customer is told, the list is clear.
    s.set_payment_faults(json!({})).await;
    let order = s
        .wait_for(&s.api, &cust, &id, 60, |o| {
            o["refund"]["status"] == "succeeded"
        })
        .await;
    assert_eq!(order["refund"]["amount"], order["total"]);
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    let told = s
        .notifications_until(
            &format!("recipient=customer:{customer_id}&order_id={id}"),
            3,
            20,
        )
        .await;
    assert!(told.iter().any(|n| n["status"] == "refunded"), "{told:?}");
    let list = s.get(&ops, "/v1/ops/orders/stuck?limit=500").await;
    assert!(
        !list.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == id.as_str()),
        "still listed"
    );
    let alerts = s
        .notifications(&format!("recipient=ops&order_id={id}"))
        .await;
    assert_eq!(
        alerts
            .iter()
            .filter(|n| n["message"].as_str().unwrap_or("").contains("refund"))
            .count(),
        1,
        "alerted once"
    );
    maybe_record(&id, "refund_retried").await;
}

#[tokio::test]
async fn riders_cannot_hold_an_order_for_ever() {
    let _one = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", "owner-1", Some("st_1")).await;
    let (r1, r2) = (unique("rider"), unique("rider"));
    let (t1, t2) = (
        s.token("rider", &r1, None).await,
        s.token("rider", &r2, None).await,
    );
    let fast = |method: reqwest::Method, token: &str, path: String| {
        let token = token.to_owned();
        async move {
            s.call(&s.fast_api, method, &path, Some(&token), None, None)
                .await
        }
    };

    // A rider gives a claim back before pickup: it is on the board again for another rider.
    let id = paid_order(&s.fast_api, &cust).await;
    for step in ["accept", "start-cooking", "finish-cooking"] {
        let r = fast(
            reqwest::Method::POST,
            &owner,
            format!("/v1/store/orders/{id}/{step}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    let claim = s.ride(&s.fast_api, &t1, &id, "claim").await;
    assert_eq!(claim.status, StatusCode::OK, "{:?}", claim.body);
    let other = fast(
        reqwest::Method::POST,
        &t2,
        format!("/v1/rider/deliveries/{id}/release"),
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::NOT_FOUND,
        "only the rider carrying it"
    );
    let back = fast(
        reqwest::Method::POST,
        &t1,
        format!("/v1/rider/deliveries/{id}/release"),
    )
    .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    let order = s
        .wait_for(&s.fast_api, &cust, &id, 10, |o| {
            o["status"] == "ready_for_pickup"
        })
        .await;
    assert!(order["rider_id"].is_null(), "{order}");

    // Another rider claims and never picks up: the claim lapses and returns to the board.
    let claim = s.ride(&s.fast_api, &t2, &id, "claim").await;
    assert_eq!(claim.status, StatusCode::OK, "{:?}", claim.body);
    let order = s
        .wait_for(&s.fast_api, &cust, &id, 20, |o| {
            o["status"] == "ready_for_pickup" && o["rider_id"].is_null()
        })
        .await;
    assert!(
        order["history"].as_array().unwrap().last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("did not pick the food up in time"),
        "{order}"
    );
    let told = s
        .notifications_until(&format!("recipient=rider:{r2}&order_id={id}"), 1, 20)
        .await;
    assert!(!told.is_empty(), "the rider who held it was not told");
    let ops_told = s
        .notifications_until(&format!("recipient=ops&order_id={id}"), 1, 20)
        .await;
    assert!(!ops_told.is_empty(), "ops were not told");

    // Picked up and not delivered in time: ops are alerted, once.
    let claim = s.ride(&s.fast_api, &t1, &id, "claim").await;
    assert_eq!(claim.status, StatusCode::OK, "{:?}", claim.body);
    let pickup = s.ride(&s.fast_api, &t1, &id, "pickup").await;
    assert_eq!(pickup.status, StatusCode::OK, "{:?}", pickup.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    let late = loop {
        let got = s
            .notifications(&format!("recipient=ops&order_id={id}"))
            .await;
        let late: Vec<_> = got
            .into_iter()
            .filter(|n| {
                n["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("not delivered yet")
            })
            .collect();
        if !late.is_empty() || Instant::now() > deadline {
            break late;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(late.len(), 1, "{late:?}");
    let deliver = s.ride(&s.fast_api, &t1, &id, "deliver").await;
    assert_eq!(deliver.status, StatusCode::OK, "{:?}", deliver.body);
    let r = fast(
        reqwest::Method::POST,
        &cust,
        format!("/v1/orders/{id}/confirm"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    maybe_record(&id, "released_and_deadlines").await;
}
