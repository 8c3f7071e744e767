//! Replays recorded order histories through the current `OrderWorkflow` code. A change that
//! would make running orders non-deterministic (a command added, removed or reordered) fails
//! here before it reaches a worker with orders in flight.
//!
//! Each file is `<path>-<version>.json`. `v1`: orders started without search attributes, which
//! upsert all four on their first transition. `v2`: orders started with them set (the api does
//! this since the throughput work of issue #4), which upsert only `OrderStatus` and skip
//! `placed`. `v3`: orders with the `outage-proof-delivery` patch marker (notifications and
//! projections fall back to a regular activity), plus histories whose timers fired (store
//! timeout, rider-claim escalation, auto-confirm, payment-attempt expiry) and the cancels
//! (ops, and from Temporal itself), and one that lived through a notification outage. `v4`:
//! the same paths with every payload sealed by the payload codec (the test key below) and the
//! updates generated from the domain's command table. `v5`: the same paths with each
//! notification naming the order's store (`store_id`, which webhooks need). `v6`: each
//! status-change notification carrying the order's brief (store name, items, total, ETA: the
//! KakaoTalk template's variables). `v7`: orders carrying their workflow version in the input
//! (7: no patch marker; a payment window fixed at the first attempt; the refund beside the
//! projection and a "refunded" notice; rider pickup and delivery deadlines; a rider's
//! release), with the money paths recorded too: payment unavailable then retried and
//! approved, a store's reject, a lost claim race, a refund retried through a PSP outage, a
//! read-model outage, and a released claim with both deadlines. `v8`: the same paths with each
//! change's projection and notifications in one local activity (`publish`: one marker per
//! change where v7 had two). `v9`: the same paths after the abuse-resistance work (riders report
//! where each step happens, the workflow's view gains an optional `personal_data_erased_at` the
//! workflow never sets, so its payloads are unchanged). Every history replays through a worker
//! with the codec, as production runs it: plaintext histories pass through it unchanged, so
//! orders started before encryption was turned on carry on. Every history replays twice: as a
//! worker without tracing runs it, and as one with the SDK's OpenTelemetry plugin (set when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is), whose interceptors must not change a command; and
//! `canceled_traced-v9` is an order recorded with tracing on (its start, updates and activities
//! carry the sealed `_tracer-data` header), which both replay too. Keep
//! every version whose orders may still be running; record a new one after a deliberate change
//! with `BAEDAL_RECORD_HISTORIES=v10 cargo test -p baedal --test system --test outages`.

use baedal_workflows::OrderWorkflow;
use temporalio_client::WorkflowHistory;
use temporalio_common::data_converters::{
    DataConverter, DefaultFailureConverter, PayloadConverter,
};
use temporalio_sdk::opentelemetry::OpenTelemetryPlugin;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// The throwaway keys the test system (cli/tests/common) and the tests' clusters of processes
/// (cli/tests/procs) seal payloads with, so v4 on and the traced history open.
const TEST_PAYLOAD_KEYS: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,\
                                 procs:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn codec() -> DataConverter {
    let keys = baedal_codec::PayloadKeys::parse(TEST_PAYLOAD_KEYS).expect("test keys");
    DataConverter::new(
        PayloadConverter::default(),
        DefaultFailureConverter::default(),
        baedal_codec::EncryptionCodec::new(keys),
    )
}

fn history(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/histories/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Replay history `name`, by a worker without tracing and by one with the OpenTelemetry plugin.
async fn replay(name: &str) {
    let bytes = history(name);
    for traced in [false, true] {
        let history = WorkflowHistory::from_json(&bytes).expect("history JSON decodes");
        let mut options = WorkflowReplayerOptions::new().data_converter(codec());
        if traced {
            options = options.worker_plugin(OpenTelemetryPlugin::builder().build());
        }
        let options = options
            .build()
            .register_workflow::<OrderWorkflow>()
            .expect("register OrderWorkflow")
            .to_owned();
        let replayer = WorkflowReplayer::new(options).expect("replayer");
        replayer.replay_workflow(history).await.unwrap_or_else(|e| {
            panic!("{name} (traced: {traced}): the current OrderWorkflow cannot replay it: {e}")
        });
    }
}

#[tokio::test]
async fn completed_order_replays() {
    replay("completed-v1").await;
    replay("completed-v2").await;
    replay("completed-v3").await;
    replay("completed-v4").await;
    replay("completed-v5").await;
    replay("completed-v6").await;
    replay("completed-v7").await;
    replay("completed-v8").await;
    replay("completed-v9").await;
}

#[tokio::test]
async fn canceled_order_with_refund_replays() {
    replay("canceled-v1").await;
    replay("canceled-v2").await;
    replay("canceled-v3").await;
    replay("canceled-v4").await;
    replay("canceled-v5").await;
    replay("canceled-v6").await;
    replay("canceled-v7").await;
    replay("canceled-v8").await;
    replay("canceled-v9").await;
}

#[tokio::test]
async fn declined_order_replays() {
    replay("declined-v1").await;
    replay("declined-v2").await;
    replay("declined-v3").await;
    replay("declined-v4").await;
    replay("declined-v5").await;
    replay("declined-v6").await;
    replay("declined-v7").await;
    replay("declined-v8").await;
    replay("declined-v9").await;
}

#[tokio::test]
async fn orders_whose_timers_fired_replay() {
    replay("store_timeout-v3").await;
    replay("escalated-v3").await;
    replay("auto_confirmed-v3").await;
    replay("payment_expired-v3").await;
    replay("store_timeout-v4").await;
    replay("store_timeout-v5").await;
    replay("store_timeout-v6").await;
    replay("store_timeout-v7").await;
    replay("store_timeout-v8").await;
    replay("store_timeout-v9").await;
    replay("escalated-v4").await;
    replay("escalated-v5").await;
    replay("escalated-v6").await;
    replay("escalated-v7").await;
    replay("escalated-v8").await;
    replay("escalated-v9").await;
    replay("auto_confirmed-v4").await;
    replay("auto_confirmed-v5").await;
    replay("auto_confirmed-v6").await;
    replay("auto_confirmed-v7").await;
    replay("auto_confirmed-v8").await;
    replay("auto_confirmed-v9").await;
    replay("payment_expired-v4").await;
    replay("payment_expired-v5").await;
    replay("payment_expired-v6").await;
    replay("payment_expired-v7").await;
    replay("payment_expired-v8").await;
    replay("payment_expired-v9").await;
}

#[tokio::test]
async fn ops_and_temporal_cancels_replay() {
    replay("ops_canceled-v3").await;
    replay("engine_canceled-v3").await;
    replay("ops_canceled-v4").await;
    replay("ops_canceled-v5").await;
    replay("ops_canceled-v6").await;
    replay("ops_canceled-v7").await;
    replay("ops_canceled-v8").await;
    replay("ops_canceled-v9").await;
    replay("engine_canceled-v4").await;
    replay("engine_canceled-v5").await;
    replay("engine_canceled-v6").await;
    replay("engine_canceled-v7").await;
    replay("engine_canceled-v8").await;
    replay("engine_canceled-v9").await;
}

#[tokio::test]
async fn an_order_that_lived_through_a_notification_outage_replays() {
    replay("notify_outage-v3").await;
    replay("notify_outage-v4").await;
    replay("notify_outage-v5").await;
    replay("notify_outage-v6").await;
    replay("notify_outage-v7").await;
    replay("notify_outage-v8").await;
    replay("notify_outage-v9").await;
}

#[tokio::test]
async fn money_paths_replay() {
    replay("payment_retried-v7").await;
    replay("payment_retried-v8").await;
    replay("payment_retried-v9").await;
    replay("rejected-v7").await;
    replay("rejected-v8").await;
    replay("rejected-v9").await;
    replay("claim_race-v7").await;
    replay("claim_race-v8").await;
    replay("claim_race-v9").await;
    replay("refund_retried-v7").await;
    replay("refund_retried-v8").await;
    replay("refund_retried-v9").await;
    replay("readmodel_outage-v7").await;
    replay("readmodel_outage-v8").await;
    replay("readmodel_outage-v9").await;
}

#[tokio::test]
async fn a_released_claim_and_both_rider_deadlines_replay() {
    replay("released_and_deadlines-v7").await;
    replay("released_and_deadlines-v8").await;
    replay("released_and_deadlines-v9").await;
}

/// An order placed, paid and canceled with tracing on (recorded by the cluster suite's trace
/// test with `BAEDAL_RECORD_HISTORIES=v9`): its history carries the trace context, sealed.
#[tokio::test]
async fn a_traced_order_replays() {
    let raw = String::from_utf8(history("canceled_traced-v9")).unwrap();
    assert!(
        raw.contains("_tracer-data") && !raw.contains("traceparent"),
        "the recorded history carries the trace context, sealed"
    );
    replay("canceled_traced-v9").await;
}

#[tokio::test]
async fn a_sealed_history_does_not_replay_without_its_key() {
    let path = format!(
        "{}/tests/histories/completed-v4.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let history = WorkflowHistory::from_json(&std::fs::read(path).unwrap()).unwrap();
    let options = WorkflowReplayerOptions::new()
        .build()
        .register_workflow::<OrderWorkflow>()
        .unwrap()
        .to_owned();
    let replayer = WorkflowReplayer::new(options).unwrap();
    assert!(
        replayer.replay_workflow(history).await.is_err(),
        "a worker without the key must not make sense of sealed payloads"
    );
}
