//! The error shape and its typed codes (see the crate's docs).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::fmt;

/// An error code of one door: its name on the wire, its HTTP status, and whether the caller
/// should come back later. Declared with [`error_codes!`].
pub trait ErrorCode: Copy + fmt::Debug + From<CommonCode> + Send + Sync + 'static {
    /// The code as the answer's `error.code` writes it.
    fn as_str(self) -> &'static str;
    /// The status every answer with this code has.
    fn status(self) -> StatusCode;
    /// The retry rule: `Some(secs)` when the same request may work later (the answer carries
    /// `Retry-After`, these seconds unless the error names others), `None` when it will get
    /// the same answer (no `Retry-After`).
    fn retry_after(self) -> Option<u64>;
}

/// The codes every baedal door answers with, whatever it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommonCode {
    /// No, a bad or an expired bearer token.
    Unauthorized,
    /// A token that may not call this (another role, not the service).
    Forbidden,
    /// The identity provider's keys could not be had: retry shortly.
    IdentityProviderUnavailable,
    /// A body of the wrong shape.
    InvalidBody,
    /// A dependency (database, engine, another service) is down or slow: retry shortly.
    TemporarilyUnavailable,
    /// A bug on our side: report the request id, do not retry.
    InternalError,
}

impl CommonCode {
    pub const ALL: [CommonCode; 6] = [
        CommonCode::Unauthorized,
        CommonCode::Forbidden,
        CommonCode::IdentityProviderUnavailable,
        CommonCode::InvalidBody,
        CommonCode::TemporarilyUnavailable,
        CommonCode::InternalError,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CommonCode::Unauthorized => "unauthorized",
            CommonCode::Forbidden => "forbidden",
            CommonCode::IdentityProviderUnavailable => "identity_provider_unavailable",
            CommonCode::InvalidBody => "invalid_body",
            CommonCode::TemporarilyUnavailable => "temporarily_unavailable",
            CommonCode::InternalError => "internal_error",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            CommonCode::Unauthorized => StatusCode::UNAUTHORIZED,
            CommonCode::Forbidden => StatusCode::FORBIDDEN,
            CommonCode::IdentityProviderUnavailable | CommonCode::TemporarilyUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CommonCode::InvalidBody => StatusCode::UNPROCESSABLE_ENTITY,
            CommonCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const fn retry_after(self) -> Option<u64> {
        match self {
            CommonCode::IdentityProviderUnavailable => Some(5),
            CommonCode::TemporarilyUnavailable => Some(2),
            CommonCode::Unauthorized
            | CommonCode::Forbidden
            | CommonCode::InvalidBody
            | CommonCode::InternalError => None,
        }
    }

    /// The common code written as `s`, as a client reads an answer.
    pub fn parse(s: &str) -> Option<CommonCode> {
        CommonCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Declare a door's enum of error codes, each as `Variant = ("wire_name", STATUS)` or
/// `Variant = ("wire_name", STATUS, retry_after = SECS)` (`STATUS` a [`StatusCode`] constant),
/// with a `Common(CommonCode)` variant for the codes every door shares. It gets
/// [`ErrorCode`], `From<CommonCode>`, `as_str` (a `const fn`), `OWN` (its own codes) and
/// `parse` (for a client reading an answer).
#[macro_export]
macro_rules! error_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = ($code:literal, $status:ident $(, retry_after = $secs:literal)?),
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code every baedal door answers with.
            Common($crate::CommonCode),
        }

        impl $name {
            /// This door's own codes (the shared ones are `CommonCode::ALL`).
            pub const OWN: &'static [$name] = &[$($name::$variant),*];

            /// The code as the answer's `error.code` writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                    $name::Common(c) => c.as_str(),
                }
            }

            /// The code written as `s`, as a client reads an answer.
            #[allow(dead_code)] // for the door's clients: the door itself writes codes
            pub fn parse(s: &str) -> Option<Self> {
                Self::OWN
                    .iter()
                    .copied()
                    .find(|c| c.as_str() == s)
                    .or_else(|| $crate::CommonCode::parse(s).map($name::Common))
            }
        }

        impl $crate::ErrorCode for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }

            fn status(self) -> $crate::StatusCode {
                match self {
                    $($name::$variant => $crate::StatusCode::$status,)*
                    $name::Common(c) => c.status(),
                }
            }

            fn retry_after(self) -> Option<u64> {
                match self {
                    $($name::$variant => None::<u64> $(.or(Some($secs)))?,)*
                    $name::Common(c) => c.retry_after(),
                }
            }
        }

        impl From<$crate::CommonCode> for $name {
            fn from(c: $crate::CommonCode) -> Self {
                $name::Common(c)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Whether a door's codes hold together: each written once (its own and the common ones
/// apart), and `Retry-After` exactly on the statuses that mean "come back later" (429, 503).
/// For each door's tests.
pub fn check_codes<C: ErrorCode>(own: &[C]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let common = CommonCode::ALL.into_iter().map(C::from);
    for code in own.iter().copied().chain(common) {
        if !seen.insert(code.as_str()) {
            return Err(format!("{} is written twice", code.as_str()));
        }
        let later = matches!(
            code.status(),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        if later != code.retry_after().is_some() {
            return Err(format!(
                "{} is {} with retry_after {:?}",
                code.as_str(),
                code.status(),
                code.retry_after()
            ));
        }
    }
    Ok(())
}

/// An error answer: a code of the door's enum `C`, a message that says what to do next, and
/// the seconds to come back after (for a code whose rule is to retry).
#[derive(Debug, Clone)]
pub struct ApiError<C> {
    pub code: C,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

/// An error of one of the [`CommonCode`]s, before it is an error of some door: what the shared
/// guards and extractors of this crate answer, turned into the door's own by `?`.
pub type CommonError = ApiError<CommonCode>;

impl CommonError {
    pub fn common(code: CommonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_secs: code.retry_after(),
        }
    }
}

impl<C: ErrorCode> From<CommonError> for ApiError<C> {
    fn from(e: CommonError) -> Self {
        Self {
            code: e.code.into(),
            message: e.message,
            retry_after_secs: e.retry_after_secs,
        }
    }
}

impl<C: ErrorCode> ApiError<C> {
    /// An error with `code`, its status and its retry rule (the code's own `Retry-After`).
    pub fn new(code: impl Into<C>, message: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            code,
            message: message.into(),
            retry_after_secs: code.retry_after(),
        }
    }

    /// Come back after `secs` rather than after the code's own default. Only for a code whose
    /// rule is to retry: on any other it changes nothing.
    pub fn retry_after(mut self, secs: u64) -> Self {
        debug_assert!(
            self.code.retry_after().is_some(),
            "{} is not retried",
            self.code.as_str()
        );
        if self.code.retry_after().is_some() {
            self.retry_after_secs = Some(secs);
        }
        self
    }

    /// The answer's status: its code's.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The role, not the object, is wrong.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(CommonCode::Forbidden, message)
    }

    /// A dependency (database, engine) is down or overloaded: retrying shortly may work.
    pub fn dependency_down(what: &str, err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "{what} unavailable");
        Self::new(
            CommonCode::TemporarilyUnavailable,
            format!("{what} is temporarily unavailable; try again shortly"),
        )
    }

    /// Something failed that retrying will not fix (a bug): logged in full with the request
    /// id, answered as 500 with that id (the HTTP door adds it) and no `Retry-After`.
    pub fn internal(what: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{what} failed unexpectedly");
        Self::new(
            CommonCode::InternalError,
            format!("{what} failed unexpectedly; this is a bug on our side, report the request_id"),
        )
    }
}

impl<C: ErrorCode> IntoResponse for ApiError<C> {
    fn into_response(self) -> Response {
        let mut resp = (
            self.code.status(),
            Json(json!({"error": {"code": self.code.as_str(), "message": self.message}})),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    error_codes! {
        /// A door's codes, for the tests.
        enum TestCode {
            Gone = ("gone", NOT_FOUND),
            Busy = ("busy", TOO_MANY_REQUESTS, retry_after = 3),
        }
    }

    #[test]
    fn a_code_carries_its_status_and_retry_rule_into_the_answer() {
        assert_eq!(check_codes(TestCode::OWN), Ok(()));
        let gone = ApiError::<TestCode>::new(TestCode::Gone, "no such thing").into_response();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert!(gone.headers().get(header::RETRY_AFTER).is_none());
        let busy = ApiError::<TestCode>::new(TestCode::Busy, "later").into_response();
        assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "3");
        let busy = ApiError::<TestCode>::new(TestCode::Busy, "later").retry_after(9);
        assert_eq!(busy.retry_after_secs, Some(9));
        let common: ApiError<TestCode> =
            CommonError::common(CommonCode::TemporarilyUnavailable, "down").into();
        assert_eq!(
            common.code,
            TestCode::Common(CommonCode::TemporarilyUnavailable)
        );
        assert_eq!(common.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(common.retry_after_secs, Some(2));
        for code in TestCode::OWN
            .iter()
            .copied()
            .chain(CommonCode::ALL.map(TestCode::from))
        {
            assert_eq!(TestCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(TestCode::parse("nonsense"), None);
    }

    #[test]
    fn codes_written_twice_or_retried_on_the_wrong_status_are_caught() {
        error_codes! {
            enum Twice {
                Again = ("forbidden", FORBIDDEN),
            }
        }
        error_codes! {
            enum Late {
                Conflict = ("conflict", CONFLICT, retry_after = 1),
            }
        }
        error_codes! {
            enum Never {
                Down = ("down", SERVICE_UNAVAILABLE),
            }
        }
        assert!(check_codes(Twice::OWN).is_err());
        assert!(check_codes(Late::OWN).is_err());
        assert!(check_codes(Never::OWN).is_err());
    }
}
