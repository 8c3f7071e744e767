//! The rider's endpoints: the board of deliveries nearby (listed and followed live), the
//! delivery they carry, and their position while they carry one. (Claim, release, pickup and
//! deliver are command routes, from the domain's command table.)
//!
//! A position is a report, not an order change: it goes straight to the read model's
//! `rider_locations` (one row per rider, overwritten), never to the order's workflow, whose
//! history would otherwise grow by an event every few seconds of every ride. It feeds the
//! arrival estimate (`crate::eta`) the customer and the store see, and it is the evidence a
//! claim, pickup or deliver needs (`baedal_domain::plausible`): so a rider looking for work
//! reports too, and a report that could not have been ridden since the last one is refused.

use crate::authz::visible_order;
use crate::door_keeping::waiting_on;
use crate::error::{ApiCode, ApiError, ApiResult, rider_refused};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::limits::{Limit, RateNote, principal};
use crate::live::{self, StreamResume};
use crate::pagination::{MAX_PAGE, page_limit};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use baedal_auth::Role;
use baedal_domain::plausible::{Fix, MAX_BOARD_RADIUS_KM};
use baedal_domain::{DeliveryCard, DeliveryView, geo};
use baedal_readmodel::RiderLocation;
use chrono::{SecondsFormat, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::convert::Infallible;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(rider_board))
        .routes(routes!(rider_events))
        .routes(routes!(rider_delivery))
        .routes(routes!(report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BoardQuery {
    /// The rider's latitude.
    #[param(minimum = -90, maximum = 90)]
    lat: f64,
    /// The rider's longitude.
    #[param(minimum = -180, maximum = 180)]
    lon: f64,
    /// How far the rider will ride to a pickup (more than 0, at most 50).
    #[param(exclusive_minimum = 0, maximum = 50)]
    radius_km: f64,
    /// Only deliveries going to this district.
    #[param(pattern = r"^[^\u0000]*$")]
    region: Option<String>,
    /// How many deliveries (1..100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Where a rider is and how far they ride, or 422 saying what is wrong.
fn valid_board_query(q: &BoardQuery) -> ApiResult<()> {
    if !geo::valid_coordinate(q.lat, q.lon) {
        return Err(ApiError::new(
            ApiCode::InvalidCoordinates,
            "lat must be within -90..90 and lon within -180..180",
        ));
    }
    if !(q.radius_km > 0.0 && q.radius_km <= MAX_BOARD_RADIUS_KM) {
        return Err(ApiError::new(
            ApiCode::InvalidRadius,
            "radius_km must be more than 0 and at most 50",
        ));
    }
    crate::extract::no_nul("region", q.region.as_deref())
}

/// Deliveries waiting for a rider within `radius_km` (plus each order's widened search),
/// nearest first.
#[utoipa::path(get, path = "/v1/rider/deliveries",
    params(BoardQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"deliveries\": [delivery card...]}, nearest first"), (status = 422)))]
async fn rider_board(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Rider)?;
    valid_board_query(&q)?;
    let limit = page_limit(q.limit, 50, MAX_PAGE)?;
    let offers = state
        .read_model
        .ready_deliveries_near(
            q.lat,
            q.lon,
            q.radius_km,
            q.region.as_deref(),
            limit as usize,
        )
        .await?;
    let deliveries: Vec<DeliveryCard> = offers
        .iter()
        .map(|o| DeliveryCard::new(&o.order, o.distance_km))
        .collect();
    Ok(Json(json!({ "deliveries": deliveries })))
}

/// Deliveries appearing on the board within reach of the rider (`ready_for_pickup`) and
/// leaving it (`rider_assigned`, `canceled`), as board cards: nothing the board would not show.
#[utoipa::path(get, path = "/v1/rider/deliveries/events",
    params(BoardQuery, StreamResume), security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` the stream position, data a delivery card; after a resume the change log cannot serve (position past its retention, or over 10,000 positions behind) first `event: reset` (no id), data `{deliveries: [delivery card...]}`, the board within reach, nearest first, at most 50",
        content_type = "text/event-stream"), (status = 422, description = "`invalid_last_event_id`: not a stream position, or one past the log's end; `invalid_coordinates`, `invalid_radius`"),
        (status = 429, description = "`too_many_streams`: as many streams open as one account (or this server) may have")))]
async fn rider_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BoardQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Role::Rider)?;
    valid_board_query(&q)?;
    live::board_stream(&state, &caller, (q.lat, q.lon, q.radius_km), &headers).await
}

/// The delivery as its assigned rider sees it, with the address to bring it to. Any other
/// rider gets 404, as for a delivery that does not exist.
#[utoipa::path(get, path = "/v1/rider/deliveries/{id}", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, description = "the delivery"), (status = 401), (status = 403), (status = 404)))]
async fn rider_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require(Role::Rider)?;
    let order = visible_order(&state, &caller, &id).await?;
    Ok(Json(DeliveryView::new(&order)))
}

/// Where the rider is now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

/// Report the caller's position: while they look for work (a claim needs a recent one near
/// the pickup) and while they have a delivery (pickup and deliver need one at the store and at
/// the door; it feeds the arrival estimate its customer and store see). A position that could
/// not have been reached from the last one at a plausible speed is refused and not kept.
#[utoipa::path(post, path = "/v1/rider/location", request_body = Position, security(("bearer" = [])),
    responses((status = 200, description = "{lat, lon, at, deliveries: [{id, status}]}: kept; the deliveries (claimed or picked up, possibly none) whose estimate it feeds"),
        (status = 403, description = "not a rider"),
        (status = 409, description = "`implausible_speed`: further from the last report than a rider could have gone since (the server's clock), not kept; `concurrent_report`: another report of yours arrived at the same time"),
        (status = 422, description = "`invalid_coordinates`"),
        (status = 429, description = "`rate_limited`: reports faster than BAEDAL_RATE_LOCATION_REPORTS")))]
async fn report(
    State(state): State<AppState>,
    caller: Caller,
    note: RateNote,
    ApiJson(p): ApiJson<Position>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Rider)?;
    state
        .limits
        .check(Limit::LocationReport, &principal(&caller.0), &note)?;
    if !geo::valid_coordinate(p.lat, p.lon) {
        return Err(ApiError::new(
            ApiCode::InvalidCoordinates,
            "lat must be within -90..90 and lon within -180..180",
        ));
    }
    let now = Utc::now();
    let location = RiderLocation {
        lat: p.lat,
        lon: p.lon,
        at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    let new = Fix {
        lat: p.lat,
        lon: p.lon,
        at_ms: now.timestamp_millis(),
    };
    waiting_on("the read model");
    // Checked against the last report and kept only if that is still the last one: two
    // reports at once cannot both pass against the same predecessor.
    let mut kept = false;
    for _ in 0..3 {
        let last = state.read_model.rider_location(caller.id()).await?;
        state
            .config
            .plausibility
            .check_report(last.as_ref().and_then(fix_of).as_ref(), &new)
            .map_err(rider_refused)?;
        let last_at = last.as_ref().map(|l| l.at.as_str());
        if state
            .read_model
            .replace_rider_location(caller.id(), &location, last_at)
            .await?
        {
            kept = true;
            break;
        }
    }
    if !kept {
        return Err(ApiError::new(
            ApiCode::ConcurrentReport,
            "other reports of yours arrived at the same time; report once more",
        ));
    }
    let deliveries = state.read_model.deliveries_en_route(caller.id()).await?;
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

/// A kept position as the rules take it (`None` if its time does not parse: never written so).
pub(crate) fn fix_of(l: &RiderLocation) -> Option<Fix> {
    let at = chrono::DateTime::parse_from_rfc3339(&l.at).ok()?;
    Some(Fix {
        lat: l.lat,
        lon: l.lon,
        at_ms: at.timestamp_millis(),
    })
}
