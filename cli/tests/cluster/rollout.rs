//! Rolling out workflow code with Temporal's Worker Deployment Versioning, on one dev server:
//! two worker builds side by side (`BAEDAL_BUILD_ID`), the deployment's current version moved
//! from the first to the second. An order started on the first build runs every workflow task
//! to its end on the first build (pinned), while an order started after the switch runs on the
//! second; neither build ever handles the other's orders.

use crate::procs;

use procs::{Cluster, Part, token};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DEPLOYMENT: &str = "baedal-worker";

fn order_body() -> Value {
    json!({
        "store_id": "st_3",
        "items": [{"menu_item_id": "mi_3_1", "quantity": 1}],
        "delivery": {"address": "서울 마포구 양화로 1", "region": "mapo", "lat": 37.556, "lon": 126.923},
        "payment": {"card_token": "tok_ok"}
    })
}

async fn post(base: &str, tok: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(tok)
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `temporal <args>` against the cluster's dev server; (success, stdout + stderr).
fn temporal(c: &Cluster, args: &[&str]) -> (bool, String) {
    let cli = baedal::devserver::find_cli().expect("temporal CLI");
    let address = format!("127.0.0.1:{}", c.setting("BAEDAL_TEMPORAL_PORT").unwrap());
    let out = std::process::Command::new(cli)
        .args(args)
        .args(["--address", &address])
        .output()
        .expect("temporal CLI runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Make `build` the deployment's current version: what a rollout does once the new build's
/// workers are up (a version exists once its first worker has polled, so wait for that).
async fn make_current(c: &Cluster, build: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = temporal(
            c,
            &[
                "worker",
                "deployment",
                "set-current-version",
                "--deployment-name",
                DEPLOYMENT,
                "--build-id",
                build,
                "--yes",
            ],
        );
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{build} did not become current: {out}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The builds that completed `order`'s workflow tasks, in history order, and its versioning
/// behavior as Temporal describes it.
fn builds_of(c: &Cluster, order: &str) -> (Vec<String>, String) {
    let (ok, out) = temporal(
        c,
        &["workflow", "show", "--workflow-id", order, "-o", "json"],
    );
    assert!(ok, "{out}");
    let history: Value = serde_json::from_str(&out).expect("history json");
    let builds = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e.get("workflowTaskCompletedEventAttributes"))
        .map(|a| {
            a["deploymentVersion"]["buildId"]
                .as_str()
                .unwrap_or("(unversioned)")
                .to_owned()
        })
        .collect();
    let (ok, out) = temporal(
        c,
        &["workflow", "describe", "--workflow-id", order, "-o", "json"],
    );
    assert!(ok, "{out}");
    let described: Value = serde_json::from_str(&out).expect("describe json");
    let behavior = described["workflowExecutionInfo"]["versioningInfo"]["behavior"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    (builds, behavior)
}

async fn until_closed(c: &Cluster, order: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ok, out) = temporal(
            c,
            &["workflow", "describe", "--workflow-id", order, "-o", "json"],
        );
        let status = serde_json::from_str::<Value>(&out).ok().and_then(|d| {
            d["workflowExecutionInfo"]["status"]
                .as_str()
                .map(str::to_owned)
        });
        if ok && status.as_deref() == Some("WORKFLOW_EXECUTION_STATUS_COMPLETED") {
            return;
        }
        assert!(Instant::now() < deadline, "{order} not completed: {out}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_finishes_on_the_build_it_started_on_while_new_orders_run_on_the_next() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("rollout");
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
    assert_eq!(code, 0, "{out}");
    c.set_env("BAEDAL_BUILD_ID", "build-1");
    for p in [
        Part::Temporal,
        Part::Payment,
        Part::Notify,
        Part::Worker,
        Part::Api,
    ] {
        c.start(p);
    }
    for url in [&c.api, &c.payment, &c.notify, &c.worker_admin] {
        c.wait_healthy(url, 90).await;
    }
    make_current(&c, "build-1").await;
    let cust = token("customer", "rollout-cust", None);
    let owner = token("store_owner", "rollout-owner", Some("st_3"));

    // An order on build 1, paid and waiting for the store.
    let (s, old) = post(&c.api, &cust, "/v1/orders", Some(order_body())).await;
    assert_eq!(s, StatusCode::CREATED, "{old}");
    assert_eq!(old["payment"]["status"], "succeeded", "{old}");
    let old = old["id"].as_str().unwrap().to_owned();

    // Build 2 comes up beside it and becomes current.
    c.set_env("BAEDAL_BUILD_ID", "build-2");
    c.start(Part::NextWorker);
    make_current(&c, "build-2").await;

    // A new order runs on build 2; the old order's next steps still run on build 1.
    let (s, new) = post(&c.api, &cust, "/v1/orders", Some(order_body())).await;
    assert_eq!(s, StatusCode::CREATED, "{new}");
    assert_eq!(new["payment"]["status"], "succeeded", "{new}");
    let new = new["id"].as_str().unwrap().to_owned();
    let (s, b) = post(
        &c.api,
        &owner,
        &format!("/v1/store/orders/{old}/reject"),
        Some(json!({"reason": "closed early"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = post(&c.api, &cust, &format!("/v1/orders/{new}/cancel"), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for id in [&old, &new] {
        until_closed(&c, id).await;
    }

    let (old_builds, old_behavior) = builds_of(&c, &old);
    let (new_builds, new_behavior) = builds_of(&c, &new);
    assert!(old_builds.len() >= 3, "{old_builds:?}");
    assert!(
        old_builds.iter().all(|b| b == "build-1"),
        "the old order left its build: {old_builds:?}"
    );
    assert!(
        new_builds.iter().all(|b| b == "build-2"),
        "the new order ran on the old build: {new_builds:?}"
    );
    assert_eq!(old_behavior, "VERSIONING_BEHAVIOR_PINNED");
    assert_eq!(new_behavior, "VERSIONING_BEHAVIOR_PINNED");
}
