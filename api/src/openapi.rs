//! The OpenAPI document, served at `/openapi.json`.

use crate::AppState;
use crate::command_routes::ReasonBody;
use crate::ops;
use crate::place::{DeliveryRequest, ItemRequest, PaymentRequest, PlaceOrderBody};
use crate::routes::{self, TokenRequest};
use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "baedal",
        description = "Food-delivery ordering: customers, stores, riders, ops. Every order is a durable Temporal workflow."
    ),
    paths(
        routes::healthz,
        routes::readyz,
        routes::dev_token,
        routes::list_stores,
        routes::store_menu,
        routes::place_order,
        routes::get_order,
        routes::my_orders,
        routes::store_orders,
        routes::rider_board,
        routes::rider_delivery,
        routes::ops_payment,
        ops::stuck_orders,
    ),
    components(schemas(
        PlaceOrderBody,
        ItemRequest,
        DeliveryRequest,
        PaymentRequest,
        ReasonBody,
        TokenRequest,
    ))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

/// The whole document: the annotated routes plus the command routes from the command table.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    crate::command_routes::document(&mut doc);
    doc
}
