//! Riders' positions and the arrival estimate they feed: `POST /v1/rider/location` from a rider
//! on the way, and the `eta` a status read adds while a rider has the delivery.
//!
//! A position is a report, not an order change: it goes straight to the read model's
//! `rider_locations` (one row per rider, overwritten), never to the order's workflow, whose
//! history would otherwise grow by an event every few seconds of every ride.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use axum::Json;
use axum::extract::State;
use baedal_auth::Role;
use baedal_domain::eta::{self, EtaBasis, RiderFix};
use baedal_domain::{OrderView, geo};
use baedal_readmodel::{OrderDocument, RiderLocation};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Where the rider is now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

/// Report the caller's position while they have a delivery (claimed or picked up): it feeds
/// the arrival estimate its customer and store see. Without one, nothing is kept (409).
#[utoipa::path(post, path = "/v1/rider/location", request_body = Position,
    responses((status = 200, description = "{lat, lon, at, deliveries: [{id, status}]}: kept, for these deliveries"),
        (status = 403, description = "not a rider"),
        (status = 409, description = "`not_on_a_delivery`: no claimed or picked-up delivery"),
        (status = 422, description = "`invalid_coordinates`")))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(p): ApiJson<Position>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Rider)?;
    if !geo::valid_coordinate(p.lat, p.lon) {
        return Err(ApiError::unprocessable(
            "invalid_coordinates",
            "lat must be within -90..90 and lon within -180..180",
        ));
    }
    crate::door_keeping::waiting_on("the read model");
    let deliveries = state.read_model.deliveries_en_route(caller.id()).await?;
    if deliveries.is_empty() {
        return Err(ApiError::conflict(
            "not_on_a_delivery",
            "a position is kept only while you have a delivery: claim one from \
             GET /v1/rider/deliveries, then report again",
        ));
    }
    let location = RiderLocation {
        lat: p.lat,
        lon: p.lon,
        at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    state
        .read_model
        .save_rider_location(caller.id(), &location)
        .await?;
    let deliveries: Vec<Value> = deliveries
        .iter()
        .map(|(id, status)| json!({"id": id, "status": status}))
        .collect();
    Ok(Json(json!({
        "lat": location.lat,
        "lon": location.lon,
        "at": location.at,
        "deliveries": deliveries,
    })))
}

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

/// The view of `doc` with [`eta_of`] added as `eta`; the stored text unchanged when no
/// estimate applies.
pub fn with_eta(doc: &OrderDocument, now: DateTime<Utc>) -> ApiResult<String> {
    let view: OrderView = serde_json::from_str(&doc.json)
        .map_err(|e| ApiError::internal("decoding a stored order view", e))?;
    let Some(estimate) = eta_of(&view, doc.rider_location.as_ref(), now) else {
        return Ok(doc.json.clone());
    };
    let mut out =
        serde_json::to_value(&view).map_err(|e| ApiError::internal("encoding an order view", e))?;
    out["eta"] = estimate;
    Ok(out.to_string())
}
