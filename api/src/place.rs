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

use crate::AppState;
use crate::door::Admission;
use crate::error::{ApiError, ApiResult};
use baedal_domain::{
    DeliveryAddress, LineItem, OrderInput, OrderView, PlaceFailure, PlaceOutcome, WORKFLOW_VERSION,
    geo,
};
use baedal_readmodel::IdempotencyKey;
use baedal_workflows::{
    OrderWorkflow, PlaceRequest, TASK_QUEUE, refusal_code, start_search_attributes,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::time::Instant;
use temporalio_client::errors::{
    WorkflowQueryError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowQueryOptions, WorkflowUpdateWithStartOptions,
};
use utoipa::ToSchema;

pub const MAX_ITEMS: usize = 50;
pub const MAX_QUANTITY: u32 = 99;
/// No single order may cost more than this (KRW): a typo guard, not a business limit.
pub const MAX_TOTAL: i64 = 5_000_000;

/// The longest Idempotency-Key.
pub const MAX_KEY_CHARS: usize = 255;

/// An Idempotency-Key is 1..255 visible ASCII characters (as the document's pattern says).
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

// The constraints below are the ones `validate` enforces; `\S`: not only spaces.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrderBody {
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub store_id: String,
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<ItemRequest>,
    pub delivery: DeliveryRequest,
    pub payment: PaymentRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemRequest {
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub menu_item_id: String,
    #[schema(minimum = 1, maximum = 99)]
    #[serde(deserialize_with = "baedal_http::whole_number")]
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub address: String,
    #[schema(min_length = 1, max_length = 50, pattern = r"\S")]
    pub region: String,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentRequest {
    /// `tok_ok` is approved and `tok_declined` declined by the test payment service.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub card_token: String,
}

/// The workflow id for a customer's idempotency key.
pub fn order_id_for(customer_id: &str, idempotency_key: &str) -> String {
    const NS: uuid::Uuid = uuid::Uuid::from_u128(0x62616564_616c_4f72_8465_725f6b657973);
    let name = format!("{customer_id}\n{idempotency_key}");
    format!("ord_{}", uuid::Uuid::new_v5(&NS, name.as_bytes()))
}

/// The request hash of a place-order body given as JSON (`None` if it is not one): what the
/// order's workflow checks a retry against. For tools and tests that talk to the engine.
pub fn request_hash_of(body: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<PlaceOrderBody>(body.clone())
        .ok()
        .map(|b| request_hash(&b))
}

fn request_hash(body: &PlaceOrderBody) -> String {
    let bytes = serde_json::to_vec(body).expect("request body serializes");
    hex::encode(Sha256::digest(bytes))
}

fn text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{field} must be 1..{max} characters"),
        ));
    }
    Ok(())
}

/// Shape checks that need no database.
pub fn validate(body: &PlaceOrderBody) -> ApiResult<()> {
    text("store_id", &body.store_id, 64)?;
    text("delivery.address", &body.delivery.address, 200)?;
    text("delivery.region", &body.delivery.region, 50)?;
    text("payment.card_token", &body.payment.card_token, 100)?;
    if !geo::valid_coordinate(body.delivery.lat, body.delivery.lon) {
        return Err(ApiError::unprocessable(
            "invalid_coordinates",
            "delivery.lat must be within -90..90 and delivery.lon within -180..180",
        ));
    }
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        return Err(ApiError::unprocessable(
            "invalid_items",
            format!("an order needs 1..{MAX_ITEMS} items"),
        ));
    }
    for item in &body.items {
        text("items[].menu_item_id", &item.menu_item_id, 64)?;
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(ApiError::unprocessable(
                "invalid_quantity",
                format!("quantity must be 1..{MAX_QUANTITY}"),
            ));
        }
    }
    Ok(())
}

/// Rules about what the items are, checked once they are known to exist (so an unknown store
/// or item is 404 first): each item once.
fn no_duplicates(items: &[ItemRequest]) -> ApiResult<()> {
    let mut seen = HashSet::new();
    for item in items {
        if !seen.insert(item.menu_item_id.as_str()) {
            return Err(ApiError::unprocessable(
                "duplicate_item",
                format!(
                    "menu item {} appears twice: send it once with the total quantity",
                    item.menu_item_id
                ),
            ));
        }
    }
    Ok(())
}

/// Build the workflow input: the store and every item must exist and be available; prices and
/// the total come from the catalog.
async fn price(
    state: &AppState,
    order_id: &str,
    customer_id: &str,
    body: &PlaceOrderBody,
    hash: String,
) -> ApiResult<OrderInput> {
    let store = state
        .read_model
        .get_store(&body.store_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("store_not_found", format!("no store {}", body.store_id))
        })?;
    let menu = state.read_model.menu(&store.id).await?;
    let mut items = Vec::with_capacity(body.items.len());
    let mut total: i64 = 0;
    for req in &body.items {
        let item = menu
            .iter()
            .find(|m| m.id == req.menu_item_id)
            .ok_or_else(|| {
                ApiError::not_found(
                    "menu_item_not_found",
                    format!("store {} has no menu item {}", store.id, req.menu_item_id),
                )
            })?;
        if !item.available {
            return Err(ApiError::conflict(
                "item_unavailable",
                format!("{} is sold out right now", item.name),
            ));
        }
        let line_total = item.price * i64::from(req.quantity);
        total += line_total;
        items.push(LineItem {
            menu_item_id: item.id.clone(),
            name: item.name.clone(),
            unit_price: item.price,
            quantity: req.quantity,
            line_total,
        });
    }
    no_duplicates(&body.items)?;
    if total > MAX_TOTAL {
        return Err(ApiError::unprocessable(
            "total_too_large",
            format!("an order may cost at most {MAX_TOTAL} won"),
        ));
    }
    Ok(OrderInput {
        version: WORKFLOW_VERSION,
        order_id: order_id.to_owned(),
        customer_id: customer_id.to_owned(),
        store_id: store.id,
        store_name: store.name,
        store_lat: store.lat,
        store_lon: store.lon,
        items,
        total,
        delivery: DeliveryAddress {
            address: body.delivery.address.trim().to_owned(),
            region: body.delivery.region.trim().to_owned(),
            lat: body.delivery.lat,
            lon: body.delivery.lon,
        },
        card_token: body.payment.card_token.clone(),
        request_hash: hash,
        timeouts: state.config.timeouts,
    })
}

fn failure(f: PlaceFailure) -> ApiError {
    match f.code.as_str() {
        "payment_declined" => ApiError::new(
            axum::http::StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            f.message,
        ),
        "idempotency_key_expired" => expired(),
        "payment_refused" => ApiError::conflict("payment_refused", f.message),
        _ => ApiError::unavailable(
            "payment_unavailable",
            f.message,
            f.retry_after_secs.unwrap_or(30),
        ),
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
    crate::door_keeping::waiting_on("the read model");
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
    let admission = state.door.admit(Instant::now()).map_err(|secs| {
        metrics::counter!("baedal_orders_shed_total").increment(1);
        ApiError::unavailable(
            "payment_unavailable",
            "payment is unavailable right now: please pay a little later",
            secs,
        )
    })?;
    let result = place_admitted(state, customer_id, &order_id, &hash, known.as_ref(), body).await;
    let now = Instant::now();
    let outcome = match &result {
        Ok(_) => {
            state.door.record(None, now);
            "placed"
        }
        Err(e) if e.code == "payment_declined" => {
            state.door.record(None, now);
            "declined"
        }
        Err(e) if e.code == "payment_unavailable" => {
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
    crate::door_keeping::waiting_on("the order engine (charging the card)");
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
        Err(WorkflowUpdateWithStartError::Rpc(status)) => {
            Err(crate::commands::engine_error(&status, Some(&status)))
        }
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
    crate::door_keeping::waiting_on("the order engine");
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
            Some("idempotency_key_reused") => Err(reused()),
            Some("idempotency_key_expired") => Err(expired()),
            _ => Err(ApiError::internal("the order engine", &f.message)),
        },
        WorkflowUpdateError::NotFound(_) => replay_answer(state, order_id, hash, if_absent).await,
        WorkflowUpdateError::Rpc(status) => Err(crate::commands::refused_by_engine(&status)),
        e => Err(ApiError::internal("the order engine", e)),
    }
}

fn reused() -> ApiError {
    ApiError::unprocessable(
        "idempotency_key_reused",
        "this Idempotency-Key was used for a different order; use a new key",
    )
}

/// Record the key's first use: another body under it is refused at once, and so is any use
/// after the idempotency window.
async fn check_key(
    state: &AppState,
    order_id: &str,
    customer_id: &str,
    hash: &str,
) -> ApiResult<()> {
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let key = state
        .read_model
        .remember_idempotency_key(order_id, customer_id, hash, &stamp)
        .await?;
    check_known(state, &key, hash)
}

/// A known key answers only the body it was first used with, and only within the window.
fn check_known(state: &AppState, key: &IdempotencyKey, hash: &str) -> ApiResult<()> {
    if key.request_hash != hash {
        return Err(reused());
    }
    let first = chrono::DateTime::parse_from_rfc3339(&key.first_seen_at)
        .map_err(|e| ApiError::internal("the idempotency store", e))?;
    let window = state.config.idempotency_window;
    let age = (chrono::Utc::now() - first.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or_default();
    if age > window {
        return Err(ApiError::unprocessable(
            "idempotency_key_too_old",
            format!(
                "this Idempotency-Key was first used at {} and keys are kept for {}; \
                 to order again, send a new key",
                key.first_seen_at,
                humantime::format_duration(window)
            ),
        ));
    }
    Ok(())
}

fn expired() -> ApiError {
    ApiError::conflict(
        "idempotency_key_expired",
        "payment was unavailable and this attempt has expired; place the order again with a new Idempotency-Key",
    )
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
            return Err(crate::commands::refused_by_engine(&status));
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
            if failure.code == "payment_unavailable"
                || failure.code == "idempotency_key_expired" =>
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

/// Record that the engine holds (or held) this key's workflow and has answered it.
async fn mark_started(state: &AppState, order_id: &str) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    if let Err(e) = state.read_model.mark_key_started(order_id, &at).await {
        tracing::warn!(order_id, error = %e, "could not record that the key's workflow started");
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

/// A known key whose attempt the engine no longer holds and the read model never saw
/// established: it cannot be answered, and must not start again.
fn attempt_gone() -> ApiError {
    ApiError::conflict(
        "idempotency_key_expired",
        "this Idempotency-Key's attempt is no longer on record; place the order again with a new Idempotency-Key",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> PlaceOrderBody {
        PlaceOrderBody {
            store_id: "st_1".into(),
            items: vec![ItemRequest {
                menu_item_id: "mi_1_1".into(),
                quantity: 2,
            }],
            delivery: DeliveryRequest {
                address: "서울 강남구 1".into(),
                region: "gangnam".into(),
                lat: 37.5,
                lon: 127.0,
            },
            payment: PaymentRequest {
                card_token: "tok_ok".into(),
            },
        }
    }

    #[test]
    fn place_retries_share_an_update_id_within_a_window() {
        assert_eq!(place_update_id(1_000), place_update_id(1_004));
        assert_ne!(place_update_id(1_004), place_update_id(1_005));
    }

    #[test]
    fn order_id_is_stable_per_customer_and_key() {
        assert_eq!(order_id_for("c1", "k1"), order_id_for("c1", "k1"));
        assert_ne!(order_id_for("c1", "k1"), order_id_for("c2", "k1"));
        assert_ne!(order_id_for("c1", "k1"), order_id_for("c1", "k2"));
        assert!(order_id_for("c1", "k1").starts_with("ord_"));
    }

    #[test]
    fn request_hash_changes_with_the_body() {
        let a = body();
        let mut b = body();
        b.items[0].quantity = 3;
        assert_eq!(request_hash(&a), request_hash(&body()));
        assert_ne!(request_hash(&a), request_hash(&b));
    }

    #[test]
    fn validation_refuses_out_of_range_input() {
        assert!(validate(&body()).is_ok());
        type Mutation = Box<dyn Fn(&mut PlaceOrderBody)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|b| b.items.clear()),
            Box::new(|b| b.items[0].quantity = 0),
            Box::new(|b| b.items[0].quantity = 100),
            Box::new(|b| b.delivery.lat = 91.0),
            Box::new(|b| b.delivery.lon = -181.0),
            Box::new(|b| b.delivery.address = "  ".into()),
            Box::new(|b| b.payment.card_token = String::new()),
            Box::new(|b| b.store_id = "x".repeat(65)),
        ];
        for (n, mutate) in cases.iter().enumerate() {
            let mut b = body();
            mutate(&mut b);
            let err = validate(&b).expect_err(&format!("case {n} should be refused"));
            assert_eq!(err.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn an_item_listed_twice_is_refused() {
        let mut b = body();
        assert!(no_duplicates(&b.items).is_ok());
        let dup = b.items[0].clone();
        b.items.push(dup);
        assert_eq!(no_duplicates(&b.items).unwrap_err().code, "duplicate_item");
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        assert!(valid_idempotency_key(
            "6f1c2a9e-0d4b-4c3e-9f7a-2b1d8e5c4a10"
        ));
        assert!(valid_idempotency_key(&"k".repeat(255)));
        for bad in ["", " ", "a b", "키", "\u{7f}"] {
            assert!(!valid_idempotency_key(bad), "{bad:?}");
        }
        assert!(!valid_idempotency_key(&"k".repeat(256)));
    }
}
