//! Extractors that answer bad input in the contract's error shape instead of axum's plain text:
//! the caller (authenticated by bearer JWT), JSON bodies and query strings.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use baedal_auth::{Claims, Role};
use serde::de::DeserializeOwned;

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
    let (status, code) = match &r {
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_body"),
    };
    ApiError::new(status, code, r.body_text())
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
    ApiError::unprocessable("invalid_query", r.body_text())
}
