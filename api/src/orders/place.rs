//! Placing an order: validate, price from the catalog, then update-with-start the order's
//! workflow and wait for the charge.
//!
//! The order id is derived from the customer and the `Idempotency-Key` (UUIDv5), so a retry
//! addresses the same workflow id; update-with-start with `UseExisting` re-attaches to it
//! instead of starting another, and the payment service charges once per order id. The api
//! records each key with its request hash and when it was first seen (`idempotency_keys`): the
//! same key with another body is refused (422) before anything starts, and a key is answered
//! the same way for `BAEDAL_IDEMPOTENCY_WINDOW`, then refused (422) whatever the engine still
//! remembers, so a reused key can never charge again. The hash also travels with the order, so
//! the `place` update's validator refuses another body too.

use super::keys::{attempt_gone, check_key, check_known, expired, mark_started, reused};
use super::pricing::price;
use super::request::{PlaceOrderBody, order_id_for, request_hash, validate};
use crate::commands::{engine_error, refused_by_engine};
use crate::door::Admission;
use crate::door_keeping::waiting_on;
use crate::error::{ApiCode, ApiError, ApiResult, answer_code};
use crate::state::AppState;
use baedal_domain::{OrderCode, OrderView, PlaceFailure, PlaceOutcome};
use baedal_readmodel::IdempotencyKey;
use baedal_workflows::{
    OrderWorkflow, PlaceRequest, TASK_QUEUE, refusal_code, start_search_attributes,
};
use std::time::Instant;
use temporalio_client::errors::{
    WorkflowQueryError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowQueryOptions, WorkflowUpdateWithStartOptions,
};

/// How a placement that established no order is answered.
fn failure(f: PlaceFailure) -> ApiError {
    match f.code {
        OrderCode::IdempotencyKeyExpired => expired(),
        OrderCode::PaymentUnavailable => {
            let e = ApiError::new(ApiCode::PaymentUnavailable, f.message);
            match f.retry_after_secs {
                Some(secs) => e.retry_after(secs),
                None => e,
            }
        }
        code => ApiError::new(answer_code(code), f.message),
    }
}

fn outcome(o: PlaceOutcome) -> ApiResult<OrderView> {
    match o {
        PlaceOutcome::Placed { order } => Ok(*order),
        PlaceOutcome::Failed { failure: f } => Err(failure(f)),
    }
}

/// How long one `place` update id stands for a key's retries (see [`place_update_id`]).
pub const PLACE_UPDATE_WINDOW_SECS: u64 = 5;

/// The update id of a place-order that must reach the engine: the same for every retry of a
/// key within one [`PLACE_UPDATE_WINDOW_SECS`] window, so the server deduplicates them into one
/// update (a client hammering its key adds one update per window at most, instead of five
/// history events per request and, at 2,000 updates, a workflow nobody can command any more).
/// A new window gets a new id, so a retry after `Retry-After` charges again when payment was
/// unavailable.
pub fn place_update_id(unix_secs: u64) -> String {
    format!("place-{}", unix_secs / PLACE_UPDATE_WINDOW_SECS)
}

fn now_update_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    place_update_id(secs)
}

/// How a place-order was answered.
#[derive(Debug)]
pub enum Placed {
    /// The engine established it now (or answered a retry that had to reach it).
    New(OrderView),
    /// This key already established it: answered from the read model, nothing asked of the
    /// engine or the payment door.
    Replayed(OrderView),
}

/// Place the order (or find the one this key already placed) and answer the paid order.
///
/// A key that already established an order is answered from what baedal stores (the key's
/// record and the read model), before the payment door and without calling Temporal: a
/// retry whose 201 was lost gets its order even while payment sheds load, and a thousand
/// retries cost the engine nothing. Only a request that would charge meets the door: while
/// payment is known to be unavailable it answers 503 before any workflow starts.
pub async fn place(
    state: &AppState,
    customer_id: &str,
    idempotency_key: &str,
    body: PlaceOrderBody,
) -> ApiResult<Placed> {
    validate(&body)?;
    let order_id = order_id_for(customer_id, idempotency_key);
    tracing::Span::current().record("order_id", order_id.as_str());
    let hash = request_hash(&body);
    waiting_on("the read model");
    let known = state.read_model.idempotency_key(&order_id).await?;
    if let Some(key) = &known {
        check_known(state, key, &hash)?;
        // The read model's row answers only once the engine has answered this key: a
        // projection runs inside the workflow task that charged, so a row can exist for a
        // placement the engine has not made durable yet (its worker died in that task), and
        // the engine's redo of the charge could still end otherwise.
        if key.started
            && let Some(order) = state.read_model.get_order(&order_id).await?
        {
            metrics::counter!("baedal_place_order_total", "outcome" => "replayed").increment(1);
            return Ok(Placed::Replayed(order));
        }
        // Established but not readable yet (the read model lags or is down), or never
        // answered (the first request's answer was lost): the engine's durable word, read
        // by a query, not an update, still keeps the retry away from the door. A row whose
        // workflow is gone is no phantom (that needs a workflow task in flight): it is the
        // stored order, and the key must never start a second run on its money.
        let answer = match placement_in_engine(state, &order_id, &hash).await {
            EnginePlacement::Established(order) => Some(*order),
            EnginePlacement::Gone => state.read_model.get_order(&order_id).await?,
            EnginePlacement::NotEstablished => None,
        };
        if let Some(order) = answer {
            mark_started(state, &order_id).await;
            metrics::counter!("baedal_place_order_total", "outcome" => "replayed").increment(1);
            return Ok(Placed::Replayed(order));
        }
    }
    // A customer whose cards were declined too often tries none for a while: checked before
    // the door, so a list of stolen cards never reaches the payment service through baedal.
    // One attempt at a time per customer (`crate::turns`), held until its decline is counted:
    // attempts sent together each see the declines before them.
    let _turn = state.card_turns.take(customer_id).await;
    state.limits.card_attempt(customer_id)?;
    let admission = state.door.admit(Instant::now()).map_err(|secs| {
        metrics::counter!("baedal_orders_shed_total").increment(1);
        ApiError::new(
            ApiCode::PaymentUnavailable,
            "payment is unavailable right now: please pay a little later (retry after Retry-After, with the same Idempotency-Key)",
        )
        .retry_after(secs)
    })?;
    let result = place_admitted(state, customer_id, &order_id, &hash, known.as_ref(), body).await;
    let now = Instant::now();
    let outcome = match &result {
        Ok(_) => {
            state.door.record(None, now);
            "placed"
        }
        Err(e) if e.code == ApiCode::PaymentDeclined => {
            state.door.record(None, now);
            // A card the PSP was asked about now: a retry of a key already started is
            // answered from its attempt, and is not another card tried.
            if !known.as_ref().is_some_and(|k| k.started) {
                state.limits.card_declined(customer_id);
            }
            "declined"
        }
        Err(e) if e.code == ApiCode::PaymentUnavailable => {
            state.door.record(e.retry_after_secs, now);
            "payment_unavailable"
        }
        Err(_) => {
            if admission == Admission::Probe {
                state.door.release_probe(now);
            }
            "refused"
        }
    };
    metrics::counter!("baedal_place_order_total", "outcome" => outcome).increment(1);
    result.map(Placed::New)
}

async fn place_admitted(
    state: &AppState,
    customer_id: &str,
    order_id: &str,
    hash: &str,
    known: Option<&IdempotencyKey>,
    body: PlaceOrderBody,
) -> ApiResult<OrderView> {
    // A key whose workflow was started only ever addresses that workflow: its answer is the
    // attempt's (charging, unavailable, declined, expired), never a new start, so one order id
    // has one run and one charge whatever the engine has forgotten since. No pricing either:
    // the attempt carries its own, and a sold-out item cannot change its answer.
    if known.is_some_and(|k| k.started) {
        return existing_answer(state, order_id, hash, attempt_gone()).await;
    }
    // Price first: a request for a store or item that does not exist (404) or cannot be had
    // (409, 422) starts nothing, so its key is not spent on it. But a retry of an attempt that
    // may exist gets that attempt's answer, even if its item has sold out since.
    let input = match price(state, order_id, customer_id, &body, hash.to_owned()).await {
        Ok(input) => input,
        Err(refused) if known.is_some() => {
            return existing_answer(state, order_id, hash, refused).await;
        }
        Err(refused) => return Err(refused),
    };
    if known.is_none() {
        check_key(state, order_id, customer_id, hash).await?;
    }
    let opts = WorkflowUpdateWithStartOptions::new(
        TASK_QUEUE,
        order_id.to_owned(),
        WorkflowIdConflictPolicy::UseExisting,
    )
    .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
    .search_attributes(start_search_attributes(&input))
    .update_id(now_update_id())
    .build();
    waiting_on("the order engine (charging the card)");
    let result = state
        .temporal
        .execute_update_with_start_workflow(
            OrderWorkflow::run,
            input,
            OrderWorkflow::place,
            PlaceRequest {
                request_hash: hash.to_owned(),
            },
            opts,
        )
        .await;
    if matches!(
        result,
        Ok(_)
            | Err(WorkflowUpdateWithStartError::Update(_) | WorkflowUpdateWithStartError::Start(_))
    ) {
        // The engine holds a workflow for the key (this one, or a closed one).
        mark_started(state, order_id).await;
    }
    match result {
        Ok(o) => outcome(o),
        Err(WorkflowUpdateWithStartError::Update(e)) => {
            update_failed(state, order_id, hash, e, None).await
        }
        // The workflow for this key has already closed: answer what it answered then.
        Err(WorkflowUpdateWithStartError::Start(_)) => {
            replay_answer(state, order_id, hash, None).await
        }
        Err(WorkflowUpdateWithStartError::Rpc(status)) => Err(engine_error(&status, Some(&status))),
        Err(e) => Err(ApiError::internal("the order engine", e)),
    }
}

/// The answer for an attempt this key started that has no order in the read model, from its
/// workflow (or, once closed, what it answered then), without pricing it again. `refused` is
/// what pricing said: the answer when the engine holds no attempt for the key at all (the
/// api stopped between recording the key and starting the workflow).
async fn existing_answer(
    state: &AppState,
    order_id: &str,
    hash: &str,
    refused: ApiError,
) -> ApiResult<OrderView> {
    waiting_on("the order engine");
    let result = state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(order_id.to_owned())
        .execute_update(
            OrderWorkflow::place,
            PlaceRequest {
                request_hash: hash.to_owned(),
            },
            WorkflowExecuteUpdateOptions::builder()
                .update_id(now_update_id())
                .build(),
        )
        .await;
    match result {
        Ok(o) => outcome(o),
        Err(e) => update_failed(state, order_id, hash, e, Some(refused)).await,
    }
}

/// The place update did not answer: a refusal, a closed workflow, or the engine.
async fn update_failed(
    state: &AppState,
    order_id: &str,
    hash: &str,
    e: WorkflowUpdateError,
    if_absent: Option<ApiError>,
) -> ApiResult<OrderView> {
    match e {
        WorkflowUpdateError::Failed(f) => match refusal_code(&f) {
            Some(OrderCode::IdempotencyKeyReused) => Err(reused()),
            Some(OrderCode::IdempotencyKeyExpired) => Err(expired()),
            _ => Err(ApiError::internal("the order engine", &f.message)),
        },
        WorkflowUpdateError::NotFound(_) => replay_answer(state, order_id, hash, if_absent).await,
        WorkflowUpdateError::Rpc(status) => Err(refused_by_engine(&status)),
        e => Err(ApiError::internal("the order engine", e)),
    }
}

/// What a closed attempt answered, from its workflow. `if_absent` answers when the engine has
/// no workflow for the key at all; without it that is a 409: the key is known, so starting a
/// second lifecycle under the same order id (and the same charge key) is never done.
async fn replay_answer(
    state: &AppState,
    order_id: &str,
    hash: &str,
    if_absent: Option<ApiError>,
) -> ApiResult<OrderView> {
    let queried = query_placement(state, order_id).await;
    let (stored_hash, answer) = match queried {
        Ok(answer) => answer,
        Err(WorkflowQueryError::NotFound(_)) => {
            return Err(if_absent.unwrap_or_else(attempt_gone));
        }
        Err(WorkflowQueryError::Rpc(status)) => {
            return Err(refused_by_engine(&status));
        }
        Err(e) => return Err(ApiError::internal("the order engine", e)),
    };
    if stored_hash != hash {
        return Err(reused());
    }
    match answer {
        // The attempt closed without a charge (orders of older workers answer
        // `payment_unavailable` here): retrying it cannot help any more.
        Some(PlaceOutcome::Failed { failure })
            if matches!(
                failure.code,
                OrderCode::PaymentUnavailable | OrderCode::IdempotencyKeyExpired
            ) =>
        {
            Err(expired())
        }
        Some(PlaceOutcome::Placed { order }) => Ok(state
            .read_model
            .get_order(order_id)
            .await?
            .unwrap_or(*order)),
        Some(other) => outcome(other),
        None => Err(ApiError::internal(
            "the order engine",
            "placement has no answer",
        )),
    }
}

/// The attempt's request hash and placement answer, by its workflow's placement query.
async fn query_placement(
    state: &AppState,
    order_id: &str,
) -> Result<(String, Option<PlaceOutcome>), WorkflowQueryError> {
    state
        .temporal
        .get_workflow_handle::<OrderWorkflow>(order_id.to_owned())
        .query(
            OrderWorkflow::placement,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
}

/// What the engine durably holds for a known key's attempt.
enum EnginePlacement {
    /// The attempt established this order.
    Established(Box<OrderView>),
    /// The engine holds no workflow for the key (never started, or its history was removed).
    Gone,
    /// Not established (charging, unavailable, declined, another body), or the engine cannot
    /// say now: the caller goes the usual way.
    NotEstablished,
}

/// Ask the attempt's workflow, by the placement query (which answers from durable state: a
/// query waits for a workflow task in flight), what it established.
async fn placement_in_engine(state: &AppState, order_id: &str, hash: &str) -> EnginePlacement {
    let queried = query_placement(state, order_id).await;
    match queried {
        Ok((stored, Some(PlaceOutcome::Placed { order }))) if stored == hash => {
            EnginePlacement::Established(order)
        }
        Ok(_) => EnginePlacement::NotEstablished,
        Err(WorkflowQueryError::NotFound(_)) => EnginePlacement::Gone,
        Err(e) => {
            tracing::debug!(order_id, error = %e, "placement unavailable");
            EnginePlacement::NotEstablished
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_retries_share_an_update_id_within_a_window() {
        assert_eq!(place_update_id(1_000), place_update_id(1_004));
        assert_ne!(place_update_id(1_004), place_update_id(1_005));
    }
}
