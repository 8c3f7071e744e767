//! The OpenAPI document, served at `/openapi.json`: what the routes registered for it (every
//! role's, whichever role this process has), and what every route can answer besides its own
//! statuses.

use crate::routes;
use crate::state::ApiRole;
use utoipa::OpenApi;
use utoipa::openapi::ResponseBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(info(
    title = "baedal",
    description = "Food-delivery ordering: customers, stores, riders, ops. Every order is a durable Temporal workflow."
))]
struct ApiDoc;

/// The whole document: every role's routes as they registered themselves, the bearer scheme,
/// and the answers common to every route. Outside dev (`dev_mode` false) the dev routes are
/// left out: the document lists only what the deployment serves.
pub fn document(dev_mode: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi().merge_from(routes::api(ApiRole::All).into_openapi());
    if !dev_mode {
        doc.paths
            .paths
            .retain(|path, _| !path.starts_with("/v1/dev/"));
    }
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_common_answers(op);
        }
    }
    doc
}

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
fn add_common_answers(op: &mut Operation) {
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
    // An operation that needs a token says so itself (`security`).
    if op.security.is_some() {
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_cursor_pattern_is_the_one_the_read_model_takes() {
        let doc = serde_json::to_value(super::document(true)).unwrap();
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

    #[test]
    fn outside_dev_the_document_has_no_dev_routes() {
        let prod = serde_json::to_value(super::document(false)).unwrap();
        let dev = serde_json::to_value(super::document(true)).unwrap();
        assert!(dev["paths"]["/v1/dev/tokens"].is_object());
        assert!(prod["paths"]["/v1/dev/tokens"].is_null());
        assert!(prod["paths"]["/v1/orders"].is_object());
    }
}
