//! API5:2023 Broken Function Level Authorization. Probed: the internet-facing api held the
//! credential that moves money; an ops token switched the payment fault injector on (and every
//! order stopped); a plaintext `ops_cancel` with a forged actor, written straight to Temporal's
//! frontend, canceled an order without passing the api.

use crate::prod::{self, http, order_body, prod, unique};
use baedal_domain::Action;
use baedal_workflows::{CommandRequest, CommandUpdate, OrderWorkflow};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use temporalio_client::WorkflowExecuteUpdateOptions;

#[tokio::test]
async fn the_apis_credential_cannot_charge_or_refund() {
    let p = prod();
    let order = unique("ord");
    let charge = json!({"idempotency_key": order, "order_id": order, "amount": 9000, "card_token": "tok_ok"});
    let refund =
        json!({"idempotency_key": format!("{order}:refund"), "order_id": order, "amount": 9000});
    let ops = prod::token("ops", "op-5", None);
    for (path, body) in [("/v1/charges", &charge), ("/v1/refunds", &refund)] {
        // The service token every api pod holds, and an ops person's token.
        for credential in [prod::SERVICE_TOKEN, ops.as_str()] {
            let r = http()
                .post(format!("{}{path}", p.payment))
                .bearer_auth(credential)
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        }
    }
    // Nothing moved.
    let r = http()
        .get(format!("{}/v1/payments?order_id={order}", p.payment))
        .bearer_auth(prod::SERVICE_TOKEN)
        .send()
        .await
        .unwrap();
    let ledger: Value = r.json().await.unwrap();
    assert_eq!(ledger["payments"], json!([]));
    // The worker's credential is the one that charges.
    let r = http()
        .post(format!("{}/v1/charges", p.payment))
        .bearer_auth(prod::PAYMENT_TOKEN)
        .json(&charge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn without_the_test_flag_there_is_no_fault_injection() {
    let p = prod();
    let ops = prod::token("ops", "op-5", None);
    for service in [&p.payment, &p.notify] {
        for credential in [prod::SERVICE_TOKEN, ops.as_str()] {
            let r = http()
                .put(format!("{service}/v1/admin/faults"))
                .bearer_auth(credential)
                .json(&json!({"unavailable": true}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{service}");
        }
    }
    // And orders still go through.
    let customer = prod::token("customer", &unique("cust"), None);
    let r = http()
        .post(format!("{}/v1/orders", p.api))
        .bearer_auth(&customer)
        .header("Idempotency-Key", unique("k"))
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn an_unsealed_ops_cancel_sent_straight_to_temporal_cancels_nothing() {
    let p = prod();
    let customer = prod::token("customer", &unique("cust"), None);
    let r = http()
        .post(format!("{}/v1/orders", p.api))
        .bearer_auth(&customer)
        .header("Idempotency-Key", unique("k"))
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();

    // A pod that reaches the frontend, without the payload key: plaintext payloads.
    let raw = baedal::system::connect_temporal(
        &p.temporal_address,
        "default",
        Duration::from_secs(10),
        None,
    )
    .await
    .unwrap();
    let forged = CommandRequest {
        actor: baedal_domain::Actor {
            role: "ops".into(),
            id: "mallory".into(),
        },
        reason: Some("forged".into()),
    };
    let sent = tokio::time::timeout(
        Duration::from_secs(10),
        raw.get_workflow_handle::<OrderWorkflow>(id.clone())
            .execute_update(
                CommandUpdate(Action::OpsCancel),
                forged,
                WorkflowExecuteUpdateOptions::builder()
                    .update_id(unique("forged"))
                    .build(),
            ),
    )
    .await;
    assert!(
        !matches!(sent, Ok(Ok(_))),
        "the worker obeyed an unsealed ops_cancel"
    );

    // The order was not canceled and still takes commands through the api: the store
    // accepts it.
    let owner = prod::token("store_owner", "owner-st1", Some("st_1"));
    let r = http()
        .post(format!("{}/v1/store/orders/{id}/accept", p.api))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "accepted", "{body}");
}
