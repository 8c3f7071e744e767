//! What each party sees of an order, while it needs it: the one projection every route and
//! live stream of the api answers an order with ([`order_for`]), so a field of
//! [`OrderView`] reaches a party only when this module says so.
//!
//! - **Customers** see their order, the delivery address they gave, and the rider as a display
//!   name with the rider's position in the arrival estimate; never the rider's internal id.
//! - **Store owners** see the order they cook: its items, total, status and history, the rider
//!   as a display name; never the customer's id or the rider's position (the estimate comes
//!   without it), and the delivery address only until the order is delivered (or closed
//!   without a delivery): a store prints the address on the bag, it has no use for it after.
//! - **Ops** see everything.
//! - **Riders** never see an order: they see deliveries (`baedal_domain::DeliveryCard` on the
//!   board, `baedal_domain::DeliveryView` for the one they carry, with the address only while
//!   it is theirs to bring).
//!
//! Before this, every party got the whole view: a store owner kept the customer's id, exact
//! address and the rider's live position for good.

use baedal_auth::Role;
use baedal_domain::{
    DeliveryAddress, HistoryEntry, LineItem, OrderStatus, OrderView, PaymentInfo, Pickup,
    RefundView,
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// Who looks at an order through the api's order routes and streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Customer,
    StoreOwner,
    Ops,
}

impl Viewer {
    /// The viewer of a caller of `role`; riders have no order view (`None`).
    pub fn of(role: Role) -> Option<Self> {
        match role {
            Role::Customer => Some(Self::Customer),
            Role::StoreOwner => Some(Self::StoreOwner),
            Role::Ops => Some(Self::Ops),
            Role::Rider => None,
        }
    }
}

/// The rider as customers and stores know them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RiderBrief {
    /// A name to tell the rider by (`라이더 7F3A`), the same for one order's rider and different
    /// across orders: it names nobody beyond the order.
    pub display_name: String,
}

/// An order as one party sees it. Every field marked "only" is left out for the others.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderForRole {
    pub id: String,
    #[schema(value_type = String)]
    pub status: OrderStatus,
    /// The customer and ops only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub store_id: String,
    pub store_name: String,
    pub region: String,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<LineItem>,
    pub total: i64,
    /// `{address, region, lat, lon}`: the customer and ops; the store owner until the order is
    /// delivered or closed.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryAddress>,
    #[schema(value_type = Object)]
    pub pickup: Pickup,
    #[schema(value_type = Object)]
    pub payment: PaymentInfo,
    #[schema(value_type = Option<Object>)]
    pub refund: Option<RefundView>,
    /// Ops only: the rider's internal id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rider_id: Option<String>,
    /// Once a rider has the delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rider: Option<RiderBrief>,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<HistoryEntry>,
    pub created_at: String,
    pub updated_at: String,
    pub seq: u32,
    pub version: u32,
    pub search_radius_bonus_km: f64,
    /// While a rider is on the way: `{minutes, arrive_by, basis, rider_location?}`;
    /// `rider_location` for the customer and ops only.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<Value>,
    /// When a closed order's personal data (address, coordinates) was erased, past
    /// BAEDAL_PERSONAL_DATA_RETENTION (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_data_erased_at: Option<String>,
}

/// The display name of `order_id`'s rider `rider_id`: a digest of both, so it tells one
/// order's rider apart (a rider handed over is another name) without naming the rider's id.
pub fn rider_display_name(order_id: &str, rider_id: &str) -> String {
    let digest = Sha256::digest(format!("baedal rider display name\n{order_id}\n{rider_id}"));
    format!("라이더 {}", hex::encode_upper(&digest[..2]))
}

/// Whether the order still goes to the door: the store owner keeps its address until then.
fn still_to_deliver(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Placed
            | OrderStatus::Accepted
            | OrderStatus::Cooking
            | OrderStatus::ReadyForPickup
            | OrderStatus::RiderAssigned
            | OrderStatus::PickedUp
    )
}

/// `o` as `viewer` sees it, with the arrival estimate `eta` (see `crate::eta`) when a rider is
/// on the way.
pub fn order_for(viewer: Viewer, o: &OrderView, eta: Option<Value>) -> OrderForRole {
    let ops = viewer == Viewer::Ops;
    let store = viewer == Viewer::StoreOwner;
    let eta = eta.map(|e| eta_for(viewer, e));
    OrderForRole {
        id: o.id.clone(),
        status: o.status,
        customer_id: (!store).then(|| o.customer_id.clone()),
        store_id: o.store_id.clone(),
        store_name: o.store_name.clone(),
        region: o.region.clone(),
        items: o.items.clone(),
        total: o.total,
        delivery: (!store || still_to_deliver(o.status)).then(|| o.delivery.clone()),
        pickup: o.pickup.clone(),
        payment: o.payment.clone(),
        refund: o.refund.clone(),
        rider_id: o.rider_id.clone().filter(|_| ops),
        rider: o.rider_id.as_deref().map(|r| RiderBrief {
            display_name: rider_display_name(&o.id, r),
        }),
        history: o.history.clone(),
        created_at: o.created_at.clone(),
        updated_at: o.updated_at.clone(),
        seq: o.seq,
        version: o.version,
        search_radius_bonus_km: o.search_radius_bonus_km,
        eta,
        personal_data_erased_at: o.personal_data_erased_at.clone(),
    }
}

/// The arrival estimate `eta` (`crate::eta`) as `viewer` sees it: without the rider's position
/// for a store owner.
pub fn eta_for(viewer: Viewer, mut eta: Value) -> Value {
    if viewer == Viewer::StoreOwner
        && let Some(e) = eta.as_object_mut()
    {
        e.remove("rider_location");
    }
    eta
}

/// [`order_for`] of each of `orders`, without estimates (as the lists answer).
pub fn orders_for(viewer: Viewer, orders: &[OrderView]) -> Vec<OrderForRole> {
    orders.iter().map(|o| order_for(viewer, o, None)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(status: &str, rider: Option<&str>) -> OrderView {
        serde_json::from_value(json!({
            "id": "ord_1", "status": status, "customer_id": "cust_secret", "store_id": "st_1",
            "store_name": "s", "region": "gangnam", "items": [], "total": 9000,
            "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.5, "lon": 127.0},
            "pickup": {"store_name": "s", "lat": 37.5, "lon": 127.0},
            "payment": {"id": "pay_1", "status": "succeeded", "amount": 9000},
            "refund": null, "rider_id": rider, "history": [],
            "created_at": "t", "updated_at": "t", "seq": 1, "version": 1,
            "search_radius_bonus_km": 0.0
        }))
        .unwrap()
    }

    fn eta() -> Option<Value> {
        Some(json!({"minutes": 5, "basis": "rider_location",
            "rider_location": {"lat": 37.51, "lon": 127.01, "at": "t"}}))
    }

    #[test]
    fn each_party_sees_what_it_needs_while_it_needs_it() {
        let on_the_way = view("picked_up", Some("rider_secret"));
        let as_json = |v: Viewer, o: &OrderView| {
            serde_json::to_value(order_for(v, o, eta()))
                .unwrap()
                .to_string()
        };
        // Ops: everything.
        let ops = as_json(Viewer::Ops, &on_the_way);
        for field in ["cust_secret", "rider_secret", "테헤란로", "rider_location"] {
            assert!(ops.contains(field), "{field}: {ops}");
        }
        // The customer: the rider's name and position, not the rider's id.
        let customer = as_json(Viewer::Customer, &on_the_way);
        assert!(!customer.contains("rider_secret"), "{customer}");
        for field in ["테헤란로", "rider_location", "display_name", "라이더 "] {
            assert!(customer.contains(field), "{field}: {customer}");
        }
        // The store: the address while it is still to deliver; never the customer's id, the
        // rider's id or position.
        let store = as_json(Viewer::StoreOwner, &on_the_way);
        assert!(store.contains("테헤란로") && store.contains("display_name"));
        for field in [
            "cust_secret",
            "rider_secret",
            "\"rider_location\":",
            "customer_id",
        ] {
            assert!(!store.contains(field), "{field}: {store}");
        }
        for closed in ["delivered", "completed", "canceled", "rejected"] {
            let store = as_json(Viewer::StoreOwner, &view(closed, Some("rider_secret")));
            assert!(!store.contains("테헤란로"), "{closed}: {store}");
            assert!(!store.contains("\"delivery\""), "{closed}: {store}");
        }
        // A display name is the same for one order's rider, another for another rider.
        assert_eq!(
            rider_display_name("ord_1", "r1"),
            rider_display_name("ord_1", "r1")
        );
        assert_ne!(
            rider_display_name("ord_1", "r1"),
            rider_display_name("ord_1", "r2")
        );
    }
}
