//! The hooks' HTTP door on the notification service. Only baedal's api calls it (service
//! token), naming the owner it has authorized in `x-baedal-owner` (`ops` or
//! `store:<store_id>`); people reach hooks through the api's `/v1/hooks`.

use crate::NotifyState;
use crate::code::{ApiError, ApiResult, NotifyCode};
use crate::ssrf;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use baedal_notification_client::{
    CreatedHook, DeliveryList, HookList, NewHook, OWNER, Queued, RotatedHook,
};
use serde::Deserialize;
/// The longest hook URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

pub fn routes() -> Router<NotifyState> {
    Router::new()
        .route("/v1/hooks", get(list).post(create))
        .route("/v1/hooks/{id}", axum::routing::delete(delete))
        .route("/v1/hooks/{id}/deliveries", get(deliveries))
        .route("/v1/hooks/{id}/rotate-secret", post(rotate_secret))
        .route("/v1/hooks/{id}/deliveries/{delivery_id}/retry", post(retry))
}

/// How long a replaced secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn owner(state: &NotifyState, headers: &HeaderMap) -> ApiResult<String> {
    baedal_http::require_service_token(headers, &state.service_token)?;
    let owner = headers
        .get(OWNER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let valid = owner == "ops"
        || owner
            .strip_prefix("store:")
            .is_some_and(|s| !s.is_empty() && s.len() <= 100);
    if !valid {
        return Err(ApiError::new(
            NotifyCode::MissingOwner,
            "x-baedal-owner must be `ops` or `store:<store_id>`",
        ));
    }
    Ok(owner.to_owned())
}

fn db_down(e: sqlx::Error) -> ApiError {
    ApiError::dependency_down("the hook store", e)
}

fn hook_not_found() -> ApiError {
    ApiError::new(
        NotifyCode::HookNotFound,
        "no such hook of yours; GET /v1/hooks lists them",
    )
}

async fn create(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<NewHook>, JsonRejection>,
) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    let new = baedal_http::json_body(body)?;
    if new.url.chars().count() > MAX_URL_CHARS {
        return Err(ApiError::new(
            NotifyCode::InvalidHook,
            format!("the URL is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let known = crate::hooks::event_types();
    if new.events.is_empty()
        || new.events.len() > known.len() + 1
        || new
            .events
            .iter()
            .any(|e| e != "*" && !known.iter().any(|k| k == e))
    {
        return Err(ApiError::new(
            NotifyCode::InvalidHook,
            format!("events must be [\"*\"] or some of {}", known.join(", ")),
        ));
    }
    let url = ssrf::check_url(&new.url, state.allow_private_hooks)
        .map_err(|e| ApiError::new(NotifyCode::InvalidHookUrl, e.to_string()))?;
    ssrf::check_target(&url, state.allow_private_hooks)
        .await
        .map_err(|e| ApiError::new(NotifyCode::InvalidHookUrl, e.to_string()))?;
    let (hook, secret) = state
        .hooks
        .create(&owner, url.as_str(), &new.events)
        .await
        .map_err(db_down)?;
    Ok((StatusCode::CREATED, Json(CreatedHook { hook, secret })).into_response())
}

async fn list(State(state): State<NotifyState>, headers: HeaderMap) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    let hooks = state.hooks.list(&owner).await.map_err(db_down)?;
    Ok(Json(HookList { hooks }).into_response())
}

async fn delete(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    if state.hooks.delete(&owner, &id).await.map_err(db_down)? {
        // What it was owed is settled in batches, after this answer.
        state.settler.wake();
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(hook_not_found())
    }
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Limit>,
) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::new(
            NotifyCode::InvalidLimit,
            "limit must be within 1..100",
        ));
    }
    let deliveries = state
        .hooks
        .deliveries(&owner, &id, limit)
        .await
        .map_err(db_down)?
        .ok_or_else(hook_not_found)?;
    Ok(Json(DeliveryList { deliveries }).into_response())
}

async fn rotate_secret(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    let (hook, secret) = state
        .hooks
        .rotate_secret(&owner, &id, ROTATION_OVERLAP)
        .await
        .map_err(db_down)?
        .ok_or_else(hook_not_found)?;
    Ok(Json(RotatedHook {
        hook,
        secret,
        previous_secret_valid_for_secs: ROTATION_OVERLAP.as_secs(),
    })
    .into_response())
}

async fn retry(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let owner = owner(&state, &headers)?;
    match state
        .hooks
        .retry(&owner, &id, &delivery_id)
        .await
        .map_err(db_down)?
    {
        None => Err(ApiError::new(
            NotifyCode::DeliveryNotFound,
            "no such delivery of yours; GET /v1/hooks/{id}/deliveries lists a hook's deliveries",
        )),
        Some(false) => Err(ApiError::new(
            NotifyCode::HookDisabled,
            "the hook is disabled; register the URL again to receive events",
        )),
        Some(true) => {
            state.deliverer.wake();
            Ok((StatusCode::ACCEPTED, Json(Queued { queued: true })).into_response())
        }
    }
}
