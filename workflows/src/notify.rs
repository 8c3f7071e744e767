//! Who hears about each transition and each alert, and what they are told.

use baedal_activities::NotifyInput;
use baedal_domain::{OrderBrief, OrderInput, OrderStatus, geo, order};
use std::time::Duration;

/// Notification seq numbers at and above this are escalations to ops, not transitions, so they
/// never collide with a transition's `(order_id, seq)` dedup key.
pub const ESCALATION_SEQ_BASE: u32 = 10_000;

/// Notification seq numbers of "the rider did not pick up in time" (to that rider and ops):
/// `PICKUP_MISSED_SEQ_BASE + <seq of the order's return to the board>`.
pub const PICKUP_MISSED_SEQ_BASE: u32 = 40_000;

/// Notification seq number of "the delivery is overdue" to ops (once per order).
pub const DELIVERY_LATE_SEQ: u32 = 50_000;

/// Notification seq number of "your refund has arrived" (one per order): apart from
/// transitions, escalations (10,000..) and stuck alerts (20,000..).
pub const REFUNDED_SEQ: u32 = 30_000;

/// The `status` of the "refunded" notification: not an order status (the order stays
/// rejected or canceled) but its own message, with its own KakaoTalk template.
pub const REFUNDED: &str = "refunded";

/// The customer's notice that the money owed has been given back.
pub fn refunded(input: &OrderInput, refund: &baedal_domain::PaymentInfo) -> NotifyInput {
    let won = refund.amount;
    NotifyInput {
        order_id: input.order_id.clone(),
        seq: REFUNDED_SEQ,
        recipients: vec![format!("customer:{}", input.customer_id)],
        status: REFUNDED.to_owned(),
        message: format!(
            "[{}] {won}원 환불이 완료되었습니다 / refund of {won} won completed",
            input.store_name
        ),
        store_id: Some(input.store_id.clone()),
        order: Some(OrderBrief {
            total: won,
            ..brief(input, OrderStatus::Canceled)
        }),
    }
}

/// Ops' alert that nobody claimed the delivery within `waited`: the riders' search of an
/// order in `status` widened for the `escalations`-th time, to `radius_bonus_km`.
pub fn escalated(
    input: &OrderInput,
    status: OrderStatus,
    escalations: u32,
    radius_bonus_km: f64,
    waited: Duration,
) -> NotifyInput {
    NotifyInput {
        order_id: input.order_id.clone(),
        seq: ESCALATION_SEQ_BASE + escalations,
        recipients: vec!["ops".to_owned()],
        status: status.as_str().to_owned(),
        message: format!(
            "[{}] no rider claimed within {}s; search radius widened by {} km",
            input.store_name,
            waited.as_secs(),
            radius_bonus_km
        ),
        store_id: None,
        order: None,
    }
}

/// The alert to `rider` and ops that the rider did not pick up within `waited`, so the
/// delivery (now in `status`, its history `entries` long) went back on the board.
pub fn pickup_missed(
    input: &OrderInput,
    rider: &str,
    status: OrderStatus,
    entries: u32,
    waited: Duration,
) -> NotifyInput {
    NotifyInput {
        order_id: input.order_id.clone(),
        seq: PICKUP_MISSED_SEQ_BASE + entries,
        recipients: vec![format!("rider:{rider}"), "ops".to_owned()],
        status: status.as_str().to_owned(),
        message: format!(
            "[{}] 픽업 시간({}분)이 지나 배달이 다른 라이더에게 넘어갔습니다 / rider {rider} did not pick up within {}s: the delivery is back on the board",
            input.store_name,
            waited.as_secs().div_ceil(60),
            waited.as_secs()
        ),
        store_id: None,
        order: None,
    }
}

/// Ops' alert that the food `rider` picked up `waited` ago is not delivered yet.
pub fn delivery_late(
    input: &OrderInput,
    rider: Option<&str>,
    status: OrderStatus,
    waited: Duration,
) -> NotifyInput {
    NotifyInput {
        order_id: input.order_id.clone(),
        seq: DELIVERY_LATE_SEQ,
        recipients: vec!["ops".to_owned()],
        status: status.as_str().to_owned(),
        message: format!(
            "[{}] order {} was picked up by rider {} {}s ago and is not delivered yet: look into it",
            input.store_name,
            input.order_id,
            rider.unwrap_or("?"),
            waited.as_secs()
        ),
        store_id: None,
        order: None,
    }
}

/// Recipients of the notification for reaching `status`.
pub fn recipients(input: &OrderInput, status: OrderStatus, rider: Option<&str>) -> Vec<String> {
    let customer = format!("customer:{}", input.customer_id);
    let store = format!("store:{}", input.store_id);
    let rider = rider.map(|r| format!("rider:{r}"));
    let mut to = vec![customer];
    match status {
        OrderStatus::Placed | OrderStatus::Rejected => to.push(store),
        // An ops cancel can stop an order on the road: the rider carrying it must know.
        OrderStatus::Canceled => {
            to.push(store);
            to.extend(rider);
        }
        OrderStatus::ReadyForPickup => to.push(format!("riders:{}", input.delivery.region)),
        OrderStatus::RiderAssigned | OrderStatus::PickedUp | OrderStatus::Completed => {
            to.push(store);
            to.extend(rider);
        }
        _ => {}
    }
    to
}

/// What a message about reaching `status` names. The ETA is known once the rider has the food:
/// the ride from the store to the door.
pub fn brief(input: &OrderInput, status: OrderStatus) -> OrderBrief {
    let eta_minutes = (status == OrderStatus::PickedUp).then(|| {
        let d = &input.delivery;
        geo::delivery_eta_minutes(geo::distance_km(
            input.store_lat,
            input.store_lon,
            d.lat,
            d.lon,
        ))
    });
    OrderBrief {
        store_name: input.store_name.clone(),
        summary: order::summary(&input.items),
        total: input.total,
        eta_minutes,
    }
}

/// The message text (Korean first, as the app shows it, then English).
pub fn message(input: &OrderInput, status: OrderStatus) -> String {
    let s = &input.store_name;
    match status {
        OrderStatus::Placed => format!("[{s}] 주문이 접수되었습니다 / order placed"),
        OrderStatus::Accepted => {
            format!("[{s}] 가게에서 주문을 수락했습니다 / accepted by the store")
        }
        OrderStatus::Cooking => format!("[{s}] 조리를 시작했습니다 / cooking started"),
        OrderStatus::ReadyForPickup => format!("[{s}] 조리가 끝났습니다 / ready for pickup"),
        OrderStatus::RiderAssigned => format!("[{s}] 라이더가 배정되었습니다 / rider assigned"),
        OrderStatus::PickedUp => format!("[{s}] 라이더가 음식을 픽업했습니다 / picked up"),
        OrderStatus::Delivered => format!("[{s}] 배달이 완료되었습니다 / delivered"),
        OrderStatus::Completed => format!("[{s}] 주문이 완료되었습니다 / order completed"),
        OrderStatus::Rejected => {
            format!(
                "[{s}] 주문이 거절되었습니다. 환불을 진행하고 있습니다 / rejected, refund in progress"
            )
        }
        OrderStatus::Canceled => {
            format!(
                "[{s}] 주문이 취소되었습니다. 환불을 진행하고 있습니다 / canceled, refund in progress"
            )
        }
        OrderStatus::PaymentFailed => format!("[{s}] 결제에 실패했습니다 / payment failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baedal_domain::{DeliveryAddress, Timeouts};

    fn input() -> OrderInput {
        OrderInput {
            version: baedal_domain::WORKFLOW_VERSION,
            order_id: "ord_1".into(),
            customer_id: "c1".into(),
            store_id: "st_1".into(),
            store_name: "s".into(),
            store_lat: 37.5,
            store_lon: 127.0,
            items: vec![],
            total: 1000,
            delivery: DeliveryAddress {
                address: "a".into(),
                region: "gangnam".into(),
                lat: 37.5,
                lon: 127.0,
            },
            card_token: "tok_ok".into(),
            request_hash: "h".into(),
            timeouts: Timeouts {
                store_accept_ms: 1,
                rider_claim_ms: 1,
                auto_confirm_ms: 1,
                payment_retry_ms: 1,
                retry_cap_ms: 1,
                pickup_deadline_ms: None,
                delivery_deadline_ms: None,
            },
        }
    }

    #[test]
    fn a_cancel_reaches_customer_store_and_the_rider_carrying_it() {
        let on_the_road = recipients(&input(), OrderStatus::Canceled, Some("r1"));
        assert_eq!(on_the_road, ["customer:c1", "store:st_1", "rider:r1"]);
        let before_pickup = recipients(&input(), OrderStatus::Canceled, None);
        assert_eq!(before_pickup, ["customer:c1", "store:st_1"]);
    }
}
