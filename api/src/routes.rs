//! The v1 routes, grouped by who calls them.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::place::{self, PlaceOrderBody};
use crate::{ApiRole, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use baedal_auth::{Claims, Role};
use baedal_domain::delivery::assigned_to;
use baedal_domain::{DeliveryCard, DeliveryView, OrderStatus, OrderView, geo};
use baedal_readmodel::{Cursor, Scope};
use serde::Deserialize;
use serde_json::{Value, json};
use temporalio_client::WorkflowCountOptions;
use utoipa::{IntoParams, ToSchema};

/// Health, metrics and ops: served by every role.
fn common() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/ops/payment", get(ops_payment))
        .route("/v1/ops/orders/stuck", get(crate::ops::stuck_orders))
        .route(
            "/v1/hooks",
            get(crate::hooks::list).post(crate::hooks::create),
        )
        .route(
            "/v1/hooks/{id}",
            axum::routing::delete(crate::hooks::delete),
        )
        .route("/v1/hooks/{id}/deliveries", get(crate::hooks::deliveries))
        .route(
            "/v1/hooks/{id}/rotate-secret",
            post(crate::hooks::rotate_secret),
        )
        .route(
            "/v1/hooks/{id}/deliveries/{delivery_id}/retry",
            post(crate::hooks::retry),
        )
}

/// Catalog and the customer's endpoints.
fn order_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/dev/tokens", post(dev_token))
        .route("/v1/stores", get(list_stores))
        .route("/v1/stores/{store_id}/menu", get(store_menu))
        .route("/v1/orders", post(place_order).get(my_orders))
        .route("/v1/orders/{id}", get(get_order))
        .route("/v1/orders/{id}/events", get(crate::live::order_events))
        .route(
            "/v1/me/notifications",
            get(crate::me::get_prefs).put(crate::me::put_prefs),
        )
}

fn store_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/store/orders", get(store_orders))
        .route("/v1/store/orders/events", get(crate::live::store_events))
        .route(
            "/v1/store/menu/{item_id}",
            axum::routing::put(crate::menu::update_item),
        )
}

fn rider_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/rider/deliveries", get(rider_board))
        .route(
            "/v1/rider/deliveries/events",
            get(crate::live::rider_events),
        )
        .route("/v1/rider/deliveries/{id}", get(rider_delivery))
        .route(
            "/v1/rider/location",
            axum::routing::post(crate::location::report),
        )
}

pub fn for_role(role: ApiRole) -> Router<AppState> {
    let r = common().merge(crate::command_routes::routes(role));
    match role {
        ApiRole::Order => r.merge(order_routes()),
        ApiRole::Store => r.merge(store_routes()),
        ApiRole::Rider => r.merge(rider_routes()),
        ApiRole::All => r
            .merge(order_routes())
            .merge(store_routes())
            .merge(rider_routes()),
    }
}

/// Prometheus metrics of this process (empty when it exports none).
pub async fn metrics(State(state): State<AppState>) -> String {
    state
        .config
        .metrics
        .as_ref()
        .map(|m| m())
        .unwrap_or_default()
}

/// Every live worker's payment breaker (as each last published it), the worst of them, and
/// this api's door.
#[utoipa::path(get, path = "/v1/ops/payment",
    responses((status = 200, description = "{\"breaker\": the worst live breaker {state, calls, failures, ...}, \"breakers\": [{worker, breaker, published_at}], \"door\": {state, retry_after_secs}}"), (status = 403)))]
pub async fn ops_payment(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Ops)?;
    let now = chrono::Utc::now();
    let ago = |d: std::time::Duration| {
        (now - chrono::Duration::from_std(d).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let breakers = state
        .read_model
        .live_breakers(&ago(baedal_readmodel::BREAKER_FRESH_FOR))
        .await?;
    let worst = breakers
        .iter()
        .max_by_key(|b| match b.breaker["state"].as_str() {
            Some("open") => 2,
            Some("half_open") => 1,
            _ => 0,
        })
        .map(|b| b.breaker.clone());
    let (door, retry_after) = state.door.describe(std::time::Instant::now());
    // Refunds owed and not through: money the customers are waiting for, whatever the
    // breaker (which guards charges) says. `stuck` once the oldest is older than
    // BAEDAL_STUCK_AFTER.
    let refunds = state.read_model.refund_health().await?;
    let stuck_before = ago(state.config.stuck_after);
    let refunds_state = match &refunds.oldest_pending_since {
        None => "ok",
        Some(since) if since.as_str() < stuck_before.as_str() => "stuck",
        Some(_) => "pending",
    };
    Ok(Json(json!({
        "breaker": worst,
        "breakers": breakers,
        "door": {"state": door, "retry_after_secs": retry_after},
        "refunds": {
            "state": refunds_state,
            "pending": refunds.pending,
            "oldest_pending_since": refunds.oldest_pending_since,
            "last_error": refunds.last_error,
        },
    })))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no such endpoint; see /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
}

/// The most items a list answers at once.
pub const MAX_PAGE: u32 = 100;

/// `?limit=` as given (default `default`), or 422 outside 1..=`max`: a client asking for more
/// than the document allows learns so instead of silently getting fewer.
pub(crate) fn page_limit(limit: Option<u32>, default: u32, max: u32) -> ApiResult<u32> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be 1..{max}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// health

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "process up")))]
pub async fn healthz() -> Json<Value> {
    baedal_http::healthz().await
}

/// Ready when what the api cannot serve without answers: Temporal and the read model. Not the
/// payment or notification services: orders are taken while notifications are down (they are
/// delivered later), and a payment outage is the breaker's and the door's to answer (503 with
/// Retry-After on place-order), not a reason to take every api replica out of rotation.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.read_model.ping().await.is_ok();
    let temporal = temporal_answers(&state.temporal).await;
    baedal_http::readiness(&[("read_model", db), ("temporal", temporal)])
}

/// Whether Temporal answers a cheap visibility call in this client's namespace (the worker's
/// readiness uses it too).
pub async fn temporal_answers(temporal: &temporalio_client::Client) -> bool {
    temporal
        .count_workflows(
            "WorkflowType = 'OrderWorkflow'",
            WorkflowCountOptions::default(),
        )
        .await
        .is_ok()
}

// ---------------------------------------------------------------------------------------------
// dev tokens

/// The longest `sub` a dev token may carry.
pub const MAX_SUB_CHARS: usize = 100;

/// Its schema in the document is [`crate::openapi`]'s (a store owner's needs a `store_id`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    role: String,
    sub: String,
    store_id: Option<String>,
}

/// Mint a token (dev mode only).
#[utoipa::path(post, path = "/v1/dev/tokens", request_body = TokenRequest,
    responses((status = 201, description = "{\"token\"}"),
        (status = 404, description = "not in dev mode, or no such store")))]
pub async fn dev_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !state.config.dev_mode {
        return Err(not_found().await);
    }
    let role: Role = req.role.parse().map_err(|e: baedal_auth::AuthError| {
        ApiError::unprocessable("invalid_role", e.to_string())
    })?;
    if req.sub.trim().is_empty() || req.sub.chars().count() > MAX_SUB_CHARS {
        return Err(ApiError::unprocessable(
            "invalid_sub",
            format!("sub must be 1..{MAX_SUB_CHARS} characters"),
        ));
    }
    if role == Role::StoreOwner {
        let store = req.store_id.as_deref().ok_or_else(|| {
            ApiError::unprocessable("store_id_required", "a store_owner token needs a store_id")
        })?;
        if state.read_model.get_store(store).await?.is_none() {
            return Err(ApiError::not_found(
                "store_not_found",
                format!("no store {store}"),
            ));
        }
    }
    let exp = jsonwebtoken_now() + state.config.token_ttl.as_secs();
    let token = state.identity.keys().sign(&Claims {
        sub: req.sub,
        role,
        store_id: if role == Role::StoreOwner {
            req.store_id
        } else {
            None
        },
        exp,
    });
    Ok((StatusCode::CREATED, Json(json!({"token": token}))))
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// catalog

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoresQuery {
    /// Only stores in this district.
    region: Option<String>,
}

#[utoipa::path(get, path = "/v1/stores", params(StoresQuery),
    responses((status = 200, description = "{\"stores\": [{id,name,region,address,lat,lon}]}")))]
pub async fn list_stores(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StoresQuery>,
) -> ApiResult<Json<Value>> {
    let stores = state.read_model.list_stores(q.region.as_deref()).await?;
    Ok(Json(json!({ "stores": stores })))
}

#[utoipa::path(get, path = "/v1/stores/{store_id}/menu", params(("store_id" = String, Path)),
    responses((status = 200, description = "{\"items\": [{id,name,price,available}]}"), (status = 404)))]
pub async fn store_menu(
    State(state): State<AppState>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    if state.read_model.get_store(&store_id).await?.is_none() {
        return Err(ApiError::not_found(
            "store_not_found",
            format!("no store {store_id}"),
        ));
    }
    let items = state.read_model.menu(&store_id).await?;
    Ok(Json(json!({ "store_id": store_id, "items": items })))
}

// ---------------------------------------------------------------------------------------------
// orders: visibility

/// The order if `caller` may see it; otherwise the same 404 as for an order that does not exist.
pub(crate) async fn visible_order(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<OrderView> {
    tracing::Span::current().record("order_id", id);
    crate::door_keeping::waiting_on("the read model");
    let order = state
        .read_model
        .get_order(id)
        .await?
        .ok_or_else(ApiError::order_not_found)?;
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
        && let Some(now) = crate::commands::engine_view(state, id).await
        && assigned_to(&now, caller.id())
    {
        return Ok(now);
    }
    Err(ApiError::order_not_found())
}

// ---------------------------------------------------------------------------------------------
// customer

/// Place an order and pay for it. Needs an `Idempotency-Key` header.
#[utoipa::path(post, path = "/v1/orders", request_body = PlaceOrderBody,
    params(("Idempotency-Key" = String, Header,
        description = "A fresh random value per order (a UUID): the same key and body again answer the same order and charge once",
        min_length = 1, max_length = 255, pattern = r"^[!-~]+$")),
    responses((status = 201, description = "the paid order"),
        (status = 400, description = "malformed JSON, or a missing or invalid Idempotency-Key"),
        (status = 402, description = "payment_declined"),
        (status = 404, description = "no such store or menu item"),
        (status = 409, description = "item_unavailable: sold out right now"),
        (status = 422, description = "invalid body, duplicate item, total too large, or the key was used for another body"),
        (status = 503, description = "payment_unavailable: retry after Retry-After")))]
pub async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrderBody>,
) -> ApiResult<Response> {
    caller.require(Role::Customer)?;
    let key = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::bad_request(
            "missing_idempotency_key",
            "send an Idempotency-Key header (a fresh random value per order)",
        )
    })?;
    let key = key
        .to_str()
        .ok()
        .filter(|k| place::valid_idempotency_key(k))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_idempotency_key",
                format!(
                    "Idempotency-Key must be 1..{} visible ASCII characters (a UUID is a good one)",
                    place::MAX_KEY_CHARS
                ),
            )
        })?;
    Ok(match place::place(&state, caller.id(), key, body).await? {
        place::Placed::New(order) => (StatusCode::CREATED, Json(order)).into_response(),
        // The same answer as the first time, marked as a replay (as Stripe's
        // `Idempotent-Replayed`): the order this key established, from the read model.
        place::Placed::Replayed(order) => (
            StatusCode::CREATED,
            [("idempotent-replayed", "true")],
            Json(order),
        )
            .into_response(),
    })
}

#[utoipa::path(get, path = "/v1/orders/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "the order view; while a rider is on the way it carries `eta`: {minutes, arrive_by, basis: rider_location or pickup, rider_location?}"), (status = 404)))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if caller.role() == Role::Rider {
        return Err(ApiError::forbidden(
            "riders read their delivery at GET /v1/rider/deliveries/{id}",
        ));
    }
    tracing::Span::current().record("order_id", id.as_str());
    crate::door_keeping::waiting_on("the read model");
    // The hot path: the view as stored, checked against its owners, answered as is.
    let doc = state
        .read_model
        .order_document(&id)
        .await?
        .ok_or_else(ApiError::order_not_found)?;
    let visible = match caller.role() {
        Role::Customer => doc.customer_id == caller.id(),
        Role::StoreOwner => caller.0.store_id.as_deref() == Some(doc.store_id.as_str()),
        Role::Ops => true,
        Role::Rider => false,
    };
    if !visible {
        return Err(ApiError::order_not_found());
    }
    // While a rider is on the way the view gains the arrival estimate; otherwise the text
    // goes out as stored.
    let body = if doc.en_route {
        crate::location::with_eta(&doc, chrono::Utc::now())?
    } else if doc.refund_pending {
        with_refund_progress(&state, &doc.json, &id).await?
    } else {
        doc.json
    };
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// The stored view with its pending refund's attempts and last error, as the refund activity
/// recorded them (the workflow cannot see its refund's retries: they are the engine's).
async fn with_refund_progress(state: &AppState, json: &str, id: &str) -> ApiResult<String> {
    let Some(progress) = state.read_model.refund_progress(id).await? else {
        return Ok(json.to_owned());
    };
    let mut view: OrderView = serde_json::from_str(json)
        .map_err(|e| ApiError::internal("the read model's order view", e))?;
    if let Some(refund) = view.refund.as_mut().filter(|r| r.is_pending()) {
        refund.status = progress.status;
        refund.attempts = Some(progress.attempts);
        refund.last_error = progress.last_error;
    }
    serde_json::to_string(&view).map_err(|e| ApiError::internal("the order view", e))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders in this status.
    #[param(schema_with = crate::openapi::status_schema)]
    status: Option<String>,
    /// How many orders (1..100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the page starts: the `next_cursor` of the page before.
    #[param(pattern = r"^[01]~[0-9T:.Z-]{1,40}~[A-Za-z0-9_-]{1,100}$")]
    cursor: Option<String>,
}

/// One page of `scope`'s orders as the lists answer it: `{"orders": [...], "next_cursor"?}`.
async fn orders_page(state: &AppState, scope: Scope<'_>, q: &ListQuery) -> ApiResult<Json<Value>> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<OrderStatus>)
        .transpose()
        .map_err(|e| ApiError::unprocessable("invalid_status", e.to_string()))?;
    let limit = page_limit(q.limit, 50, MAX_PAGE)?;
    let cursor = q
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|e| ApiError::unprocessable("invalid_cursor", e.to_string()))?;
    let page = state
        .read_model
        .orders_page(scope, status, cursor.as_ref(), limit)
        .await?;
    let mut body = json!({ "orders": page.orders });
    if let Some(next) = page.next_cursor {
        body["next_cursor"] = json!(next.encode());
    }
    Ok(Json(body))
}

/// The caller's orders: open ones first, newest first within them (or one status).
#[utoipa::path(get, path = "/v1/orders", params(ListQuery),
    responses((status = 200, description = "{\"orders\": [...], \"next_cursor\"?}: open orders first, newest first"), (status = 422)))]
pub async fn my_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Customer)?;
    orders_page(&state, Scope::Customer(caller.id()), &q).await
}

// ---------------------------------------------------------------------------------------------
// store owner

/// The caller's store's orders: open ones first, newest first within them (or one status).
#[utoipa::path(get, path = "/v1/store/orders", params(ListQuery),
    responses((status = 200, description = "{\"orders\": [...], \"next_cursor\"?}: open orders first, newest first"), (status = 422)))]
pub async fn store_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::StoreOwner)?;
    let store = caller.0.store_id.clone().unwrap_or_default();
    orders_page(&state, Scope::Store(&store), &q).await
}

// ---------------------------------------------------------------------------------------------
// rider

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// The rider's latitude.
    #[param(minimum = -90, maximum = 90)]
    pub(crate) lat: f64,
    /// The rider's longitude.
    #[param(minimum = -180, maximum = 180)]
    pub(crate) lon: f64,
    /// How far the rider will ride to a pickup (more than 0, at most 50).
    #[param(exclusive_minimum = 0, maximum = 50)]
    pub(crate) radius_km: f64,
    /// Only deliveries going to this district.
    pub(crate) region: Option<String>,
    /// How many deliveries (1..100, default 50).
    #[param(minimum = 1, maximum = 100)]
    pub(crate) limit: Option<u32>,
}

/// Where a rider is and how far they ride, or 422 saying what is wrong.
pub(crate) fn valid_board_query(q: &BoardQuery) -> ApiResult<()> {
    if !geo::valid_coordinate(q.lat, q.lon) {
        return Err(ApiError::unprocessable(
            "invalid_coordinates",
            "lat must be within -90..90 and lon within -180..180",
        ));
    }
    if !(q.radius_km > 0.0 && q.radius_km <= 50.0) {
        return Err(ApiError::unprocessable(
            "invalid_radius",
            "radius_km must be more than 0 and at most 50",
        ));
    }
    Ok(())
}

/// Deliveries waiting for a rider within `radius_km` (plus each order's widened search),
/// nearest first.
#[utoipa::path(get, path = "/v1/rider/deliveries",
    params(BoardQuery),
    responses((status = 200, description = "{\"deliveries\": [delivery card...]}, nearest first"), (status = 422)))]
pub async fn rider_board(
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

/// The delivery as its assigned rider sees it, with the address to bring it to. Any other
/// rider gets 404, as for a delivery that does not exist.
#[utoipa::path(get, path = "/v1/rider/deliveries/{id}", params(("id" = String, Path)),
    responses((status = 200, description = "the delivery"), (status = 401), (status = 403), (status = 404)))]
pub async fn rider_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    caller.require(Role::Rider)?;
    let order = visible_order(&state, &caller, &id).await?;
    Ok(Json(DeliveryView::new(&order)))
}

pub(crate) fn already_claimed() -> ApiError {
    ApiError::conflict(
        "already_claimed",
        "another rider claimed this delivery first; pick another one from the board",
    )
}
