//! Whether a rider is where their work needs them, and whether an order can be delivered at
//! all: the rules the api applies before a rider's command reaches the order's workflow, and
//! before an order is placed. One place, so the api, its tests and the docs cannot disagree.
//!
//! Why: a rider is paid per delivery and the board shows only what is near, so a rider far
//! away has a reason to claim by id what they cannot reach, and a phone's reported position is
//! the only evidence of where a rider is. These rules cannot prove a position true (a phone can
//! lie), but they make a lie cost something: it must be consistent in time (no jump faster than
//! a plausible ride), recent, and near the place the step happens at.
//!
//! Pure: the caller passes the clock's reading (`now_ms`, the server's clock, never the
//! client's) and what the read model holds.

use crate::delivery;
use crate::geo::distance_km;
use serde::{Deserialize, Serialize};

/// The thresholds, each a setting (`BAEDAL_RIDER_*`, `BAEDAL_DELIVERY_RADIUS`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plausibility {
    /// A claim, pickup or deliver needs a position reported at most this long ago.
    pub position_fresh_ms: u64,
    /// How far from the pickup a rider may claim it: the widest radius a rider's board may
    /// search (`radius_km` of `GET /v1/rider/deliveries`, at most 50), plus the order's own
    /// widened search.
    pub claim_radius_km: f64,
    /// How many deliveries (claimed or picked up) one rider may carry at once.
    pub max_active: u32,
    /// Reports implying a faster ride than this are refused.
    pub max_speed_kmh: f64,
    /// A pickup needs the rider this close to the store.
    pub at_store_m: f64,
    /// A deliver needs the rider this close to the delivery point.
    pub at_door_m: f64,
    /// A store's delivery area when the catalog gives it none.
    pub delivery_radius_km: f64,
}

/// The widest `radius_km` a rider's board takes (`GET /v1/rider/deliveries`).
pub const MAX_BOARD_RADIUS_KM: f64 = 50.0;

/// A jump this short is never called implausible, however quick: a phone's fix wanders by tens
/// of metres between readings and by a few hundred in a street of tall buildings or when it
/// switches from GPS to the cell network. Larger jumps must fit `max_speed_kmh`.
pub const JUMP_TOLERANCE_M: f64 = 500.0;

impl Default for Plausibility {
    fn default() -> Self {
        Self {
            position_fresh_ms: 2 * 60 * 1000,
            claim_radius_km: MAX_BOARD_RADIUS_KM,
            max_active: 2,
            max_speed_kmh: 150.0,
            at_store_m: 200.0,
            at_door_m: 200.0,
            delivery_radius_km: 3.0,
        }
    }
}

/// A reported position and when the server received it (ms since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub lat: f64,
    pub lon: f64,
    pub at_ms: i64,
}

/// Why a rider's report or step was refused; [`RiderRefusal::code`] is the api's error code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RiderRefusal {
    /// No position reported within `position_fresh_ms`.
    PositionUnknown,
    /// The pickup is further than the claim radius (`km` away).
    TooFar { km: f64 },
    /// The rider already carries `max` deliveries.
    TooManyActive { max: u32 },
    /// The report implies a ride at `kmh`.
    ImplausibleSpeed { kmh: f64 },
    /// The rider is `m` metres from the store.
    NotAtStore { m: f64 },
    /// The rider is `m` metres from the delivery point.
    NotAtDoor { m: f64 },
}

impl RiderRefusal {
    /// The stable error code (`too_far` is the contract's name, DESIGN.md "Abuse").
    pub fn code(&self) -> &'static str {
        match self {
            Self::PositionUnknown => "rider_position_unknown",
            Self::TooFar { .. } => "too_far",
            Self::TooManyActive { .. } => "rider_too_many_active",
            Self::ImplausibleSpeed { .. } => "implausible_speed",
            Self::NotAtStore { .. } => "rider_not_at_store",
            Self::NotAtDoor { .. } => "rider_not_at_door",
        }
    }
}

impl std::fmt::Display for RiderRefusal {
    /// What the rider should do next.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PositionUnknown => write!(
                f,
                "no recent position from you: report where you are (POST /v1/rider/location), then try again"
            ),
            Self::TooFar { km } => write!(
                f,
                "the pickup is {km:.1} km from your last reported position: claim deliveries your board shows near you"
            ),
            Self::TooManyActive { max } => write!(
                f,
                "you carry {max} deliveries already: deliver one before claiming another"
            ),
            Self::ImplausibleSpeed { kmh } => write!(
                f,
                "this position is {kmh:.0} km/h from your last one: report where you really are"
            ),
            Self::NotAtStore { m } => write!(
                f,
                "you are {m:.0} m from the store: report your position at the store, then pick up"
            ),
            Self::NotAtDoor { m } => write!(
                f,
                "you are {m:.0} m from the delivery point: report your position there, then deliver"
            ),
        }
    }
}

impl Plausibility {
    /// A new report, against the rider's last one: refused when reaching it would take a ride
    /// faster than `max_speed_kmh` (beyond [`JUMP_TOLERANCE_M`]).
    pub fn check_report(&self, last: Option<&Fix>, new: &Fix) -> Result<(), RiderRefusal> {
        let Some(last) = last else { return Ok(()) };
        let km = distance_km(last.lat, last.lon, new.lat, new.lon);
        if km * 1000.0 <= JUMP_TOLERANCE_M {
            return Ok(());
        }
        // A report older than the last one's clock (clocks of two api replicas) counts as
        // simultaneous: the jump must still be explained by the time, which is none.
        let hours = (new.at_ms - last.at_ms).max(0) as f64 / 3_600_000.0;
        let reachable = self.max_speed_kmh * hours + JUMP_TOLERANCE_M / 1000.0;
        if km > reachable {
            let kmh = if hours > 0.0 {
                km / hours
            } else {
                f64::INFINITY
            };
            return Err(RiderRefusal::ImplausibleSpeed { kmh });
        }
        Ok(())
    }

    /// The rider's position if it is recent enough at `now_ms`.
    fn fresh<'a>(&self, fix: Option<&'a Fix>, now_ms: i64) -> Result<&'a Fix, RiderRefusal> {
        fix.filter(|f| now_ms.saturating_sub(f.at_ms) <= self.position_fresh_ms as i64)
            .ok_or(RiderRefusal::PositionUnknown)
    }

    /// A claim of a delivery picked up at `pickup` whose search was widened by `bonus_km`, by a
    /// rider last seen at `fix` carrying `active` deliveries.
    pub fn check_claim(
        &self,
        fix: Option<&Fix>,
        now_ms: i64,
        (pickup, bonus_km): ((f64, f64), f64),
        active: usize,
    ) -> Result<(), RiderRefusal> {
        if active >= self.max_active as usize {
            return Err(RiderRefusal::TooManyActive {
                max: self.max_active,
            });
        }
        let fix = self.fresh(fix, now_ms)?;
        let km = distance_km(fix.lat, fix.lon, pickup.0, pickup.1);
        if km > delivery::reach_km(self.claim_radius_km, bonus_km) {
            return Err(RiderRefusal::TooFar { km });
        }
        Ok(())
    }

    /// A pickup at the store at `store`: the rider is there.
    pub fn check_pickup(
        &self,
        fix: Option<&Fix>,
        now_ms: i64,
        store: (f64, f64),
    ) -> Result<(), RiderRefusal> {
        let fix = self.fresh(fix, now_ms)?;
        let m = distance_km(fix.lat, fix.lon, store.0, store.1) * 1000.0;
        if m > self.at_store_m {
            return Err(RiderRefusal::NotAtStore { m });
        }
        Ok(())
    }

    /// A deliver at the delivery point `door`: the rider is there.
    pub fn check_deliver(
        &self,
        fix: Option<&Fix>,
        now_ms: i64,
        door: (f64, f64),
    ) -> Result<(), RiderRefusal> {
        let fix = self.fresh(fix, now_ms)?;
        let m = distance_km(fix.lat, fix.lon, door.0, door.1) * 1000.0;
        if m > self.at_door_m {
            return Err(RiderRefusal::NotAtDoor { m });
        }
        Ok(())
    }

    /// Whether a store at `store` with the catalog's `radius_km` (or, without one, the
    /// default) delivers to `door`.
    pub fn deliverable(&self, store: (f64, f64), radius_km: Option<f64>, door: (f64, f64)) -> bool {
        let radius = radius_km
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(self.delivery_radius_km);
        distance_km(store.0, store.1, door.0, door.1) <= radius
    }
}

/// The district a delivery point belongs to, derived from its coordinates, never taken from
/// the client: the district of the nearest of `places` (`(district, lat, lon)`, the catalog's
/// stores around the point). `None` when there are none.
///
/// Coarse on purpose: baedal has no district boundaries, and the catalog's stores are where
/// its districts are served. A point near a border may be labelled with its neighbour, which
/// changes only which riders' `region=` filter shows it, never who can claim it.
pub fn district_of<'a>(
    lat: f64,
    lon: f64,
    places: impl IntoIterator<Item = (&'a str, f64, f64)>,
) -> Option<&'a str> {
    places
        .into_iter()
        .map(|(d, plat, plon)| (d, distance_km(lat, lon, plat, plon)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GANGNAM: (f64, f64) = (37.4979, 127.0276);
    const JEJU: (f64, f64) = (33.4996, 126.5312);
    const NEW_YORK: (f64, f64) = (40.7128, -74.0060);
    const DOOR: (f64, f64) = (37.4990, 127.0300);

    fn fix((lat, lon): (f64, f64), at_ms: i64) -> Fix {
        Fix { lat, lon, at_ms }
    }

    /// A Gangnam pickup, its search not widened.
    fn order() -> ((f64, f64), f64) {
        (GANGNAM, 0.0)
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_rider_in_jeju_cannot_claim_a_gangnam_pickup() {
        let p = Plausibility::default();
        let at_jeju = fix(JEJU, NOW - 1000);
        let e = p.check_claim(Some(&at_jeju), NOW, order(), 0).unwrap_err();
        assert_eq!(e.code(), "too_far");
        let at_gangnam = fix((37.51, 127.03), NOW - 1000);
        assert_eq!(p.check_claim(Some(&at_gangnam), NOW, order(), 0), Ok(()));
    }

    #[test]
    fn a_claim_needs_a_recent_position_and_a_free_hand() {
        let p = Plausibility::default();
        let stale = fix(GANGNAM, NOW - p.position_fresh_ms as i64 - 1);
        assert_eq!(
            p.check_claim(Some(&stale), NOW, order(), 0),
            Err(RiderRefusal::PositionUnknown)
        );
        assert_eq!(
            p.check_claim(None, NOW, order(), 0),
            Err(RiderRefusal::PositionUnknown)
        );
        let here = fix(GANGNAM, NOW);
        assert_eq!(
            p.check_claim(Some(&here), NOW, order(), 2)
                .unwrap_err()
                .code(),
            "rider_too_many_active"
        );
        assert_eq!(p.check_claim(Some(&here), NOW, order(), 1), Ok(()));
    }

    #[test]
    fn a_widened_search_reaches_further() {
        let p = Plausibility {
            claim_radius_km: 3.0,
            ..Plausibility::default()
        };
        // About 4.4 km north of the store.
        let rider = fix((GANGNAM.0 + 0.04, GANGNAM.1), NOW);
        assert!(p.check_claim(Some(&rider), NOW, (GANGNAM, 0.0), 0).is_err());
        assert_eq!(p.check_claim(Some(&rider), NOW, (GANGNAM, 2.0), 0), Ok(()));
    }

    #[test]
    fn seoul_to_new_york_in_a_second_is_implausible_and_a_ride_is_not() {
        let p = Plausibility::default();
        let seoul = fix(GANGNAM, NOW);
        let e = p
            .check_report(Some(&seoul), &fix(NEW_YORK, NOW + 1000))
            .unwrap_err();
        assert_eq!(e.code(), "implausible_speed");
        // 1 km in a minute is 60 km/h.
        let ride = fix((GANGNAM.0 + 0.009, GANGNAM.1), NOW + 60_000);
        assert_eq!(p.check_report(Some(&seoul), &ride), Ok(()));
        // The same kilometre in a second is not, but a fix wandering 300 m is.
        let dash = fix((GANGNAM.0 + 0.009, GANGNAM.1), NOW + 1000);
        assert!(p.check_report(Some(&seoul), &dash).is_err());
        let wander = fix(DOOR, NOW + 10);
        assert_eq!(p.check_report(Some(&seoul), &wander), Ok(()));
        // A first report has nothing to be compared with.
        assert_eq!(p.check_report(None, &fix(NEW_YORK, NOW)), Ok(()));
    }

    #[test]
    fn pickup_at_the_store_and_deliver_at_the_door() {
        let p = Plausibility::default();
        let far = fix(NEW_YORK, NOW);
        assert_eq!(
            p.check_pickup(Some(&far), NOW, GANGNAM).unwrap_err().code(),
            "rider_not_at_store"
        );
        assert_eq!(
            p.check_deliver(Some(&far), NOW, DOOR).unwrap_err().code(),
            "rider_not_at_door"
        );
        assert_eq!(
            p.check_pickup(Some(&fix(GANGNAM, NOW)), NOW, GANGNAM),
            Ok(())
        );
        assert_eq!(p.check_deliver(Some(&fix(DOOR, NOW)), NOW, DOOR), Ok(()));
        // The store is 245 m from the door: neither stands in for the other.
        assert!(
            p.check_deliver(Some(&fix(GANGNAM, NOW)), NOW, DOOR)
                .is_err()
        );
        assert_eq!(
            p.check_pickup(None, NOW, GANGNAM),
            Err(RiderRefusal::PositionUnknown)
        );
    }

    #[test]
    fn a_gangnam_store_does_not_deliver_to_jeju() {
        let p = Plausibility::default();
        assert!(p.deliverable(GANGNAM, None, DOOR));
        assert!(!p.deliverable(GANGNAM, None, JEJU));
        // The catalog's radius wins over the default, and a nonsense one is ignored.
        assert!(!p.deliverable(GANGNAM, Some(0.1), DOOR));
        assert!(p.deliverable(GANGNAM, Some(-1.0), DOOR));
    }

    #[test]
    fn the_district_is_the_nearest_stores() {
        let places = [("gangnam", 37.4979, 127.0276), ("mapo", 37.5572, 126.9245)];
        assert_eq!(district_of(37.499, 127.03, places), Some("gangnam"));
        assert_eq!(district_of(37.556, 126.923, places), Some("mapo"));
        assert_eq!(district_of(37.5, 127.0, []), None);
    }
}
