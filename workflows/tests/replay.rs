//! Replays recorded order histories through the current `OrderWorkflow` code. A change that
//! would make running orders non-deterministic (a command added, removed or reordered) fails
//! here before it reaches a worker with orders in flight.
//!
//! Each file is `<path>-<version>.json`. `v1`: orders started without search attributes, which
//! upsert all four on their first transition. `v2`: orders started with them set (the api does
//! this since the throughput work of issue #4), which upsert only `OrderStatus` and skip
//! `placed`. Keep every version whose orders may still be running; record a new one after a
//! deliberate change with `BAEDAL_RECORD_HISTORIES=v3 cargo test -p baedal --test lifecycle`.

use baedal_workflows::OrderWorkflow;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

async fn replay(name: &str) {
    let path = format!("{}/tests/histories/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let history = WorkflowHistory::from_json(&bytes).expect("history JSON decodes");
    let options = WorkflowReplayerOptions::new()
        .build()
        .register_workflow::<OrderWorkflow>()
        .expect("register OrderWorkflow")
        .to_owned();
    let replayer = WorkflowReplayer::new(options).expect("replayer");
    replayer
        .replay_workflow(history)
        .await
        .unwrap_or_else(|e| panic!("{name}: the current OrderWorkflow cannot replay it: {e}"));
}

#[tokio::test]
async fn completed_order_replays() {
    replay("completed-v1").await;
    replay("completed-v2").await;
}

#[tokio::test]
async fn canceled_order_with_refund_replays() {
    replay("canceled-v1").await;
    replay("canceled-v2").await;
}

#[tokio::test]
async fn declined_order_replays() {
    replay("declined-v1").await;
    replay("declined-v2").await;
}
