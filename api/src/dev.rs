//! `POST /v1/dev/tokens`: tokens for trying the api out, served only by `baedal dev`.

use crate::error::{ApiCode, ApiError, ApiResult, route_not_found};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use baedal_auth::{Claims, Role};
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use utoipa::openapi::{RefOr, Schema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(dev_token))
}

/// The longest `sub` a dev token may carry.
pub const MAX_SUB_CHARS: usize = 100;

/// A dev token request; its schema is written out below (a store owner's needs a `store_id`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    role: String,
    sub: String,
    store_id: Option<String>,
}

impl utoipa::ToSchema for TokenRequest {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TokenRequest")
    }
}

impl utoipa::PartialSchema for TokenRequest {
    /// A store owner's token request names their store; anyone else's may not need one.
    fn schema() -> RefOr<Schema> {
        let sub = json!({"type": "string", "minLength": 1, "maxLength": MAX_SUB_CHARS, "pattern": crate::extract::VISIBLE_PATTERN});
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
}

/// Mint a token (dev mode only).
#[utoipa::path(post, path = "/v1/dev/tokens", request_body = TokenRequest,
    responses((status = 201, description = "{\"token\"}"),
        (status = 404, description = "not in dev mode, or no such store")))]
async fn dev_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !state.config.dev_mode {
        return Err(route_not_found());
    }
    let role: Role = req
        .role
        .parse()
        .map_err(|e: baedal_auth::AuthError| ApiError::new(ApiCode::InvalidRole, e.to_string()))?;
    if !crate::extract::has_visible(&req.sub) || req.sub.chars().count() > MAX_SUB_CHARS {
        return Err(ApiError::new(
            ApiCode::InvalidSub,
            format!("sub must be 1..{MAX_SUB_CHARS} characters"),
        ));
    }
    if role == Role::StoreOwner {
        let store = req.store_id.as_deref().ok_or_else(|| {
            ApiError::new(
                ApiCode::StoreIdRequired,
                "a store_owner token needs a store_id",
            )
        })?;
        if state.read_model.get_store(store).await?.is_none() {
            return Err(ApiError::new(
                ApiCode::StoreNotFound,
                format!("no store {store}; GET /v1/stores lists them"),
            ));
        }
    }
    let exp = unix_now() + state.config.token_ttl.as_secs();
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
