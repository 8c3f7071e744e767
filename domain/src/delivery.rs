//! What riders see of an order. A rider deciding whether to take a delivery needs the pickup,
//! how far it is, the district it goes to and what it pays, and nothing about the customer; the
//! rider who took it needs, in addition, where to bring it. These types are the only shapes of
//! an order the rider endpoints answer with, so a field added to [`OrderView`] never leaks to
//! riders by accident.

use crate::{DeliveryAddress, OrderStatus, OrderView, Pickup};
use serde::{Deserialize, Serialize};

/// A delivery on the rider board: no customer id, delivery address, payment or history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryCard {
    pub id: String,
    pub status: OrderStatus,
    pub store_id: String,
    pub pickup: Pickup,
    /// Kilometres from the rider to the pickup.
    pub distance_km: f64,
    /// The district the delivery goes to.
    pub region: String,
    pub total: i64,
    /// When it became ready (its last change).
    pub updated_at: String,
}

impl DeliveryCard {
    pub fn new(order: &OrderView, distance_km: f64) -> Self {
        Self {
            id: order.id.clone(),
            status: order.status,
            store_id: order.store_id.clone(),
            pickup: order.pickup.clone(),
            distance_km,
            region: order.region.clone(),
            total: order.total,
            updated_at: order.updated_at.clone(),
        }
    }
}

/// A delivery as its assigned rider sees it: the pickup and, while they are to bring it (claimed
/// or picked up), where to. Still no customer id, payment or history; once delivered (or taken
/// off them) the address is gone from it: a rider has no use for a customer's door after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub status: OrderStatus,
    pub store_id: String,
    pub pickup: Pickup,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryAddress>,
    pub region: String,
    pub total: i64,
    pub rider_id: Option<String>,
    pub updated_at: String,
}

impl DeliveryView {
    pub fn new(order: &OrderView) -> Self {
        Self {
            id: order.id.clone(),
            status: order.status,
            store_id: order.store_id.clone(),
            pickup: order.pickup.clone(),
            delivery: matches!(
                order.status,
                OrderStatus::RiderAssigned | OrderStatus::PickedUp
            )
            .then(|| order.delivery.clone()),
            region: order.region.clone(),
            total: order.total,
            rider_id: order.rider_id.clone(),
            updated_at: order.updated_at.clone(),
        }
    }
}

/// What `rider` may see of `order`: the assigned rider the delivery, any rider a ready
/// delivery nobody has claimed (as a board card, through the board), nobody else anything.
pub fn assigned_to(order: &OrderView, rider: &str) -> bool {
    order.rider_id.as_deref() == Some(rider)
}

/// Whether the order is on the board for every rider to claim.
pub fn on_the_board(order: &OrderView) -> bool {
    order.rider_id.is_none() && order.status == OrderStatus::ReadyForPickup
}

/// The furthest an order's search for a rider ever widens beyond each rider's own radius: the
/// claim timer's steps ([`crate::state::RADIUS_STEP_KM`] each, at most
/// [`crate::state::MAX_ESCALATIONS`]). The rider board's index query reaches this far.
pub const MAX_RADIUS_BONUS_KM: f64 =
    crate::state::RADIUS_STEP_KM * crate::state::MAX_ESCALATIONS as f64;

/// How far from a rider searching `radius_km` a delivery whose search was widened by
/// `bonus_km` is offered.
pub fn reach_km(radius_km: f64, bonus_km: f64) -> f64 {
    radius_km + bonus_km.clamp(0.0, MAX_RADIUS_BONUS_KM)
}

/// The distance (km, to the metre) at which `order` is offered to a rider at `lat`/`lon`
/// searching `radius_km`, or `None` when it is out of reach. The one rule the board and the
/// riders' live stream share.
pub fn offered_at(order: &OrderView, lat: f64, lon: f64, radius_km: f64) -> Option<f64> {
    let d = crate::geo::distance_km(lat, lon, order.pickup.lat, order.pickup.lon);
    (d <= reach_km(radius_km, order.search_radius_bonus_km)).then(|| (d * 1000.0).round() / 1000.0)
}
