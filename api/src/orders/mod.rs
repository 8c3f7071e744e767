//! The customer's orders: place one, list them, read one, follow one live. (Cancel and
//! confirm are command routes, from the domain's command table.)

mod keys;
mod place;
mod pricing;
mod request;

pub use request::{order_id_for, request_hash_of};

use crate::authz::visible_order;
use crate::door_keeping::waiting_on;
use crate::error::{ApiCode, ApiError, ApiResult, order_not_found};
use crate::eta::eta_of;
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::limits::{Limit, RateNote, principal};
use crate::live::{self, OrderResume};
use crate::pagination::{ListQuery, orders_page};
use crate::state::AppState;
use crate::views::{OrderForRole, Viewer, order_for};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use baedal_auth::Role;
use baedal_domain::OrderView;
use baedal_readmodel::Scope;
use futures::Stream;
use place::{Placed, place};
use request::PlaceOrderBody;
use serde_json::Value;
use std::convert::Infallible;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(place_order, my_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_events))
}

/// Place an order and pay for it. Needs an `Idempotency-Key` header.
#[utoipa::path(post, path = "/v1/orders", request_body = PlaceOrderBody, security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header,
        description = "A fresh random value per order (a UUID): the same key and body again answer the same order and charge once",
        min_length = 1, max_length = 255, pattern = r"^[!-~]+$")),
    responses((status = 201, description = "the paid order"),
        (status = 400, description = "malformed JSON, or a missing or invalid Idempotency-Key"),
        (status = 402, description = "payment_declined"),
        (status = 404, description = "no such store or menu item"),
        (status = 409, description = "item_unavailable: sold out right now"),
        (status = 429, description = "`rate_limited`: too many orders placed (BAEDAL_RATE_PLACE_ORDERS); `too_many_declines`: card attempts locked out after repeated declines (BAEDAL_RATE_CARD_DECLINES); retry after Retry-After"),
        (status = 422, description = "invalid body, duplicate item, total too large, the key was used for another body, or `outside_delivery_area`: the delivery point is beyond the store's delivery radius (nothing is charged)"),
        (status = 503, description = "payment_unavailable: retry after Retry-After")))]
async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    note: RateNote,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PlaceOrderBody>,
) -> ApiResult<Response> {
    caller.require(Role::Customer)?;
    state
        .limits
        .check(Limit::PlaceOrder, &principal(&caller.0), &note)?;
    let key = headers.get("idempotency-key").ok_or_else(|| {
        ApiError::new(
            ApiCode::MissingIdempotencyKey,
            "send an Idempotency-Key header (a fresh random value per order)",
        )
    })?;
    let key = key
        .to_str()
        .ok()
        .filter(|k| request::valid_idempotency_key(k))
        .ok_or_else(|| {
            ApiError::new(
                ApiCode::InvalidIdempotencyKey,
                format!(
                    "Idempotency-Key must be 1..{} visible ASCII characters (a UUID is a good one)",
                    request::MAX_KEY_CHARS
                ),
            )
        })?;
    Ok(match place(&state, caller.id(), key, body).await? {
        Placed::New(order) => (
            StatusCode::CREATED,
            Json(order_for(Viewer::Customer, &order, None)),
        )
            .into_response(),
        // The same answer as the first time, marked as a replay (as Stripe's
        // `Idempotent-Replayed`): the order this key established, from the read model.
        Placed::Replayed(order) => (
            StatusCode::CREATED,
            [("idempotent-replayed", "true")],
            Json(order_for(Viewer::Customer, &order, None)),
        )
            .into_response(),
    })
}

#[utoipa::path(get, path = "/v1/orders/{id}", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the order as the caller's role sees it; while a rider is on the way it carries `eta`: {minutes, arrive_by, basis: rider_location or pickup, rider_location? (not for store owners)}; a closed order past BAEDAL_PERSONAL_DATA_RETENTION has a blank address, coordinates 0 and `personal_data_erased_at` (RFC 3339): when its personal data was erased", body = OrderForRole), (status = 404)))]
async fn get_order(
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
    waiting_on("the read model");
    // The hot path: the view as stored, checked against its owners, answered as is.
    let doc = state
        .read_model
        .order_document(&id)
        .await?
        .ok_or_else(order_not_found)?;
    let visible = match caller.role() {
        Role::Customer => doc.customer_id == caller.id(),
        Role::StoreOwner => caller.0.store_id.as_deref() == Some(doc.store_id.as_str()),
        Role::Ops => true,
        Role::Rider => false,
    };
    let Some(viewer) = Viewer::of(caller.role()).filter(|_| visible) else {
        return Err(order_not_found());
    };
    let mut view = doc.view()?;
    if doc.refund_pending {
        with_refund_progress(&state, &mut view, &id).await?;
    }
    // While a rider is on the way the view gains the arrival estimate.
    let eta = doc
        .en_route
        .then(|| eta_of(&view, doc.rider_location.as_ref(), chrono::Utc::now()))
        .flatten();
    Ok(Json(order_for(viewer, &view, eta)).into_response())
}

/// The view with its pending refund's attempts and last error, as the refund activity
/// recorded them (the workflow cannot see its refund's retries: they are the engine's).
async fn with_refund_progress(state: &AppState, view: &mut OrderView, id: &str) -> ApiResult<()> {
    let Some(progress) = state.read_model.refund_progress(id).await? else {
        return Ok(());
    };
    if let Some(refund) = view.refund.as_mut().filter(|r| r.is_pending()) {
        refund.status = progress.status;
        refund.attempts = Some(progress.attempts);
        refund.last_error = progress.last_error;
    }
    Ok(())
}

/// The caller's orders: open ones first, newest first within them (or one status).
#[utoipa::path(get, path = "/v1/orders", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"orders\": [...], \"next_cursor\"?}: open orders first, newest first"), (status = 422)))]
async fn my_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Customer)?;
    orders_page(&state, Scope::Customer(caller.id()), &q).await
}

/// The order's status changes as they happen: the current status first, then each change.
/// With `Last-Event-ID: <order_id>:<seq>`, every change after that seq first (read from the
/// order itself, however old it is).
#[utoipa::path(get, path = "/v1/orders/{id}/events", params(("id" = String, Path), OrderResume),
    security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` `<order_id>:<seq>`, data `{order_id, seq, status, at, reason, order}`; while a rider is on the way also `event: eta` (no id) on each new position, data `{order_id, status, eta}`",
        content_type = "text/event-stream"), (status = 404), (status = 422),
        (status = 429, description = "`too_many_streams`: as many streams open as one account (or this server) may have")))]
async fn order_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    if caller.role() == Role::Rider {
        return Err(ApiError::forbidden(
            "riders follow deliveries at GET /v1/rider/deliveries/events",
        ));
    }
    visible_order(&state, &caller, &id).await?;
    let viewer = Viewer::of(caller.role()).ok_or_else(order_not_found)?;
    live::order_stream(&state, &caller, id, viewer, &headers).await
}
