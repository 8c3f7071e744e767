//! When the food should be at the door, while a rider has the delivery: from where the rider
//! last said they were (`POST /v1/rider/location`), or, without a recent position, from the
//! pickup. Times are whole seconds since the Unix epoch, passed in: this crate reads no clock.

use crate::geo::{delivery_eta_minutes, distance_km};
use crate::{OrderStatus, OrderView};
use serde::{Deserialize, Serialize};

/// A rider's position older than this no longer says where they are (a phone in a tunnel, an
/// app in the background): the estimate falls back to the pickup.
pub const FIX_FRESH_FOR_SECS: i64 = 300;

/// Where a rider said they were, and when (the api's clock at the report).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiderFix {
    pub lat: f64,
    pub lon: f64,
    pub at: i64,
}

/// What an estimate starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtaBasis {
    /// The rider's position, reported in the last [`FIX_FRESH_FOR_SECS`].
    RiderLocation,
    /// The pickup: the ride from the store, counted from the pickup once the rider has the
    /// food, or from now while they are still on their way to the store.
    Pickup,
}

/// An arrival estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eta {
    /// When the rider should be at the door (seconds since the epoch).
    pub arrive_by: i64,
    pub basis: EtaBasis,
    /// The position it was made from, when [`EtaBasis::RiderLocation`].
    pub fix: Option<RiderFix>,
}

impl Eta {
    /// Minutes left at `now`, rounded up; at least 1 while the rider is still on the way (a
    /// late rider is "about a minute", never "0 minutes" or negative).
    pub fn minutes_left(&self, now: i64) -> u32 {
        let secs = (self.arrive_by - now).max(0);
        (((secs + 59) / 60) as u32).max(1)
    }
}

/// Whether a rider is on the way with (or to fetch) `status`'s order: the statuses a rider's
/// position is kept for and an estimate is given in.
pub fn en_route(status: OrderStatus) -> bool {
    matches!(status, OrderStatus::RiderAssigned | OrderStatus::PickedUp)
}

/// The estimate for `order` at `now`, given the rider's last `fix` and when the order reached
/// its current status (`status_since`). `None` unless a rider is [`en_route`].
///
/// With a fresh fix: a rider still going to the store rides there and then to the door; one
/// with the food rides to the door; the clock starts at the fix. Without one: once picked up,
/// the ride from the store counted from the pickup; before, the ride from the store counted
/// from now (the leg to the store unknown). Every ride is [`delivery_eta_minutes`]: the city
/// speed, the handover, rounded up.
pub fn estimate(
    order: &OrderView,
    fix: Option<RiderFix>,
    status_since: i64,
    now: i64,
) -> Option<Eta> {
    if !en_route(order.status) {
        return None;
    }
    let (pickup, door) = (&order.pickup, &order.delivery);
    let store_to_door = distance_km(pickup.lat, pickup.lon, door.lat, door.lon);
    let fresh = fix.filter(|f| now - f.at <= FIX_FRESH_FOR_SECS && f.at <= now + 60);
    let minutes_after = |from: i64, km: f64| from + i64::from(delivery_eta_minutes(km)) * 60;
    Some(match fresh {
        Some(f) => {
            let km = match order.status {
                OrderStatus::PickedUp => distance_km(f.lat, f.lon, door.lat, door.lon),
                _ => distance_km(f.lat, f.lon, pickup.lat, pickup.lon) + store_to_door,
            };
            Eta {
                arrive_by: minutes_after(f.at, km),
                basis: EtaBasis::RiderLocation,
                fix: Some(f),
            }
        }
        None => {
            let from = match order.status {
                OrderStatus::PickedUp => status_since,
                _ => now,
            };
            Eta {
                arrive_by: minutes_after(from, store_to_door),
                basis: EtaBasis::Pickup,
                fix: None,
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::order::{DeliveryAddress, PaymentInfo, Pickup};

    /// Store at Gangnam station, door 9 km away at Seoul City Hall (39 minutes with the
    /// handover, see geo). Other modules' tests borrow it as a whole order view.
    pub(crate) fn order(status: OrderStatus) -> OrderView {
        OrderView {
            id: "ord_1".into(),
            status,
            customer_id: "c".into(),
            store_id: "st_1".into(),
            store_name: "s".into(),
            region: "jung".into(),
            items: vec![],
            total: 1,
            delivery: DeliveryAddress {
                address: "a".into(),
                region: "jung".into(),
                lat: 37.5663,
                lon: 126.9779,
            },
            pickup: Pickup {
                store_name: "s".into(),
                lat: 37.4979,
                lon: 127.0276,
            },
            payment: PaymentInfo {
                id: "p".into(),
                status: "succeeded".into(),
                amount: 1,
            },
            refund: None,
            rider_id: Some("r".into()),
            history: vec![],
            created_at: String::new(),
            updated_at: String::new(),
            seq: 1,
            version: 1,
            search_radius_bonus_km: 0.0,
            personal_data_erased_at: None,
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn no_estimate_unless_a_rider_is_on_the_way() {
        for s in OrderStatus::ALL {
            let e = estimate(&order(s), None, NOW, NOW);
            assert_eq!(e.is_some(), en_route(s), "{s:?}");
        }
    }

    #[test]
    fn a_fresh_fix_beside_the_door_is_the_minimum_from_the_fix() {
        let fix = RiderFix {
            lat: 37.5663,
            lon: 126.9779,
            at: NOW - 60,
        };
        let e = estimate(&order(OrderStatus::PickedUp), Some(fix), NOW - 600, NOW).unwrap();
        assert_eq!(e.basis, EtaBasis::RiderLocation);
        assert_eq!(e.fix, Some(fix));
        // 5 minutes (the floor) from the fix a minute ago: 4 left.
        assert_eq!(e.arrive_by, fix.at + 5 * 60);
        assert_eq!(e.minutes_left(NOW), 4);
    }

    #[test]
    fn a_rider_going_to_the_store_rides_there_first() {
        // At the door already, but without the food: door → store → door, 18 km: 72 + 3 min.
        let fix = RiderFix {
            lat: 37.5663,
            lon: 126.9779,
            at: NOW,
        };
        let at_door = estimate(&order(OrderStatus::RiderAssigned), Some(fix), NOW, NOW).unwrap();
        let picked = estimate(&order(OrderStatus::PickedUp), Some(fix), NOW, NOW).unwrap();
        assert!(
            (74..=76).contains(&at_door.minutes_left(NOW)),
            "{at_door:?}"
        );
        assert_eq!(picked.minutes_left(NOW), 5);
    }

    #[test]
    fn a_stale_fix_falls_back_to_the_pickup_counted_from_when_it_happened() {
        let old = RiderFix {
            lat: 37.5663,
            lon: 126.9779,
            at: NOW - FIX_FRESH_FOR_SECS - 1,
        };
        let picked_at = NOW - 10 * 60;
        let e = estimate(&order(OrderStatus::PickedUp), Some(old), picked_at, NOW).unwrap();
        assert_eq!(e.basis, EtaBasis::Pickup);
        assert_eq!(e.fix, None);
        // 39 minutes from the pickup ten minutes ago.
        assert_eq!(e.arrive_by, picked_at + 39 * 60);
        assert_eq!(e.minutes_left(NOW), 29);
        // Before the pickup: the same ride, from now.
        let e = estimate(&order(OrderStatus::RiderAssigned), None, picked_at, NOW).unwrap();
        assert_eq!(e.minutes_left(NOW), 39);
    }

    #[test]
    fn a_late_rider_is_about_a_minute_away_never_zero() {
        let e = estimate(&order(OrderStatus::PickedUp), None, NOW - 3 * 3600, NOW).unwrap();
        assert_eq!(e.minutes_left(NOW), 1);
    }
}
