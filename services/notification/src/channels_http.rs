//! The channels' HTTP door on the notification service: a customer's choices (through the
//! api's `/v1/me/notifications`, which names the customer in `x-baedal-owner`), and what the
//! KakaoTalk channel sent about an order (service token or ops).

use crate::channels::{self, PrefsError};
use crate::code::{ApiError, ApiResult, NotifyCode};
use crate::{NotifyState, kakao};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use baedal_notification_client::{ChannelPrefs, KakaoMessages, OWNER, PrefsUpdate};
use serde::Deserialize;

pub fn routes() -> Router<NotifyState> {
    Router::new()
        .route("/v1/channels", get(get_prefs).put(put_prefs))
        .route("/v1/kakao/messages", get(messages))
}

/// The customer a request is about (`customer:<id>`), named by the api.
pub(crate) fn customer(state: &NotifyState, headers: &HeaderMap) -> ApiResult<String> {
    baedal_http::require_service_token(headers, &state.service_token)?;
    let owner = headers
        .get(OWNER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match owner.strip_prefix("customer:") {
        Some(id) if !id.is_empty() && id.len() <= 100 => Ok(owner.to_owned()),
        _ => Err(ApiError::new(
            NotifyCode::MissingOwner,
            "x-baedal-owner must be `customer:<customer_id>`",
        )),
    }
}

pub(crate) fn db_down(e: sqlx::Error) -> ApiError {
    ApiError::dependency_down("the notification store", e)
}

async fn get_prefs(
    State(state): State<NotifyState>,
    headers: HeaderMap,
) -> ApiResult<Json<ChannelPrefs>> {
    let who = customer(&state, &headers)?;
    let prefs = channels::get(&state.db.pool, &who).await.map_err(db_down)?;
    Ok(Json(prefs.into()))
}

async fn put_prefs(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<PrefsUpdate>, JsonRejection>,
) -> ApiResult<Json<ChannelPrefs>> {
    let who = customer(&state, &headers)?;
    let update = baedal_http::json_body(body)?;
    match channels::set(&state.db, &who, &update).await {
        Ok(p) => Ok(Json(p.into())),
        Err(e @ PrefsError::InvalidPhone) => {
            Err(ApiError::new(NotifyCode::InvalidPhone, e.to_string()))
        }
        Err(e @ PrefsError::PhoneRequired) => {
            Err(ApiError::new(NotifyCode::PhoneRequired, e.to_string()))
        }
        Err(e @ PrefsError::PhoneNotVerified) => {
            Err(ApiError::new(NotifyCode::PhoneNotVerified, e.to_string()))
        }
        Err(PrefsError::Db(e)) => Err(db_down(e)),
    }
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    order_id: String,
}

async fn messages(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<Json<KakaoMessages>> {
    baedal_http::require_service_or_ops(&headers, &state.service_token, &state.identity).await?;
    let messages = kakao::of_order(&state.db, &q.order_id)
        .await
        .map_err(db_down)?;
    Ok(Json(KakaoMessages { messages }))
}
