//! Extractors that answer bad input in the contract's error shape instead of axum's plain text:
//! the caller (authenticated by bearer JWT), the client's address, JSON bodies and query
//! strings.

use crate::error::{ApiCode, ApiError, CommonCode};
use crate::limits::client_key;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use baedal_auth::{Claims, Role};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Claims);

impl Caller {
    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn id(&self) -> &str {
        &self.0.sub
    }

    /// Refuse callers of another role with 403 (the role, not the object, is wrong).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role == role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this endpoint is for {role} tokens; yours is {}",
                self.0.role
            )))
        }
    }

    pub fn actor(&self) -> baedal_domain::Actor {
        baedal_domain::Actor {
            role: self.0.role.as_str().to_owned(),
            id: self.0.sub.clone(),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = baedal_auth::bearer(header)?;
        let claims = state.identity.verify(token).await?;
        tracing::Span::current().record("caller", tracing::field::display(&claims.sub));
        Ok(Caller(claims))
    }
}

/// The client's address as the per-address limits key it ([`crate::limits::client_key`],
/// with `BAEDAL_RATE_TRUSTED_PROXY_HOPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let hops = state.limits.settings.trusted_proxy_hops;
        Ok(ClientAddr(client_key(peer, &forwarded, hops)))
    }
}

/// Largest request body accepted; an order is a few hundred bytes.
/// The pattern of a text field that may not be blank: at least one character that is not
/// white space. Spelled as an explicit class rather than `\S`, whose meaning differs between
/// regex engines (ECMAScript's `\s` leaves out U+0085, which Rust's `trim` and Python's `\s`
/// count as white space): a schemathesis run found a `store_id` of one U+0085 that the schema
/// allowed and the server refused. [`has_visible`] is the same rule in Rust.
pub const VISIBLE_PATTERN: &str = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]";

/// White space for [`VISIBLE_PATTERN`]: Unicode's `White_Space` (what `str::trim` removes),
/// ECMAScript's `\s` (adds U+FEFF) and Python's (adds U+001C..U+001F).
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{feff}' | '\u{1c}'..='\u{1f}')
}

/// Whether `value` has a character that is not white space (the rule of [`VISIBLE_PATTERN`]).
pub fn has_visible(value: &str) -> bool {
    value.chars().any(|c| !is_blank(c))
}

pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A JSON body. Malformed JSON is 400, a body of the wrong shape 422, a missing or wrong
/// content type 415 and an oversized body 413, all in the contract's error shape.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let (code, next): (ApiCode, String) = match &r {
        JsonRejection::JsonDataError(_) => (
            CommonCode::InvalidBody.into(),
            "send the fields the schema in /openapi.json describes".into(),
        ),
        JsonRejection::JsonSyntaxError(_) => {
            (ApiCode::MalformedJson, "send one JSON object".into())
        }
        JsonRejection::MissingJsonContentType(_) => (
            ApiCode::UnsupportedMediaType,
            "send Content-Type: application/json".into(),
        ),
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => (
            ApiCode::BodyTooLarge,
            format!("a body may be at most {} KiB", BODY_LIMIT_BYTES / 1024),
        ),
        // The body could not be read at all (the client stopped sending it).
        _ => (ApiCode::MalformedJson, "send the whole body again".into()),
    };
    ApiError::new(code, format!("{}; {next}", r.body_text()))
}

/// 422 `invalid_query` when query parameter `name` holds a NUL character: no stored value has
/// one, and PostgreSQL refuses it in a bound text (the query would fail as a 500).
pub fn no_nul(name: &str, value: Option<&str>) -> crate::error::ApiResult<()> {
    if value.is_some_and(|v| v.contains('\0')) {
        return Err(ApiError::new(
            ApiCode::InvalidQuery,
            format!("{name} holds a NUL character (%00), which no value may"),
        ));
    }
    Ok(())
}

/// A query string; a malformed one is 422 with the reason.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::new(
        ApiCode::InvalidQuery,
        format!(
            "{}: send the query parameters /openapi.json describes for this path",
            r.body_text()
        ),
    )
}
