//! The OpenAPI document, served at `/openapi.json`.

use crate::AppState;
use crate::command_routes::ReasonBody;
use crate::ops;
use crate::place::{DeliveryRequest, ItemRequest, PaymentRequest, PlaceOrderBody};
use crate::routes::MAX_SUB_CHARS;
use crate::routes::{self, TokenRequest};
use axum::Json;
use axum::Router;
use axum::routing::get;
use baedal_auth::Role;
use baedal_domain::OrderStatus;
use serde_json::json;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};

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
        crate::live::order_events,
        crate::live::store_events,
        crate::live::rider_events,
        routes::ops_payment,
        ops::stuck_orders,
        crate::hooks::create,
        crate::hooks::list,
        crate::hooks::delete,
        crate::hooks::deliveries,
        crate::hooks::rotate_secret,
        crate::hooks::retry,
        crate::me::get_prefs,
        crate::me::put_prefs,
        crate::menu::update_item,
        crate::location::report,
    ),
    components(schemas(
        PlaceOrderBody,
        ItemRequest,
        DeliveryRequest,
        PaymentRequest,
        ReasonBody,
        TokenRequest,
        crate::hooks::NewHook,
        crate::hooks::EventType,
        crate::me::NotificationPrefs,
        crate::menu::MenuItemChange,
        crate::location::Position,
    ))
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(document()) }))
}

/// The whole document: the annotated routes, the command routes from the command table, and
/// what every route can answer besides its own statuses.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    crate::command_routes::document(&mut doc);
    if let Some(components) = doc.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components
            .schemas
            .insert("TokenRequest".to_owned(), token_request_schema());
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_common_answers(op, public);
        }
    }
    doc
}

/// Routes anyone may call without a token.
const PUBLIC: [&str; 6] = [
    "/healthz",
    "/readyz",
    "/v1/dev/tokens",
    "/v1/stores",
    "/v1/stores/{store_id}/menu",
    "/openapi.json",
];

fn answer(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .build()
                .into()
        });
}

/// What the door answers for any route: 500 for a bug (with a request id), 503 past the request
/// deadline or with a dependency down; 401/403 where a token is needed; 422 for a bad query; 400,
/// 413, 415 and 422 for a bad body.
fn add_common_answers(op: &mut Operation, public: bool) {
    answer(
        op,
        "500",
        "internal_error: a bug, with the request_id to report (do not retry)",
    );
    answer(
        op,
        "503",
        "past the request deadline or a dependency is down: retry after Retry-After",
    );
    if !public {
        op.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        answer(op, "401", "unauthorized: no, bad or expired bearer token");
        answer(op, "403", "forbidden: this endpoint is for another role");
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    if has_query {
        answer(
            op,
            "422",
            "invalid_query: a query parameter is missing or out of range",
        );
    }
    if op.request_body.is_some() {
        answer(op, "400", "malformed_json");
        answer(op, "413", "body_too_large");
        answer(
            op,
            "415",
            "unsupported_media_type: send Content-Type: application/json",
        );
        answer(
            op,
            "422",
            "invalid_body: a field is missing, of the wrong type or out of range",
        );
    }
}

/// `?status=`: one of the order statuses.
pub fn status_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(OrderStatus::ALL.iter().map(|s| s.as_str())))
        .build()
}

/// A dev token request: a store owner's names their store; anyone else's may not need one.
fn token_request_schema() -> RefOr<Schema> {
    let sub =
        json!({"type": "string", "minLength": 1, "maxLength": MAX_SUB_CHARS, "pattern": r"\S"});
    let others: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| **r != Role::StoreOwner)
        .map(|r| r.as_str())
        .collect();
    serde_json::from_value(json!({
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["role", "sub"],
                "properties": {
                    "role": {"type": "string", "enum": others},
                    "sub": sub,
                    "store_id": {"type": ["string", "null"], "description": "ignored"},
                },
            },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["role", "sub", "store_id"],
                "properties": {
                    "role": {"type": "string", "enum": [Role::StoreOwner.as_str()]},
                    "sub": sub,
                    "store_id": {"type": "string", "description": "a store of the catalog"},
                },
            },
        ],
    }))
    .expect("the token request schema is a schema")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_cursor_pattern_is_the_one_the_read_model_takes() {
        let doc = serde_json::to_value(super::document()).unwrap();
        for path in ["/v1/orders", "/v1/store/orders"] {
            let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let cursor = params.iter().find(|p| p["name"] == "cursor").unwrap();
            assert_eq!(
                cursor["schema"]["pattern"],
                baedal_readmodel::CURSOR_PATTERN,
                "{path}"
            );
        }
        for path in [
            "/v1/orders/{id}/events",
            "/v1/store/orders/events",
            "/v1/rider/deliveries/events",
        ] {
            let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
            let resume = params
                .iter()
                .find(|p| p["name"] == "Last-Event-ID")
                .unwrap();
            assert_eq!(resume["in"], "header", "{path}");
            assert!(resume["schema"]["pattern"].is_string(), "{path}: {resume}");
            // Not nullable: a header is absent or a text, never `null`.
            assert_eq!(resume["schema"]["type"], "string", "{path}: {resume}");
            assert_ne!(resume["required"], true, "{path}: {resume}");
        }
    }
}
