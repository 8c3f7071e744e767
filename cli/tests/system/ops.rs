//! Ops and money that must never stay stuck: ops cancel from any open status, a cancel request
//! from Temporal itself, the stuck list and its one-time alert, and `baedal reconcile` on a
//! terminated order. Real dev server, real HTTP, real SQLite stores.

use crate::common;

use common::{STUCK_AFTER, maybe_record, system, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use temporalio_client::{WorkflowCancelOptions, WorkflowExecutionStatus, WorkflowTerminateOptions};

async fn cooking_order(s: &common::TestSystem, cust: &str) -> String {
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = s.placed_order_on(&s.api, cust).await;
    for step in ["accept", "start-cooking"] {
        let r = s
            .post(&owner, &format!("/v1/store/orders/{id}/{step}"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {:?}", r.body);
    }
    id
}

async fn ops_cancel(s: &common::TestSystem, token: &str, id: &str, body: Value) -> common::Resp {
    s.call(
        &s.api,
        Method::POST,
        &format!("/v1/ops/orders/{id}/cancel"),
        Some(token),
        Some(body),
        None,
    )
    .await
}

/// The inbox of `recipient` for the order: (seq, status) in arrival order.
async fn inbox(
    s: &common::TestSystem,
    recipient: &str,
    id: &str,
    enough: usize,
) -> Vec<(u64, String)> {
    s.notifications_until(&format!("recipient={recipient}&order_id={id}"), enough, 20)
        .await
        .iter()
        .map(|n| {
            (
                n["seq"].as_u64().unwrap(),
                n["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn ops_cancel_refunds_a_cooking_order_and_tells_customer_and_store() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let ops = s.token("ops", "ops-1", None).await;
    let id = cooking_order(s, &cust).await;

    // The customer may no longer cancel; ops can.
    assert_eq!(
        s.post(&cust, &format!("/v1/orders/{id}/cancel"))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let owner = s.token("store_owner", "someone", Some("st_1")).await;
    let rider = s.token("rider", "someone", None).await;
    for t in [&cust, &owner, &rider] {
        let r = ops_cancel(s, t, &id, json!({"reason": "x"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    for bad in [
        json!({"reason": ""}),
        json!({"reason": "x".repeat(301)}),
        json!({}),
    ] {
        let r = ops_cancel(s, &ops, &id, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    }
    let unknown = ops_cancel(s, &ops, "ord_nope", json!({"reason": "x"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.get(&cust, &format!("/v1/orders/{id}")).await.body["status"],
        "cooking",
        "refused requests changed nothing"
    );

    let r = ops_cancel(s, &ops, &id, json!({"reason": "가게 화재 / kitchen fire"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "canceled");
    let last = r.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["status"], "canceled");
    assert!(
        last["reason"].as_str().unwrap().contains("kitchen fire"),
        "{last}"
    );

    let order = s
        .wait_for(&s.api, &cust, &id, 20, |o| {
            o["refund"]["status"] == "succeeded"
        })
        .await;
    assert_eq!(order["refund"]["status"], "succeeded");
    assert_eq!(order["refund"]["amount"], order["total"], "a full refund");
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);

    let again = ops_cancel(s, &ops, &id, json!({"reason": "twice"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{:?}", again.body);
    assert_eq!(again.code(), "invalid_transition");

    for recipient in [format!("customer:{customer_id}"), "store:st_1".to_owned()] {
        let got = inbox(s, &recipient, &id, 1).await;
        assert!(
            got.iter().any(|(_, st)| st == "canceled"),
            "{recipient} told of the cancel: {got:?}"
        );
    }
    let (status, _) = s.closed_workflow(&id, 20).await;
    assert_eq!(status, WorkflowExecutionStatus::Completed);
    assert_eq!(
        s.count(&id, "refund", "succeeded").await,
        1,
        "still one refund"
    );
    maybe_record(&id, "ops_canceled").await;
}

#[tokio::test]
async fn a_cancel_from_temporal_refunds_projects_and_notifies_before_closing() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let id = cooking_order(s, &cust).await;

    let client = s.temporal().await;
    client
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.clone())
        .cancel(
            WorkflowCancelOptions::builder()
                .reason("canceled from the Web UI".to_owned())
                .build(),
        )
        .await
        .unwrap();

    let order = s
        .wait_for(&s.api, &cust, &id, 30, |o| {
            o["status"] == "canceled" && o["refund"]["status"] == "succeeded"
        })
        .await;
    assert_eq!(order["refund"]["status"], "succeeded");
    let reason = order["history"].as_array().unwrap().last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("Temporal") && reason.contains("Web UI"),
        "{reason}"
    );
    assert_eq!(s.count(&id, "refund", "succeeded").await, 1);
    // Told of the cancel after placed, accepted, cooking; then that the money is back.
    let got = inbox(s, &format!("customer:{customer_id}"), &id, 5).await;
    let told = |n: (u64, &str)| got.iter().position(|(seq, st)| (*seq, st.as_str()) == n);
    let canceled = told((4, "canceled")).unwrap_or_else(|| panic!("{got:?}"));
    let refunded = told((30_000, "refunded")).unwrap_or_else(|| panic!("{got:?}"));
    assert!(canceled < refunded, "{got:?}");
    let (status, _) = s.closed_workflow(&id, 20).await;
    assert_eq!(
        status,
        WorkflowExecutionStatus::Canceled,
        "the workflow closes as the cancel asked, after settling"
    );
    maybe_record(&id, "engine_canceled").await;
}

#[tokio::test]
async fn stuck_orders_are_listed_oldest_first_and_ops_are_alerted_once() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let ops = s.token("ops", "ops-1", None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let placed = s.placed_order_on(&s.api, &cust).await;
    let accepted = s.placed_order_on(&s.api, &cust).await;
    let r = s
        .post(&owner, &format!("/v1/store/orders/{accepted}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let moving = s.placed_order_on(&s.api, &cust).await;

    // Not stuck yet.
    let early = s.get(&ops, "/v1/ops/orders/stuck?limit=500").await;
    assert_eq!(early.status, StatusCode::OK, "{:?}", early.body);
    assert!(!early.body.to_string().contains(&accepted));

    tokio::time::sleep(STUCK_AFTER + Duration::from_millis(500)).await;
    // `moving` moves on just before the list is read: it is not stuck in its new status.
    let r = s
        .post(&owner, &format!("/v1/store/orders/{moving}/accept"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let list = s.get(&ops, "/v1/ops/orders/stuck?limit=500").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["stuck_after_secs"], STUCK_AFTER.as_secs());
    let orders = list.body["orders"].as_array().unwrap();
    let pos = |id: &str| orders.iter().position(|o| o["id"] == id);
    let (p_placed, p_accepted) = (
        pos(&placed).expect("placed order listed"),
        pos(&accepted).expect("accepted order listed"),
    );
    assert!(p_placed < p_accepted, "oldest first: {orders:?}");
    assert!(
        pos(&moving).is_none(),
        "an order that just moved is not stuck"
    );
    let a = &orders[p_accepted];
    assert_eq!(a["status"], "accepted");
    assert!(a["since"].as_str().unwrap().starts_with("20"));
    assert!(a["stuck_for_secs"].as_i64().unwrap() >= STUCK_AFTER.as_secs() as i64);
    let link = a["temporal_ui"].as_str().unwrap();
    assert!(
        link.starts_with("http://")
            && link.ends_with(&format!("/namespaces/default/workflows/{accepted}")),
        "{link}"
    );
    let since = orders
        .iter()
        .map(|o| o["since"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(since.windows(2).all(|w| w[0] <= w[1]), "sorted by since");
    for t in [&cust, &owner] {
        assert_eq!(
            s.get(t, "/v1/ops/orders/stuck").await.status,
            StatusCode::FORBIDDEN
        );
    }

    // Ops hear of each stuck order once: seq 20,000 + the seq of the stuck status.
    let alerts = s
        .notifications_until(&format!("recipient=ops&order_id={accepted}"), 1, 15)
        .await;
    let seqs: Vec<u64> = alerts.iter().map(|n| n["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![20_002], "{alerts:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        s.notifications(&format!("recipient=ops&order_id={accepted}"))
            .await
            .len(),
        1,
        "alerted once, however many sweeps"
    );

    // Canceled by ops: no longer stuck.
    let r = ops_cancel(s, &ops, &accepted, json!({"reason": "stuck"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let after = s.get(&ops, "/v1/ops/orders/stuck?limit=500").await;
    assert!(!after.body.to_string().contains(&accepted));
    assert!(after.body.to_string().contains(&placed));
}

#[tokio::test]
async fn reconcile_lists_a_terminated_paid_order_as_a_refund_owed() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let id = cooking_order(s, &cust).await;
    let client = s.temporal().await;
    client
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.clone())
        .terminate(
            WorkflowTerminateOptions::builder()
                .reason("oops".to_owned())
                .build(),
        )
        .await
        .unwrap();
    let read_model = baedal_readmodel::ReadModel::open(&s.read_model_url)
        .await
        .unwrap();
    let payment = baedal_activities::PaymentClient::new(s.payment.clone(), common::SERVICE_TOKEN);
    // Visibility is eventually consistent: give the terminated status a moment to show.
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        let report = baedal::reconcile::run(&payment, &read_model, &client, Default::default())
            .await
            .unwrap();
        let owed = report.mismatches.iter().any(|m| {
            matches!(m, baedal_domain::reconcile::Mismatch::TerminatedWithMoneyKept { order_id, kept }
                if *order_id == id && *kept == 9_000)
        });
        if owed || Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        report
            .to_string()
            .contains(&format!("refund owed but missing: {id} was terminated")),
        "{report}"
    );
    assert!(!report.is_clean());
}

/// A status the workflow never committed (its worker died inside the task that projected it,
/// and nobody sent the command again) is found by `baedal reconcile` and put back by
/// `--repair`; the workflow's own next change then lands as usual.
#[tokio::test]
async fn reconcile_finds_a_status_the_engine_never_committed_and_repair_puts_the_engines_back() {
    use baedal::reconcile::{Options, run};
    use baedal_domain::reconcile::Drift;
    use baedal_domain::{HistoryEntry, OrderStatus};
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let id = cooking_order(s, &cust).await;
    s.wait_for(&s.api, &cust, &id, 10, |o| o["status"] == "cooking")
        .await;
    let read_model = baedal_readmodel::ReadModel::open(&s.read_model_url)
        .await
        .unwrap();
    let stored = read_model.get_order(&id).await.unwrap().unwrap();
    let mut phantom = stored.clone();
    phantom.version += 1;
    phantom.seq += 1;
    phantom.status = OrderStatus::ReadyForPickup;
    phantom.history.push(HistoryEntry {
        seq: phantom.seq,
        status: OrderStatus::ReadyForPickup,
        at: stored.updated_at.clone(),
        reason: None,
    });
    assert!(read_model.project(&phantom).await.unwrap());
    s.wait_for(&s.api, &cust, &id, 5, |o| o["status"] == "ready_for_pickup")
        .await;

    let client = s.temporal().await;
    let payment = baedal_activities::PaymentClient::new(s.payment.clone(), common::SERVICE_TOKEN);
    let ours = |report: &baedal_domain::reconcile::Report| {
        report.drift.iter().find(|d| d.order_id() == id).cloned()
    };
    let report = run(&payment, &read_model, &client, Options::default())
        .await
        .unwrap();
    let found = ours(&report).unwrap_or_else(|| panic!("no drift reported for {id}:\n{report}"));
    assert!(
        matches!(&found, Drift::Phantom { read, engine, .. }
            if read.status == OrderStatus::ReadyForPickup && engine.status == OrderStatus::Cooking
               && engine.version == stored.version),
        "{found:?}"
    );
    assert!(!report.is_clean());
    assert!(report.to_string().contains(&format!(
        "DRIFT read model shows what the engine never committed: {id}"
    )));

    let repair = Options {
        repair: true,
        ..Options::default()
    };
    let report = run(&payment, &read_model, &client, repair).await.unwrap();
    assert_eq!(ours(&report), None, "{report}");
    let shown = s
        .wait_for(&s.api, &cust, &id, 5, |o| o["status"] == "cooking")
        .await;
    assert_eq!(
        common::statuses(&shown).last().map(String::as_str),
        Some("cooking")
    );

    // The workflow goes on from what it committed, and the read model takes its next change.
    let r = s
        .post(&owner, &format!("/v1/store/orders/{id}/finish-cooking"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    s.wait_for(&s.api, &cust, &id, 10, |o| {
        o["status"] == "ready_for_pickup"
    })
    .await;
    let report = run(&payment, &read_model, &client, Options::default())
        .await
        .unwrap();
    assert_eq!(ours(&report), None, "{report}");
}
