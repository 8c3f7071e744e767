//! `PUT /v1/store/menu/{item_id}`: a store owner marks an item of their own store sold out (or
//! back) and changes its price. New orders are priced from the menu; orders already placed keep
//! the price they were placed at (it is frozen into their line items).

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use axum::Json;
use axum::extract::{Path, State};
use baedal_auth::Role;
use baedal_readmodel::MenuItem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    request_body = MenuItemChange,
    responses((status = 200, description = "{id, name, price, available}: the item now"),
        (status = 403, description = "not a store owner"),
        (status = 404, description = "no such item in the caller's store"),
        (status = 422, description = "`invalid_price`")))]
pub async fn update_item(
    State(state): State<AppState>,
    caller: Caller,
    Path(item_id): Path<String>,
    ApiJson(change): ApiJson<MenuItemChange>,
) -> ApiResult<Json<MenuItem>> {
    caller.require(Role::StoreOwner)?;
    if change.price.is_some_and(|p| !(1..=MAX_PRICE).contains(&p)) {
        return Err(ApiError::unprocessable(
            "invalid_price",
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
        .ok_or_else(|| ApiError::not_found("item_not_found", "no such item in your store's menu"))
}
