//! Refusals across the workflow boundary, typed: a validator's or handler's [`Refusal`] leaves
//! the workflow as an application failure whose type is the refusal's code, and the api reads
//! that type back instead of parsing a message.
//!
//! The SDK (1.1) wraps whatever error an update returns in an untyped application failure and
//! encodes the error's `source()` as that failure's cause. So the typed failure travels as the
//! cause: [`refused`] builds an error whose source is the typed failure, and [`refusal_code`]
//! finds the first failure in the cause chain whose type is a refusal code.

use baedal_domain::{OrderCode, Refusal};
use temporalio_common::protos::temporal::api::failure::v1::Failure;
use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_sdk::ApplicationFailure;

/// The error an update returns for `refusal`.
pub fn refused(refusal: Refusal) -> Box<dyn std::error::Error + Send + Sync> {
    let typed = ApplicationFailure::builder(refusal.to_string())
        .type_name(refusal.code().as_str().to_owned())
        .non_retryable(true)
        .build();
    Box::new(Refused(typed))
}

#[derive(Debug)]
struct Refused(ApplicationFailure);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// The refusal code a failed update carries (one of [`Refusal::CODES`]), if it is a refusal.
pub fn refusal_code(failure: &Failure) -> Option<OrderCode> {
    let mut next = Some(failure);
    while let Some(f) = next {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && let Some(code) =
                OrderCode::parse(&info.r#type).filter(|c| Refusal::CODES.contains(c))
        {
            return Some(code);
        }
        next = f.cause.as_deref();
    }
    None
}
