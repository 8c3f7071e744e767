//! `/v1/me/notifications`: how a customer hears about their orders (the KakaoTalk channel, the
//! in-app inbox) and the phone number KakaoTalk reaches them on; `/v1/me/phone/verify` and
//! `/v1/me/phone/confirm`: proving that number with a one-time code, which KakaoTalk needs.
//! `/v1/me/inbox`: the customer's newest in-app notifications. The notification service keeps
//! the choices, the codes, the inbox and validates the number; this module authorizes and
//! forwards.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::notification::{notification_service, pass_on};
use crate::pagination::page_limit;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use baedal_auth::Role;
use baedal_notification_client::PrefsUpdate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(get_prefs, put_prefs))
        .routes(routes!(verify_phone))
        .routes(routes!(confirm_phone))
        .routes(routes!(inbox))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InboxQuery {
    /// How many entries (1..100, default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// The caller's newest in-app notifications, newest first.
#[utoipa::path(get, path = "/v1/me/inbox", params(InboxQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"notifications\": [{id, order_id, seq, status, message, created_at}]}: newest first"),
        (status = 403, description = "not a customer"),
        (status = 422, description = "`invalid_limit`")))]
async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InboxQuery>,
) -> ApiResult<Response> {
    let who = customer(&caller)?;
    let limit = page_limit(q.limit, 20, 100)?;
    let answer = notification_service(&state)?.newest(&who, limit).await;
    pass_on(StatusCode::OK, answer)
}

/// The number to send a one-time code to.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneToVerify {
    /// A Korean mobile number (`010-1234-5678`, `+82 10-1234-5678`).
    #[schema(
        max_length = 20,
        pattern = r"^(\+82[ -]?|0)(10[ -]?[0-9]{4}|1[16789][ -]?[0-9]{3,4})[ -]?[0-9]{4}$"
    )]
    pub phone: String,
}

/// The code the customer received.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneCode {
    /// Six digits, as the KakaoTalk message (or its SMS) showed them.
    #[schema(min_length = 6, max_length = 6, pattern = r"^[0-9]{6}$")]
    pub code: String,
}

/// Where the code went and for how long it is valid.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSentAnswer {
    /// The number, in national form.
    pub phone: String,
    pub expires_in_secs: u64,
}

/// The number proven, now the one on file.
#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneVerifiedAnswer {
    pub phone: String,
    pub verified: bool,
}

/// A customer's notification channels.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefs {
    /// AlimTalk messages on every status change (an SMS when the number has no KakaoTalk).
    /// Needs a phone number, in this request or on file (409 `phone_required` otherwise),
    /// proven with `POST /v1/me/phone/verify` and `/confirm` (409 `phone_not_verified`).
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
        (status = 409, description = "`phone_required`: KakaoTalk asked for and no number on file; `phone_not_verified`: the number was not proven with a code"),
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

/// Send a one-time code to a number through the KakaoTalk gateway: KakaoTalk goes only to a
/// number proven with it (`POST /v1/me/phone/confirm`). A new code replaces the last.
#[utoipa::path(post, path = "/v1/me/phone/verify", security(("bearer" = [])), request_body = PhoneToVerify,
    responses((status = 202, description = "the code is on its way", body = CodeSentAnswer),
        (status = 403, description = "not a customer"),
        (status = 409, description = "`kakao_off`: this deployment has no KakaoTalk gateway"),
        (status = 422, description = "`invalid_phone`: not a Korean mobile number, or the gateway refused it"),
        (status = 429, description = "`too_many_codes`: too many codes to you or to this number lately; `Retry-After` says when"),
        (status = 503, description = "`kakao_unavailable`: the gateway did not take it; retry after `Retry-After`")))]
async fn verify_phone(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PhoneToVerify>,
) -> ApiResult<Response> {
    let who = customer(&caller)?;
    let answer = notification_service(&state)?
        .send_phone_code(&who, &body.phone)
        .await;
    pass_on(StatusCode::ACCEPTED, answer)
}

/// Prove the number of the last code sent with that code: it becomes the number on file.
#[utoipa::path(post, path = "/v1/me/phone/confirm", security(("bearer" = [])), request_body = PhoneCode,
    responses((status = 200, description = "the number is proven", body = PhoneVerifiedAnswer),
        (status = 403, description = "not a customer"),
        (status = 409, description = "`wrong_code`: the message says how many tries are left; `no_code_pending`: ask for a code first; `code_expired`: ask for a new one"),
        (status = 422, description = "`invalid_code`: not six digits"),
        (status = 429, description = "`too_many_attempts`: this code is used up; ask for a new one")))]
async fn confirm_phone(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PhoneCode>,
) -> ApiResult<Response> {
    let who = customer(&caller)?;
    let answer = notification_service(&state)?
        .confirm_phone(&who, &body.code)
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
        let schema = <super::PhoneToVerify as utoipa::PartialSchema>::schema();
        let schema = serde_json::to_value(schema).unwrap();
        assert_eq!(
            schema["properties"]["phone"]["pattern"],
            baedal_domain::contact::KOREAN_MOBILE_PATTERN
        );
    }
}
