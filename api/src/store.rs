//! The store owner's endpoints: their store's orders (listed and followed live) and their
//! menu. (Accept, reject and cooking are command routes, from the domain's command table.)
//!
//! `PUT /v1/store/menu/{item_id}` marks an item of their own store sold out (or back) and
//! changes its price. New orders are priced from the menu; orders already placed keep the
//! price they were placed at (it is frozen into their line items).

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::live::{self, StreamResume};
use crate::pagination::{ListQuery, orders_page};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use baedal_auth::Role;
use baedal_readmodel::{MenuItem, Scope};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::convert::Infallible;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(store_orders))
        .routes(routes!(store_events))
        .routes(routes!(update_item))
}

/// The caller's store's orders: open ones first, newest first within them (or one status),
/// with how long the store has to accept a new order before it is rejected for it.
#[utoipa::path(get, path = "/v1/store/orders", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"orders\": [...], \"next_cursor\"?, \"accept_within_secs\"}: open orders first, newest first; `accept_within_secs`: a new order not accepted within this is rejected for the store (`BAEDAL_STORE_ACCEPT_TIMEOUT`)"), (status = 422)))]
async fn store_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::StoreOwner)?;
    let store = caller.0.store_id.clone().unwrap_or_default();
    let Json(mut page) = orders_page(&state, Scope::Store(&store), &q).await?;
    page["accept_within_secs"] = (state.config.timeouts.store_accept_ms / 1000).into();
    Ok(Json(page))
}

/// Every change of the caller's store's orders, new ones included, from now on (or, with
/// `Last-Event-ID`, from after that position, or from the store's open orders when the log
/// cannot serve the resume).
#[utoipa::path(get, path = "/v1/store/orders/events",
    params(StreamResume), security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` the stream position, data the order as it is now; after a resume the change log cannot serve (position past its retention, or over 1,000 of the store's changes behind) first `event: reset` (no id), data `{orders: [open orders, newest first, at most 100], next_cursor?}`",
        content_type = "text/event-stream"), (status = 422, description = "`invalid_last_event_id`: not a stream position, or one past the log's end"),
        (status = 429, description = "`too_many_streams`: as many streams open as one account (or this server) may have")))]
async fn store_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Role::StoreOwner)?;
    let store_id = caller.0.store_id.clone().unwrap_or_default();
    live::store_stream(&state, &caller, store_id, &headers).await
}

/// The highest price a menu item may have, in won.
pub const MAX_PRICE: u32 = 10_000_000;

/// What changes; a field left out stays as it is.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MenuItemChange {
    /// `false`: sold out (orders naming it are refused with `item_unavailable`).
    pub available: Option<bool>,
    /// The new price in won.
    #[schema(minimum = 1, maximum = 10_000_000)]
    #[serde(default, deserialize_with = "baedal_http::optional_whole_number")]
    pub price: Option<u32>,
}

/// Change an item of the caller's store. Another store's item is 404, as an unknown one is.
#[utoipa::path(put, path = "/v1/store/menu/{item_id}", params(("item_id" = String, Path)),
    request_body = MenuItemChange, security(("bearer" = [])),
    responses((status = 200, description = "{id, name, price, available}: the item now"),
        (status = 403, description = "not a store owner"),
        (status = 404, description = "no such item in the caller's store"),
        (status = 422, description = "`invalid_price`")))]
async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(item_id): Path<String>,
    ApiJson(change): ApiJson<MenuItemChange>,
) -> ApiResult<Json<MenuItem>> {
    caller.require(Role::StoreOwner)?;
    if change.price.is_some_and(|p| !(1..=MAX_PRICE).contains(&p)) {
        return Err(ApiError::new(
            ApiCode::InvalidPrice,
            format!("price must be a whole number of won, 1..{MAX_PRICE}"),
        ));
    }
    let store = caller.0.store_id.clone().unwrap_or_default();
    state
        .read_model
        .update_item(
            &store,
            &item_id,
            change.available,
            change.price.map(i64::from),
        )
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::new(ApiCode::ItemNotFound, "no such item in your store's menu; GET /v1/stores/{your store_id}/menu lists its items"))
}
