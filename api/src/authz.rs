//! Object-level authorization: which orders a caller may see. The role check is the
//! caller's ([`Caller::require`]); this is the check against the order itself.

use crate::commands::engine_view;
use crate::door_keeping::waiting_on;
use crate::error::{ApiResult, order_not_found};
use crate::extract::Caller;
use crate::state::AppState;
use baedal_auth::Role;
use baedal_domain::OrderView;
use baedal_domain::delivery::assigned_to;

/// The order if `caller` may see it; otherwise the same 404 as for an order that does not exist.
pub async fn visible_order(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderView> {
    tracing::Span::current().record("order_id", id);
    waiting_on("the read model");
    let order = state
        .read_model
        .get_order(id)
        .await?
        .ok_or_else(order_not_found)?;
    let visible = match caller.role() {
        Role::Customer => order.customer_id == caller.id(),
        Role::StoreOwner => caller.0.store_id.as_deref() == Some(order.store_id.as_str()),
        // Riders see deliveries, not orders: only through the rider endpoints, as
        // DeliveryCard/DeliveryView, and only the one they carry.
        Role::Rider => assigned_to(&order, caller.id()),
        Role::Ops => true,
    };
    if visible {
        return Ok(order);
    }
    // A rider's claim went through but the projection has not landed yet (say the api died
    // before answering and the rider retried at once): the engine knows the delivery is theirs.
    if caller.role() == Role::Rider
        && let Some(now) = engine_view(state, id).await
        && assigned_to(&now, caller.id())
    {
        return Ok(now);
    }
    Err(order_not_found())
}
