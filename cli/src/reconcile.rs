//! `baedal reconcile`: fetch the payment ledger, the read model's orders and the terminated
//! order workflows, and compare them by the domain's rules (`baedal_domain::reconcile`). Run it
//! when the system is quiet: a refund still being retried shows as missing.

use anyhow::Context;
use baedal_activities::ServiceClient;
use baedal_domain::OrderStatus;
use baedal_domain::reconcile::{LedgerLine, Report, compare};
use baedal_readmodel::ReadModel;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};

/// Fetch the ledger from the payment service, the orders from the read model and the
/// terminated order workflows from Temporal, and compare.
pub async fn run(
    payment: &ServiceClient,
    read_model: &ReadModel,
    temporal: &temporalio_client::Client,
) -> anyhow::Result<Report> {
    let doc = payment.get_json("/v1/payments").await?;
    let ledger: Vec<LedgerLine> = serde_json::from_value(doc["payments"].clone())?;
    let orders = read_model
        .order_statuses()
        .await?
        .into_iter()
        .map(|(id, status)| {
            let status: OrderStatus = status
                .parse()
                .with_context(|| format!("order {id} has status '{status}' in the read model"))?;
            Ok((id, status))
        })
        .collect::<anyhow::Result<HashMap<_, _>>>()?;
    let mut terminated = HashSet::new();
    let mut list = temporal.list_workflows(
        "WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Terminated'",
        Default::default(),
    );
    while let Some(w) = list.next().await {
        terminated.insert(w?.id().to_owned());
    }
    Ok(compare(&ledger, &orders, &terminated))
}
