//! Payment unreachable past the charge budget: the order is not established, the customer is
//! told to pay a little later (503 + Retry-After), and nothing stays charged. A binary of its own
//! because it switches the shared payment service off.

mod common;

use common::{system, unique};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use temporalio_client::WorkflowCountOptions;

#[tokio::test]
async fn unavailable_payment_is_503_with_retry_after_and_no_order() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    s.set_payment_faults(json!({"unavailable": true})).await;
    let key = unique("key");
    let r = s
        .place_on(&s.api, &cust, &key, s.order_body(1, "tok_ok"))
        .await;
    s.set_payment_faults(json!({"unavailable": false})).await;

    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert_eq!(r.code(), "payment_unavailable");
    let retry: u64 = r.retry_after.expect("Retry-After header").parse().unwrap();
    assert!(retry > 0);
    assert_eq!(s.get(&cust, "/v1/orders").await.body["orders"], json!([]));

    // The failed attempt's workflow makes sure nothing stays charged, then closes.
    let order_id = baedal_api::order_id_for(&customer_id, &key);
    let client = s.temporal().await;
    let mut closed = 0;
    for _ in 0..100 {
        closed = client
            .count_workflows(
                format!(
                    "WorkflowId = '{order_id}' AND ExecutionStatus = 'Completed' \
                     AND OrderStatus = 'payment_failed'"
                ),
                WorkflowCountOptions::default(),
            )
            .await
            .unwrap()
            .count();
        if closed == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        closed, 1,
        "the unestablished order's workflow closes once payment is back"
    );
    assert_eq!(s.count(&order_id, "charge", "succeeded").await, 0);

    // Payment is back: a new attempt (new key) goes through.
    let ok = s
        .place_on(&s.api, &cust, &unique("key"), s.order_body(1, "tok_ok"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
}
