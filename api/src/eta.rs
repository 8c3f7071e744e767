//! The arrival estimate a status read and an order's live stream add while a rider has the
//! delivery, from the rider's last reported position (see `baedal_domain::eta`).

use baedal_domain::OrderView;
use baedal_domain::eta::{self, EtaBasis, RiderFix};
use baedal_readmodel::RiderLocation;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The `eta` object for `view` at `now`, given where its rider last said they were:
/// `{"minutes", "arrive_by", "basis", "rider_location"?}` (see `baedal_domain::eta`). `None`
/// unless a rider is on the way.
pub fn eta_of(
    view: &OrderView,
    location: Option<&RiderLocation>,
    now: DateTime<Utc>,
) -> Option<Value> {
    let secs = |at: &str| DateTime::parse_from_rfc3339(at).ok().map(|t| t.timestamp());
    let fix = location.and_then(|l| {
        Some(RiderFix {
            lat: l.lat,
            lon: l.lon,
            at: secs(&l.at)?,
        })
    });
    let since = view
        .history
        .last()
        .and_then(|h| secs(&h.at))
        .unwrap_or(now.timestamp());
    let e = eta::estimate(view, fix, since, now.timestamp())?;
    let arrive_by = DateTime::<Utc>::from_timestamp(e.arrive_by, 0)
        .unwrap_or(now)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut estimate = json!({
        "minutes": e.minutes_left(now.timestamp()),
        "arrive_by": arrive_by,
        "basis": e.basis,
    });
    if e.basis == EtaBasis::RiderLocation
        && let Some(l) = location
    {
        estimate["rider_location"] = json!({"lat": l.lat, "lon": l.lon, "at": l.at});
    }
    Some(estimate)
}
