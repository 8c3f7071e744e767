//! Sending a command to an order's workflow as a Temporal Update, and turning a refusal from its
//! validator into the contract's 409/404.

use crate::error::{ApiCode, ApiError, ApiResult, answer_code, order_not_found};
use crate::extract::Caller;
use crate::state::AppState;
use baedal_domain::{Action, OrderView};
use baedal_workflows::{CommandRequest, CommandUpdate, OrderWorkflow, refusal_code};
use temporalio_client::errors::{WorkflowInteractionError, WorkflowUpdateError};
use temporalio_client::{WorkflowCancelOptions, WorkflowExecuteUpdateOptions};

/// Send `action` to `order` (as the read model shows it) on behalf of `caller`; answers the
/// order as projected after it.
///
/// The update carries an id made of the action, the caller and the version the caller saw:
/// a retry of the same command against the same version is deduplicated by the server (it
/// answers the first one's outcome and adds nothing to the order's history), while a command
/// against a newer version, or by someone else (two riders claiming), is a new update.
pub async fn send(
    state: &AppState,
    order: &OrderView,
    action: Action,
    caller: &Caller,
    reason: Option<String>,
) -> ApiResult<OrderView> {
    try_send(state, order, action, caller, reason)
        .await
        .map_err(|e| refusal(e, action))
}

/// The update id of `action` by `actor` against `version` (see [`send`]).
pub fn command_update_id(action: Action, actor: &str, version: u32) -> String {
    format!("{}-{actor}-v{version}", action.name())
}

async fn try_send(
    state: &AppState,
    order: &OrderView,
    action: Action,
    caller: &Caller,
    reason: Option<String>,
) -> Result<OrderView, WorkflowUpdateError> {
    crate::door_keeping::waiting_on("the order engine");
    let req = CommandRequest {
        actor: caller.actor(),
        reason,
    };
    state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(order.id.clone())
        .execute_update(
            CommandUpdate(action),
            req,
            WorkflowExecuteUpdateOptions::builder()
                .update_id(command_update_id(action, caller.id(), order.version))
                .build(),
        )
        .await
}

/// How an ops cancel was settled.
pub enum OpsCanceled {
    /// Through the `ops_cancel` update: the order as projected after it.
    Done(OrderView),
    /// The engine refused the update (the order took too many updates, or is too busy to take
    /// one now), so the cancel went through the workflow's cancellation path, which refunds
    /// and projects like an ops cancel; this is the order as the read model shows it by the
    /// time the answer is due (`canceled` once it has landed).
    Requested(OrderView),
}

/// Ops cancel `order`, which no engine refusal can lock out: when the update is refused for
/// reasons other than the order's status (the 2,000-updates limit, too many updates in
/// flight, a workflow task that does not finish in time), ops still get the money back through
/// Temporal's cancel request, which the workflow turns into a cancel with a refund.
pub async fn ops_cancel(
    state: &AppState,
    order: &OrderView,
    caller: &Caller,
    reason: String,
) -> ApiResult<OpsCanceled> {
    let action = Action::OpsCancel;
    match try_send(state, order, action, caller, Some(reason.clone())).await {
        Ok(view) => Ok(OpsCanceled::Done(view)),
        Err(WorkflowUpdateError::Rpc(status)) if locked_out(&status) => {
            tracing::warn!(order_id = %order.id, error = %status,
                "the engine refused the ops cancel update; canceling through Temporal's cancel request");
            metrics::counter!("baedal_ops_cancel_fallback_total").increment(1);
            let handle = state
                .temporal
                .get_workflow_handle::<OrderWorkflow>(order.id.clone());
            let opts = WorkflowCancelOptions::builder()
                .reason(format!("ops cancel by {}: {reason}", caller.id()))
                .request_id(format!("ops-cancel-{}", order.id))
                .build();
            match handle.cancel(opts).await {
                Ok(()) => {}
                Err(WorkflowInteractionError::NotFound(_)) => return Err(refusal_closed(action)),
                Err(WorkflowInteractionError::Rpc(status)) => {
                    return Err(engine_error(&status, Some(&status)));
                }
                Err(e) => return Err(ApiError::internal("the order engine", e)),
            }
            Ok(OpsCanceled::Requested(
                settled_view(state, &order.id).await?,
            ))
        }
        Err(e) => Err(refusal(e, action)),
    }
}

/// Whether the engine refused an update for what the workflow holds, not for the order's
/// status: too many updates in its life, too many in flight, or no answer in time.
fn locked_out(status: &temporalio_client::tonic::Status) -> bool {
    use temporalio_client::tonic::Code;
    matches!(
        status.code(),
        Code::FailedPrecondition | Code::ResourceExhausted | Code::DeadlineExceeded
    )
}

/// The order as the read model shows it once a cancel request has had time to land: looks
/// every 100 ms for a terminal status, for at most half the request timeout.
async fn settled_view(state: &AppState, order_id: &str) -> ApiResult<OrderView> {
    let until = tokio::time::Instant::now() + state.config.request_timeout / 2;
    loop {
        let view = state
            .read_model
            .get_order(order_id)
            .await?
            .ok_or_else(order_not_found)?;
        if view.status.is_terminal() || tokio::time::Instant::now() >= until {
            return Ok(view);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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
        WorkflowUpdateError::Failed(failure) => match refusal_code(&failure).map(answer_code) {
            // Not this rider's delivery: as if it did not exist.
            Some(ApiCode::OrderNotFound) => order_not_found(),
            Some(ApiCode::InvalidTransition) => ApiError::new(
                ApiCode::InvalidTransition,
                format!("{}; read the order for its status now", failure.message),
            ),
            Some(code) => ApiError::new(code, &failure.message),
            // Not a refusal: the update itself failed.
            None => ApiError::internal("the order engine", &failure.message),
        },
        // The workflow has closed: the order is in a terminal status.
        WorkflowUpdateError::NotFound(_) => refusal_closed(action),
        WorkflowUpdateError::Rpc(status) => engine_error(&status, Some(&status)),
        other => ApiError::internal("the order engine", other),
    }
}

fn refusal_closed(action: Action) -> ApiError {
    ApiError::new(
        ApiCode::InvalidTransition,
        format!(
            "cannot {} an order that is already finished; read the order for how it ended",
            action.name()
        ),
    )
}

/// The gRPC codes that mean Temporal is down, overloaded or timed out: those its own client
/// retries as transient (`RETRYABLE_ERROR_CODES` in `temporalio_client`'s retry.rs, private
/// there), a deadline that ran out, and a transport cancelled under us. One of them reaching
/// us means the client's retries ran out.
const ENGINE_OUTAGE: [temporalio_client::tonic::Code; 8] = {
    use temporalio_client::tonic::Code;
    [
        Code::Unavailable,
        Code::DeadlineExceeded,
        Code::Aborted,
        Code::Internal,
        Code::Unknown,
        Code::DataLoss,
        Code::OutOfRange,
        Code::Cancelled,
    ]
};

/// A failed call to Temporal, by what the caller should do next:
/// - an [`ENGINE_OUTAGE`] code: 503 with `Retry-After` (the same request, or the same
///   `Idempotency-Key`, finds what it started);
/// - `ResourceExhausted` (too many requests to the engine or to this order at once): 429
///   `engine_busy` with `Retry-After`;
/// - `FailedPrecondition` (the order has taken as many updates as the engine allows one
///   workflow): 409 `order_locked`, which ops cancel gets past (see [`ops_cancel`]);
/// - anything else: a bug on our side (500).
pub(crate) fn engine_error(
    e: impl std::fmt::Display,
    status: Option<&temporalio_client::tonic::Status>,
) -> ApiError {
    use temporalio_client::tonic::Code;
    match status.map(|s| s.code()) {
        Some(code) if ENGINE_OUTAGE.contains(&code) => {
            ApiError::dependency_down("the order engine", e)
        }
        Some(Code::ResourceExhausted) => {
            tracing::warn!(error = %e, "the order engine is busy");
            ApiError::new(
                ApiCode::EngineBusy,
                "the order engine is taking too many requests for this right now: retry after Retry-After",
            )
        }
        Some(Code::FailedPrecondition) => {
            tracing::warn!(error = %e, "the order engine refused a command for good");
            ApiError::new(
                ApiCode::OrderLocked,
                "this order takes no more commands (it was sent too many); ops can still cancel it",
            )
        }
        _ => ApiError::internal("the order engine", e),
    }
}

/// [`engine_error`] of an RPC status.
pub(crate) fn refused_by_engine(status: &temporalio_client::tonic::Status) -> ApiError {
    engine_error(status, Some(status))
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
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE, "{code:?}");
            assert!(e.retry_after_secs.is_some(), "{code:?}");
        }
        let busy = Status::new(Code::ResourceExhausted, "x");
        let e = engine_error(&busy, Some(&busy));
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after_secs.is_some());
        let locked = Status::new(Code::FailedPrecondition, "update limit");
        let e = engine_error(&locked, Some(&locked));
        assert_eq!(
            (e.status(), e.code),
            (StatusCode::CONFLICT, ApiCode::OrderLocked)
        );
        for code in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unimplemented,
        ] {
            let s = Status::new(code, "x");
            let e = engine_error(&s, Some(&s));
            assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR, "{code:?}");
        }
        assert_eq!(
            engine_error("no status", None).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
