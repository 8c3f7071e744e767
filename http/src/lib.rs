//! The one error shape of every baedal HTTP door: `{"error": {"code", "message"}}` with a
//! fitting status, and `Retry-After` where the caller should come back later; plus the
//! service-token guard the internal services share.
//!
//! An error's code is typed: each door declares its own enum of codes ([`error_codes!`]),
//! each code with its wire name, its HTTP status and its retry rule ([`ErrorCode`]), and its
//! errors are [`ApiError`]s of that enum, so a door matches on codes instead of comparing
//! strings, and a code cannot be answered with another status. The codes every door shares
//! (authentication, bodies, outages, bugs) are [`CommonCode`]s, which each door's enum
//! takes in. (The order's own codes are `baedal_domain::OrderCode`, which has no status: see
//! `baedal_domain::code` for where each kind of code lives.)
//!
//! Two kinds of failure on our side are kept apart: a dependency that is down or slow
//! ([`ApiError::dependency_down`]: 503 with `Retry-After`, retrying helps) and a bug
//! ([`ApiError::internal`]: 500 with the request id to report, never `Retry-After`).
//!
//! Also the probes every role answers alike: `/healthz`, and `/readyz` from background checks
//! ([`readiness`]).
//!
//! Used by the api and the payment and notification services so a client sees one shape
//! everywhere; with [`observe`], every door also reports each request the same way (RED
//! metrics by route template, and a server span continuing the caller's trace). It must not
//! know any route or any order rule.

mod error;
pub mod hardening;
pub mod observe;
pub mod readiness;

pub use axum::http::StatusCode;
pub use error::{ApiError, CommonCode, CommonError, ErrorCode, check_codes};

use axum::Json;
use axum::http::header;
use serde::Deserialize;
use serde_json::json;

fn authorization(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

impl From<baedal_auth::AuthError> for CommonError {
    /// Unknown caller 401, known but not allowed 403, identity provider unreachable 503.
    fn from(e: baedal_auth::AuthError) -> Self {
        let code = if e.is_unavailable() {
            CommonCode::IdentityProviderUnavailable
        } else if e.is_forbidden() {
            CommonCode::Forbidden
        } else {
            CommonCode::Unauthorized
        };
        CommonError::common(code, e.to_string())
    }
}

impl<C: ErrorCode> From<baedal_auth::AuthError> for ApiError<C> {
    fn from(e: baedal_auth::AuthError) -> Self {
        CommonError::from(e).into()
    }
}

/// Guard for service endpoints that read or flip switches: the service token or an ops JWT.
pub async fn require_service_or_ops(
    headers: &axum::http::HeaderMap,
    service_token: &str,
    identity: &baedal_auth::Identity,
) -> Result<(), CommonError> {
    Ok(identity
        .service_or_ops(authorization(headers), service_token)
        .await?)
}

/// Guard for service endpoints that move money or send messages: the service token only.
pub fn require_service_token(
    headers: &axum::http::HeaderMap,
    service_token: &str,
) -> Result<(), CommonError> {
    Ok(baedal_auth::service_token_only(
        authorization(headers),
        service_token,
    )?)
}

/// A JSON body for service endpoints, refused in the error shape when it does not parse.
pub fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, CommonError> {
    body.map(|axum::Json(v)| v)
        .map_err(|e| CommonError::common(CommonCode::InvalidBody, e.body_text()))
}

/// Deserialize a `u32` that JSON may write as `4` or `4.0`: JSON Schema's `integer` is any
/// number without a fraction, so a client generated from the document may send either.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = n
        .as_u64()
        .map(|v| v as f64)
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0))
        .ok_or_else(|| D::Error::custom(format!("expected a whole number, got {n}")))?;
    if !(0.0..=f64::from(u32::MAX)).contains(&whole) {
        return Err(D::Error::custom(format!("{n} is out of range")));
    }
    Ok(whole as u32)
}

/// [`whole_number`] for a field that may be left out or `null` (use with `#[serde(default)]`).
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct Whole(#[serde(deserialize_with = "whole_number")] u32);
    Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
}

/// `/healthz` of every role: the process is up and answering.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Q {
        #[serde(deserialize_with = "super::whole_number")]
        n: u32,
    }

    fn n(json: &str) -> Result<u32, String> {
        serde_json::from_str::<Q>(json)
            .map(|q| q.n)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_in_either_spelling_and_nothing_else() {
        assert_eq!(n(r#"{"n": 4}"#), Ok(4));
        assert_eq!(n(r#"{"n": 4.0}"#), Ok(4));
        assert!(n(r#"{"n": 4.5}"#).is_err());
        assert!(n(r#"{"n": -1}"#).is_err());
        assert!(n(r#"{"n": 4294967296}"#).is_err());
        assert!(n(r#"{"n": "4"}"#).is_err());
    }
}
