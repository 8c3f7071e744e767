//! The HTTP door of phone verification (`crate::phones`), through the api's
//! `/v1/me/phone/verify` and `/v1/me/phone/confirm`, which name the customer in
//! `x-baedal-owner`.

use crate::NotifyState;
use crate::channels_http::{customer, db_down};
use crate::code::{ApiError, ApiResult, NotifyCode};
use crate::phones::{ConfirmError, SendError};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use baedal_notification_client::{CodeSent, PhoneConfirm, PhoneVerified, PhoneVerify};

pub fn routes() -> Router<NotifyState> {
    Router::new()
        .route("/v1/phone/verify", post(verify))
        .route("/v1/phone/confirm", post(confirm))
}

fn phones(state: &NotifyState) -> ApiResult<&crate::phones::Phones> {
    state.phones.as_ref().ok_or_else(|| {
        ApiError::new(
            NotifyCode::KakaoOff,
            "this deployment has no KakaoTalk channel (BAEDAL_KAKAO_URL): notifications come to \
             the in-app inbox",
        )
    })
}

async fn verify(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<PhoneVerify>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CodeSent>)> {
    let who = customer(&state, &headers)?;
    let body = baedal_http::json_body(body)?;
    match phones(&state)?.send_code(&who, &body.phone).await {
        Ok(sent) => Ok((
            StatusCode::ACCEPTED,
            Json(CodeSent {
                phone: sent.phone,
                expires_in_secs: sent.expires_in.as_secs(),
            }),
        )),
        Err(e @ (SendError::InvalidPhone | SendError::NumberRefused)) => {
            Err(ApiError::new(NotifyCode::InvalidPhone, e.to_string()))
        }
        Err(e @ SendError::TooManySends(_, _, wait)) => {
            Err(ApiError::new(NotifyCode::TooManyCodes, e.to_string()).retry_after(wait.as_secs()))
        }
        Err(e @ SendError::Gateway(_)) => {
            Err(ApiError::new(NotifyCode::KakaoUnavailable, e.to_string()))
        }
        Err(SendError::Db(e)) => Err(db_down(e)),
    }
}

async fn confirm(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<PhoneConfirm>, JsonRejection>,
) -> ApiResult<Json<PhoneVerified>> {
    let who = customer(&state, &headers)?;
    let body = baedal_http::json_body(body)?;
    let e = match phones(&state)?.confirm(&who, &body.code).await {
        Ok(phone) => {
            return Ok(Json(PhoneVerified {
                phone: crate::channels::national(&phone),
                verified: true,
            }));
        }
        Err(ConfirmError::Db(e)) => return Err(db_down(e)),
        Err(e) => e,
    };
    let code = match e {
        ConfirmError::Malformed => NotifyCode::InvalidCode,
        ConfirmError::NoCode => NotifyCode::NoCodePending,
        ConfirmError::Expired => NotifyCode::CodeExpired,
        ConfirmError::TooManyAttempts => NotifyCode::TooManyAttempts,
        ConfirmError::Wrong(_) | ConfirmError::Db(_) => NotifyCode::WrongCode,
    };
    Err(ApiError::new(code, e.to_string()))
}
