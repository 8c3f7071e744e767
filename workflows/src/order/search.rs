//! The order's search attributes: what ops filter orders by in the Web UI and the CLI, and
//! what `baedal reconcile` compares with the read model.

use super::OrderWorkflow;
use baedal_domain::{OrderInput, OrderStatus};
use temporalio_common::search_attributes::{SearchAttributeKey, SearchAttributes};
use temporalio_sdk::WorkflowContext;

/// The order's status as the engine last committed it (`baedal reconcile` compares it with the
/// read model's).
pub const ORDER_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");
const STORE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("StoreId");
const CUSTOMER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("CustomerId");
const REGION: SearchAttributeKey<String> = SearchAttributeKey::keyword("Region");

/// What ops filter orders by, for an order of `input` in `status`.
fn indexed(input: &OrderInput, status: OrderStatus) -> [(SearchAttributeKey<String>, String); 4] {
    [
        (ORDER_STATUS, status.as_str().to_owned()),
        (STORE_ID, input.store_id.clone()),
        (CUSTOMER_ID, input.customer_id.clone()),
        (REGION, input.delivery.region.clone()),
    ]
}

/// Search attributes to start an order's workflow with: the order as `placed`. Set at start
/// they cost no visibility write of their own (the start writes the record anyway); an order
/// whose charge fails moves on to `payment_failed` at once.
pub fn start_search_attributes(input: &OrderInput) -> SearchAttributes {
    SearchAttributes::new(
        indexed(input, OrderStatus::Placed)
            .into_iter()
            .map(|(key, value)| key.value_set(value)),
    )
}

impl OrderWorkflow {
    /// Upsert the search attributes that differ from the workflow's current ones. Orders
    /// started with their attributes set ([`start_search_attributes`]) skip the upsert for
    /// `placed` and later send only `OrderStatus`: each upsert is a visibility write on the
    /// server, the dearest thing an order asks of the engine (BENCHMARKS.md). Orders started
    /// without them (older histories) upsert all four on their first transition, as before.
    pub(super) fn upsert_search_attributes(ctx: &WorkflowContext<Self>) {
        let current = ctx.search_attributes();
        let changed: Vec<_> = ctx
            .state(|s| indexed(&s.input, s.order.status()))
            .into_iter()
            .filter(|(key, value)| current.get(key).as_ref() != Some(value))
            .map(|(key, value)| key.value_set(value))
            .collect();
        if !changed.is_empty() {
            ctx.upsert_search_attributes(changed);
        }
    }
}
