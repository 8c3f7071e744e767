//! Pricing a place-order from the catalog: the store and every item must exist and be
//! available, each item is listed once, and the total is the catalog's, never the client's.
//! Likewise where it goes: the delivery point must lie within the store's delivery area, and
//! its district (`region`) is derived from its coordinates, never the client's label.

use super::request::{ItemRequest, PlaceOrderBody};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::state::AppState;
use baedal_domain::{DeliveryAddress, LineItem, OrderInput, WORKFLOW_VERSION};
use std::collections::HashSet;

/// No single order may cost more than this (KRW): a typo guard, not a business limit.
pub const MAX_TOTAL: i64 = 5_000_000;

/// Rules about what the items are, checked once they are known to exist (so an unknown store
/// or item is 404 first): each item once.
fn no_duplicates(items: &[ItemRequest]) -> ApiResult<()> {
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item.menu_item_id.as_str()) {
            return Err(ApiError::new(
                ApiCode::DuplicateItem,
                format!(
                    "menu item {} appears twice: send it once with the total quantity",
                    item.menu_item_id
                ),
            ));
        }
    }
    Ok(())
}

/// Build the workflow input: the store and every item must exist and be available; prices and
/// the total come from the catalog.
pub(super) async fn price(
    state: &AppState,
    order_id: &str,
    customer_id: &str,
    body: &PlaceOrderBody,
    hash: String,
) -> ApiResult<OrderInput> {
    let store = state
        .read_model
        .get_store(&body.store_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ApiCode::StoreNotFound,
                format!("no store {}; GET /v1/stores lists them", body.store_id),
            )
        })?;
    let door = (body.delivery.lat, body.delivery.lon);
    let rules = &state.config.plausibility;
    if !rules.deliverable((store.lat, store.lon), store.delivery_radius_km, door) {
        return Err(ApiError::new(
            ApiCode::OutsideDeliveryArea,
            format!(
                "{} does not deliver to that point (too far from the store); choose a store near the delivery address",
                store.name
            ),
        ));
    }
    let region = district(state, door, &store.region).await?;
    let menu = state.read_model.menu(&store.id).await?;
    let mut items = Vec::with_capacity(body.items.len());
    let mut total: i64 = 0;
    for req in &body.items {
        let item = menu
            .iter()
            .find(|m| m.id == req.menu_item_id)
            .ok_or_else(|| {
                ApiError::new(
                    ApiCode::MenuItemNotFound,
                    format!(
                        "store {0} has no menu item {1}; GET /v1/stores/{0}/menu lists its items",
                        store.id, req.menu_item_id
                    ),
                )
            })?;
        if !item.available {
            return Err(ApiError::new(
                ApiCode::ItemUnavailable,
                format!(
                    "{} is sold out right now; order without it, or choose another item",
                    item.name
                ),
            ));
        }
        let line_total = item.price * i64::from(req.quantity);
        total += line_total;
        items.push(LineItem {
            menu_item_id: item.id.clone(),
            name: item.name.clone(),
            unit_price: item.price,
            quantity: req.quantity,
            line_total,
        });
    }
    no_duplicates(&body.items)?;
    if total > MAX_TOTAL {
        return Err(ApiError::new(
            ApiCode::TotalTooLarge,
            format!("an order may cost at most {MAX_TOTAL} won; split it into smaller orders"),
        ));
    }
    Ok(OrderInput {
        version: WORKFLOW_VERSION,
        order_id: order_id.to_owned(),
        customer_id: customer_id.to_owned(),
        store_id: store.id,
        store_name: store.name,
        store_lat: store.lat,
        store_lon: store.lon,
        items,
        total,
        delivery: DeliveryAddress {
            address: body.delivery.address.trim().to_owned(),
            region,
            lat: body.delivery.lat,
            lon: body.delivery.lon,
        },
        card_token: body.payment.card_token.clone(),
        request_hash: hash,
        timeouts: state.config.timeouts,
    })
}

/// The district of the delivery point `door`: the nearest store's, among those within reach
/// (`baedal_domain::plausible::district_of`); the store's own when none is nearer.
async fn district(state: &AppState, door: (f64, f64), store_region: &str) -> ApiResult<String> {
    let places = state
        .read_model
        .store_places_near(door.0, door.1, DISTRICT_SEARCH_KM)
        .await?;
    Ok(baedal_domain::plausible::district_of(
        door.0,
        door.1,
        places.iter().map(|(r, lat, lon)| (r.as_str(), *lat, *lon)),
    )
    .unwrap_or(store_region)
    .to_owned())
}

/// How far around a delivery point stores are looked at for its district: a district's stores
/// are this close to its homes in a city.
const DISTRICT_SEARCH_KM: f64 = 5.0;

#[cfg(test)]
mod tests {
    use super::super::request::sample_body;
    use super::*;

    #[test]
    fn an_item_listed_twice_is_refused() {
        let mut b = sample_body();
        assert!(no_duplicates(&b.items).is_ok());
        let dup = b.items[0].clone();
        b.items.push(dup);
        assert_eq!(
            no_duplicates(&b.items).unwrap_err().code,
            ApiCode::DuplicateItem
        );
    }
}
