//! Replays recorded order histories through the current `OrderWorkflow` code. A change that
//! would make running orders non-deterministic (a command added, removed or reordered) fails
//! here before it reaches a worker with orders in flight.
//!
//! Record a new history after a deliberate, versioned change with
//! `temporal workflow show -w <order id> -o json > workflows/tests/histories/<name>.json`.

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
    replay("completed").await;
}

#[tokio::test]
async fn canceled_order_with_refund_replays() {
    replay("canceled").await;
}

#[tokio::test]
async fn declined_order_replays() {
    replay("declined").await;
}
