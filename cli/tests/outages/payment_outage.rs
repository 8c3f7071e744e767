//! Payment down: the breaker opens, the api sheds new orders at the door with 503 +
//! Retry-After without starting workflows, no unpaid order appears, nothing stays charged, and
//! once payment is back a probe gets through and orders succeed again. A binary of its own
//! because it switches the shared payment service off.

use crate::common;

use common::{BREAKER, system, unique};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn breaker_opens_door_sheds_and_orders_resume_when_payment_returns() {
    let _turn = crate::SWITCHING.lock().await;
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let ops = s.token("ops", "ops-1", None).await;
    s.set_payment_faults(json!({"unavailable": true})).await;

    // The first order spends retries until the breaker (min 3 calls) opens under it.
    let key = unique("key");
    let r = s
        .place_on(&s.api, &cust, &key, s.order_body(1, "tok_ok"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "payment_unavailable");
    let retry: u64 = r.retry_after.expect("Retry-After header").parse().unwrap();
    assert!(
        (1..=BREAKER.open_for.as_secs()).contains(&retry),
        "Retry-After {retry} is the time until the breaker half-opens"
    );

    // From now on the door answers without starting a workflow.
    let shed_key = unique("key");
    let shed = s
        .place_on(&s.api, &cust, &shed_key, s.order_body(1, "tok_ok"))
        .await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(shed.code(), "payment_unavailable");
    assert!(shed.retry_after.is_some());
    let shed_id = baedal_api::order_id_for(&customer_id, &shed_key);
    // Describe reads the workflow's own record (visibility could lag behind and say 0 anyway);
    // the first attempt's workflow, which does exist, shows the check can see one.
    let describe = |id: String| async move {
        s.temporal()
            .await
            .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id)
            .describe(Default::default())
            .await
    };
    assert!(
        describe(baedal_api::order_id_for(&customer_id, &key))
            .await
            .is_ok()
    );
    assert!(
        describe(shed_id.clone()).await.is_err(),
        "no workflow for a shed order: {shed_id} exists"
    );

    // Ops see the open breaker and the shedding door.
    let mut status = json!(null);
    for _ in 0..30 {
        status = s.get(&ops, "/v1/ops/payment").await.body;
        if status["breaker"]["state"] == "open" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status["breaker"]["state"], "open", "{status}");
    assert_eq!(status["door"]["state"], "shedding");
    let customer_view = s.get(&cust, "/v1/ops/payment").await;
    assert_eq!(customer_view.status, StatusCode::FORBIDDEN);
    let metrics = reqwest::get(format!("{}/metrics", s.metrics))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "baedal_payment_breaker_state 1",
        "baedal_payment_breaker_transitions_total{to=\"open\"}",
        "baedal_orders_shed_total",
        "baedal_payment_charges_total{outcome=\"error\"}",
    ] {
        assert!(
            metrics.contains(name),
            "{name} missing from /metrics:\n{metrics}"
        );
    }

    // No unpaid order anywhere.
    assert_eq!(s.get(&cust, "/v1/orders").await.body["orders"], json!([]));

    // Payment comes back; after Retry-After a probe goes through and orders succeed again.
    s.set_payment_faults(json!({"unavailable": false})).await;
    let deadline = Instant::now() + Duration::from_secs(retry + BREAKER.open_for.as_secs() + 10);
    let placed = loop {
        let r = s
            .place_on(&s.api, &cust, &unique("key"), s.order_body(1, "tok_ok"))
            .await;
        if r.status == StatusCode::CREATED {
            break r;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        assert!(Instant::now() < deadline, "orders did not resume");
        let wait: u64 = r.retry_after.unwrap().parse().unwrap();
        tokio::time::sleep(Duration::from_secs(wait)).await;
    };
    assert_eq!(placed.body["status"], "placed");

    // The customer's retry of the first attempt (same key, same body) now goes through: the
    // same order, charged once.
    let retried = s
        .place_on(&s.api, &cust, &key, s.order_body(1, "tok_ok"))
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{:?}", retried.body);
    let order_id = baedal_api::order_id_for(&customer_id, &key);
    assert_eq!(retried.body["id"], order_id.as_str());
    assert_eq!(s.count(&order_id, "charge", "succeeded").await, 1);
    let mine = s.get(&cust, "/v1/orders").await.body;
    assert_eq!(
        mine["orders"].as_array().unwrap().len(),
        2,
        "the two paid orders exist"
    );
    common::maybe_record(&order_id, "payment_retried").await;

    // An attempt nobody retries within the window (3 s on the fast api) expires: any charge is
    // voided, the workflow closes, and a late retry is told to use a new key.
    s.set_payment_faults(json!({"unavailable": true})).await;
    let late_key = unique("key");
    let r = s
        .place_on(&s.fast_api, &cust, &late_key, s.order_body(1, "tok_ok"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    s.set_payment_faults(json!({"unavailable": false})).await;
    let late_id = baedal_api::order_id_for(&customer_id, &late_key);
    let closed = s
        .visible_workflows(
            &format!(
                "WorkflowId = '{late_id}' AND ExecutionStatus = 'Completed' \
                 AND OrderStatus = 'payment_failed'"
            ),
            Duration::from_secs(30),
            |n| n == 1,
        )
        .await;
    assert_eq!(
        closed, 1,
        "the expired attempt's workflow closes once payment is back"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let late = loop {
        let r = s
            .place_on(&s.fast_api, &cust, &late_key, s.order_body(1, "tok_ok"))
            .await;
        if r.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_secs(r.retry_after.unwrap().parse().unwrap())).await;
    };
    assert_eq!(late.status, StatusCode::CONFLICT, "{:?}", late.body);
    assert_eq!(late.code(), "idempotency_key_expired");
    assert_eq!(s.count(&late_id, "charge", "succeeded").await, 0);
    common::maybe_record(&late_id, "payment_expired").await;

    // A slow PSP: the impatient api (1 s deadline) answers 503 with Retry-After and says what
    // is slow instead of hanging; the order goes on in the engine and the same key finds it,
    // charged once.
    s.set_payment_faults(json!({"latency_ms": 2500})).await;
    let slow_key = unique("key");
    let r = s
        .place_on(
            &s.impatient_api,
            &cust,
            &slow_key,
            s.order_body(1, "tok_ok"),
        )
        .await;
    s.set_payment_faults(json!({"latency_ms": 0})).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "request_timeout");
    assert!(r.retry_after.is_some());
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the order engine"), "{message}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let again = s
            .place_on(
                &s.impatient_api,
                &cust,
                &slow_key,
                s.order_body(1, "tok_ok"),
            )
            .await;
        if again.status == StatusCode::CREATED || Instant::now() > deadline {
            break again;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(found.status, StatusCode::CREATED, "{:?}", found.body);
    let slow_id = baedal_api::order_id_for(&customer_id, &slow_key);
    assert_eq!(found.body["id"], slow_id.as_str());
    assert_eq!(s.count(&slow_id, "charge", "succeeded").await, 1);
}
