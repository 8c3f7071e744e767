//! Sending a command to an order's workflow as a Temporal Update, and turning a refusal from its
//! validator into the contract's 409/404.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use baedal_domain::{Action, OrderView};
use baedal_workflows::{CommandRequest, CommandUpdate, OrderWorkflow, refusal_code};
use temporalio_client::WorkflowExecuteUpdateOptions;
use temporalio_client::errors::WorkflowUpdateError;

/// Send `action` for `order_id` on behalf of `caller`; answers the order as projected after it.
pub async fn send(
    state: &AppState,
    order_id: &str,
    action: Action,
    caller: &Caller,
    reason: Option<String>,
) -> ApiResult<OrderView> {
    crate::door_keeping::waiting_on("the order engine");
    let req = CommandRequest {
        actor: caller.actor(),
        reason,
    };
    state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(order_id.to_owned())
        .execute_update(
            CommandUpdate(action),
            req,
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| refusal(e, action))
}

/// The order as its workflow holds it, or `None` when the engine cannot say. Only for the rare
/// path where the read model has not yet caught up with a command that went through (a rider
/// retrying a claim whose answer was lost): never on a hot path, which reads the read model.
pub async fn engine_view(state: &AppState, order_id: &str) -> Option<OrderView> {
    state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(order_id.to_owned())
        .query(
            OrderWorkflow::order,
            (),
            temporalio_client::WorkflowQueryOptions::default(),
        )
        .await
        .inspect_err(|e| tracing::debug!(order_id, error = %e, "engine view unavailable"))
        .ok()
}

fn refusal(e: WorkflowUpdateError, action: Action) -> ApiError {
    match e {
        WorkflowUpdateError::Failed(failure) => match refusal_code(&failure) {
            Some("already_claimed") => ApiError::conflict("already_claimed", &failure.message),
            // Not this rider's delivery: as if it did not exist.
            Some("not_assigned_rider") => ApiError::order_not_found(),
            Some("invalid_transition") => {
                ApiError::conflict("invalid_transition", &failure.message)
            }
            // Not a refusal: the update itself failed.
            _ => ApiError::internal("the order engine", &failure.message),
        },
        // The workflow has closed: the order is in a terminal status.
        WorkflowUpdateError::NotFound(_) => ApiError::conflict(
            "invalid_transition",
            format!("cannot {} an order that is already finished", action.name()),
        ),
        WorkflowUpdateError::Rpc(status) => engine_error(&status, Some(&status)),
        other => ApiError::internal("the order engine", other),
    }
}

/// The gRPC codes that mean Temporal is down, overloaded or timed out: those its own client
/// retries as transient (`RETRYABLE_ERROR_CODES` in `temporalio_client`'s retry.rs, private
/// there), a deadline that ran out, and a transport cancelled under us. One of them reaching
/// us means the client's retries ran out.
const ENGINE_OUTAGE: [temporalio_client::tonic::Code; 9] = {
    use temporalio_client::tonic::Code;
    [
        Code::Unavailable,
        Code::DeadlineExceeded,
        Code::ResourceExhausted,
        Code::Aborted,
        Code::Internal,
        Code::Unknown,
        Code::DataLoss,
        Code::OutOfRange,
        Code::Cancelled,
    ]
};

/// A failed call to Temporal: an outage (503 with `Retry-After`: the same request, or the same
/// `Idempotency-Key`, finds what it started) for an [`ENGINE_OUTAGE`] code; anything else a
/// bug (500).
pub(crate) fn engine_error(
    e: impl std::fmt::Display,
    status: Option<&temporalio_client::tonic::Status>,
) -> ApiError {
    match status.map(|s| s.code()) {
        Some(code) if ENGINE_OUTAGE.contains(&code) => {
            ApiError::dependency_down("the order engine", e)
        }
        _ => ApiError::internal("the order engine", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use temporalio_client::tonic::{Code, Status};

    #[test]
    fn what_temporals_client_retries_is_an_outage_and_the_rest_a_bug() {
        for code in ENGINE_OUTAGE {
            let s = Status::new(code, "x");
            let e = engine_error(&s, Some(&s));
            assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE, "{code:?}");
            assert!(e.retry_after_secs.is_some(), "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::Unimplemented,
        ] {
            let s = Status::new(code, "x");
            let e = engine_error(&s, Some(&s));
            assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR, "{code:?}");
        }
        assert_eq!(
            engine_error("no status", None).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
