//! `/v1/me/notifications`: how a customer hears about their orders (the KakaoTalk channel, the
//! in-app inbox) and the phone number KakaoTalk reaches them on. The notification service
//! keeps the choices and validates the number; this module authorizes and forwards.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller};
use crate::notification::{notification_service, pass_on};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use baedal_auth::Role;
use baedal_notification_client::PrefsUpdate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(get_prefs, put_prefs))
}

/// A customer's notification channels.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefs {
    /// AlimTalk messages on every status change (an SMS when the number has no KakaoTalk).
    /// Needs a phone number, in this request or on file (409 `phone_required` otherwise).
    pub kakao: bool,
    /// Keep the messages in the in-app inbox.
    pub inbox: bool,
    /// A Korean mobile number (`010-1234-5678`, `+82 10-1234-5678`); absent keeps the one on
    /// file. Answered in national form.
    #[schema(
        max_length = 20,
        pattern = r"^(\+82[ -]?|0)(10[ -]?[0-9]{4}|1[16789][ -]?[0-9]{3,4})[ -]?[0-9]{4}$"
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

fn customer(caller: &Caller) -> ApiResult<String> {
    match caller.role() {
        Role::Customer => Ok(format!("customer:{}", caller.id())),
        _ => Err(ApiError::forbidden(
            "notification channels are a customer's: stores and riders read their inbox",
        )),
    }
}

/// The caller's channels (the inbox only, until they choose).
#[utoipa::path(get, path = "/v1/me/notifications", security(("bearer" = [])),
    responses((status = 200, description = "{kakao, inbox, phone}", body = NotificationPrefs),
        (status = 403, description = "not a customer")))]
async fn get_prefs(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let who = customer(&caller)?;
    let answer = notification_service(&state)?.channels(&who).await;
    pass_on(StatusCode::OK, answer)
}

/// Choose the channels, and give the number KakaoTalk should use.
#[utoipa::path(put, path = "/v1/me/notifications", security(("bearer" = [])), request_body = NotificationPrefs,
    responses((status = 200, description = "{kakao, inbox, phone}: what is now in force", body = NotificationPrefs),
        (status = 403, description = "not a customer"),
        (status = 409, description = "`phone_required`: KakaoTalk asked for and no number on file"),
        (status = 422, description = "`invalid_phone`: not a Korean mobile number")))]
async fn put_prefs(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NotificationPrefs>,
) -> ApiResult<Response> {
    let who = customer(&caller)?;
    let update = PrefsUpdate {
        kakao: body.kakao,
        inbox: body.inbox,
        phone: body.phone,
    };
    let answer = notification_service(&state)?
        .set_channels(&who, &update)
        .await;
    pass_on(StatusCode::OK, answer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_states_the_phone_pattern_the_notification_service_enforces() {
        let schema = <super::NotificationPrefs as utoipa::PartialSchema>::schema();
        let schema = serde_json::to_value(schema).unwrap();
        let phone = &schema["properties"]["phone"];
        assert_eq!(
            phone["pattern"],
            baedal_domain::contact::KOREAN_MOBILE_PATTERN
        );
    }
}
