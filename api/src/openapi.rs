//! The OpenAPI document, served at `/openapi.json`.

use crate::AppState;
use crate::ops::{self, OpsCancelBody};
use crate::place::{DeliveryRequest, ItemRequest, PaymentRequest, PlaceOrderBody};
use crate::routes::{self, RejectBody, TokenRequest};
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
        routes::cancel,
        routes::confirm,
        routes::store_orders,
        routes::accept,
        routes::reject,
        routes::start_cooking,
        routes::finish_cooking,
        routes::rider_board,
        routes::rider_delivery,
        routes::claim,
        routes::pickup,
        routes::deliver,
        routes::ops_payment,
        ops::stuck_orders,
        ops::ops_cancel,
    ),
    components(schemas(
        PlaceOrderBody,
        ItemRequest,
        DeliveryRequest,
        PaymentRequest,
        RejectBody,
        TokenRequest,
        OpsCancelBody
    ))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
