//! `baedal reconcile`: fetch the payment ledger, the read model's orders and the order
//! workflows, and compare them by the domain's rules (`baedal_domain::reconcile`): money
//! against orders, and the read model against the engine. Run it when the system is quiet: a
//! refund still being retried shows as missing, a projection under way as drift.
//!
//! Why a check and not a stricter projection: the workflow projects each change with a local
//! activity, inside the workflow task that made it, so the read model moves in the same few
//! milliseconds as the engine. The price is that a worker dying before it completes that task
//! leaves a change in the read model the engine never committed (a phantom). The engine
//! redoes the step from durable history and its projection of that version replaces the
//! phantom ([`baedal_readmodel`]'s run and version fence), and every waiting status has a
//! timer that moves the order on; what can remain is a phantom the engine never reaches
//! again (a lost update nobody retried before the order closed). Projecting only after the
//! task is durable would cost a regular activity per change (two more history events each,
//! and a round trip through the server on every status a customer waits for); this check
//! finds what is left, and `--repair` writes the engine's view over it.

use anyhow::Context;
use baedal_activities::PaymentClient;
use baedal_domain::reconcile::{Drift, LedgerLine, Report, compare, drift};
use baedal_domain::{OrderStatus, OrderView};
use baedal_readmodel::ReadModel;
use baedal_workflows::{ORDER_STATUS, OrderWorkflow};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

/// What `baedal reconcile` compares, and whether it repairs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Write the engine's view over each order that drifted.
    pub repair: bool,
    /// Closed orders are compared with their workflows when they closed within this long.
    pub since: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            repair: false,
            since: Duration::from_secs(24 * 3600),
        }
    }
}

/// How long a suspect is given to settle before it counts as drift: a change the engine just
/// committed reaches the read model within milliseconds.
const SETTLE: Duration = Duration::from_secs(2);

/// Fetch the ledger from the payment service, the orders from the read model and the order
/// workflows from Temporal, and compare; with `opts.repair`, repair the drift first.
pub async fn run(
    payment: &PaymentClient,
    read_model: &ReadModel,
    temporal: &temporalio_client::Client,
    opts: Options,
) -> anyhow::Result<Report> {
    let (engine_orders, mut drifted) = engine_drift(read_model, temporal, opts.since).await?;
    if opts.repair && !drifted.is_empty() {
        for d in &drifted {
            if let Some(engine) = engine_view(temporal, d.order_id()).await?
                && read_model.repair(&engine, d.read_version()).await?
            {
                println!(
                    "REPAIRED {}: the read model now shows {}",
                    d.order_id(),
                    engine.status
                );
            }
        }
        let ids: Vec<String> = drifted.iter().map(|d| d.order_id().to_owned()).collect();
        drifted = still_drifted(read_model, temporal, &ids).await?;
    }
    let ledger: Vec<LedgerLine> = payment
        .payments(None)
        .await?
        .payments
        .into_iter()
        .map(|p| LedgerLine {
            order_id: p.order_id,
            kind: p.kind,
            amount: p.amount,
            status: p.status,
        })
        .collect();
    let orders = statuses(read_model).await?;
    let mut terminated = HashSet::new();
    let mut list = temporal.list_workflows(
        "WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Terminated'",
        Default::default(),
    );
    while let Some(w) = list.next().await {
        terminated.insert(w?.id().to_owned());
    }
    Ok(Report {
        engine_orders,
        drift: drifted,
        ..compare(&ledger, &orders, &terminated)
    })
}

async fn statuses(read_model: &ReadModel) -> anyhow::Result<HashMap<String, OrderStatus>> {
    read_model
        .order_statuses()
        .await?
        .into_iter()
        .map(|(id, status)| {
            let status: OrderStatus = status
                .parse()
                .with_context(|| format!("order {id} has status '{status}' in the read model"))?;
            Ok((id, status))
        })
        .collect()
}

/// The orders whose read model view drifted from their workflow's, among the open workflows
/// and those closed within `since`, with how many workflows were compared. Visibility's
/// `OrderStatus` (which the workflow upserts from durable state) picks the suspects, so only
/// they cost a query; a suspect counts once it still differs after [`SETTLE`].
async fn engine_drift(
    read_model: &ReadModel,
    temporal: &temporalio_client::Client,
    since: Duration,
) -> anyhow::Result<(usize, Vec<Drift>)> {
    let from = humantime::format_rfc3339(SystemTime::now() - since);
    let mut list = temporal.list_workflows(
        format!(
            "WorkflowType = 'OrderWorkflow' AND \
             (ExecutionStatus = 'Running' OR CloseTime > '{from}')"
        ),
        Default::default(),
    );
    let orders = statuses(read_model).await?;
    let (mut compared, mut suspects) = (0, Vec::new());
    while let Some(w) = list.next().await {
        let w = w?;
        compared += 1;
        let engine = w.search_attributes().get(&ORDER_STATUS);
        let read = orders.get(w.id()).map(|s| s.as_str());
        // A declined attempt is never projected (`drift` says the same): not a suspect, so
        // reconcile need not query it, which a retired worker build could no longer answer.
        let declined = engine.as_deref() == Some(OrderStatus::PaymentFailed.as_str());
        if engine.as_deref() != read && !(declined && read.is_none()) {
            suspects.push(w.id().to_owned());
        }
    }
    if suspects.is_empty() {
        return Ok((compared, Vec::new()));
    }
    let first = still_drifted(read_model, temporal, &suspects).await?;
    if first.is_empty() {
        return Ok((compared, first));
    }
    tokio::time::sleep(SETTLE).await;
    let ids: Vec<String> = first.iter().map(|d| d.order_id().to_owned()).collect();
    Ok((compared, still_drifted(read_model, temporal, &ids).await?))
}

/// Compare each of `ids` in the read model with its workflow's own view.
async fn still_drifted(
    read_model: &ReadModel,
    temporal: &temporalio_client::Client,
    ids: &[String],
) -> anyhow::Result<Vec<Drift>> {
    let mut out = Vec::new();
    for id in ids {
        let Some(engine) = engine_view(temporal, id).await? else {
            continue;
        };
        let read = read_model.get_order(id).await?;
        out.extend(drift(read.as_ref(), &engine));
    }
    Ok(out)
}

/// The order as its workflow holds it (`None`: the workflow is gone).
async fn engine_view(
    temporal: &temporalio_client::Client,
    order_id: &str,
) -> anyhow::Result<Option<OrderView>> {
    let handle = temporal.get_workflow_handle::<OrderWorkflow>(order_id.to_owned());
    match handle
        .query(OrderWorkflow::order, (), Default::default())
        .await
    {
        Ok(view) => Ok(Some(view)),
        Err(temporalio_client::errors::WorkflowQueryError::NotFound(_)) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(e)).with_context(|| format!("query order {order_id}")),
    }
}
