//! What the workflow answers with: the order as callers and the read model see it, and the
//! answer to the customer's place request.

use super::OrderWorkflow;
use baedal_domain::{OrderView, PaymentInfo, Pickup, PlaceOutcome, Placement, RefundView};
use std::time::SystemTime;

/// A workflow time as the order's timestamps write it.
pub(super) fn rfc3339(t: Option<SystemTime>) -> String {
    let t: chrono::DateTime<chrono::Utc> = t.unwrap_or(SystemTime::UNIX_EPOCH).into();
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl OrderWorkflow {
    pub(super) fn view(&self) -> OrderView {
        let i = &self.input;
        let o = &self.order;
        OrderView {
            id: i.order_id.clone(),
            status: o.status(),
            customer_id: i.customer_id.clone(),
            store_id: i.store_id.clone(),
            store_name: i.store_name.clone(),
            region: i.delivery.region.clone(),
            items: i.items.clone(),
            total: i.total,
            delivery: i.delivery.clone(),
            pickup: Pickup {
                store_name: i.store_name.clone(),
                lat: i.store_lat,
                lon: i.store_lon,
            },
            payment: o.payment().cloned().unwrap_or(PaymentInfo {
                id: String::new(),
                status: "pending".into(),
                amount: i.total,
            }),
            refund: match o.refund() {
                Some(r) => Some(r.clone().into()),
                None if o.refund_pending() => Some(RefundView::pending(i.total)),
                None => None,
            },
            rider_id: o.rider_id().map(str::to_owned),
            history: o.history().to_vec(),
            created_at: self.created_at.clone(),
            updated_at: o.updated_at().to_owned(),
            seq: o.history().len() as u32,
            version: o.version(),
            search_radius_bonus_km: o.radius_bonus_km(),
            personal_data_erased_at: None,
        }
    }

    /// The answer to the customer's place request, once there is one.
    pub(super) fn place_outcome(&self) -> Option<PlaceOutcome> {
        match self.order.placement() {
            Placement::Charging => None,
            Placement::Established if self.projected_version == 0 => None,
            Placement::Established => Some(PlaceOutcome::Placed {
                order: Box::new(self.view()),
            }),
            _ => self
                .order
                .place_failure()
                .map(|failure| PlaceOutcome::Failed { failure }),
        }
    }
}
