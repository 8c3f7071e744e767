//! Ops endpoints: the payment breakers and door, the open orders by status with their counts,
//! and the stuck orders (the ops cancel that unsticks an order is one of the command routes).
//! Served by every role.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{ApiQuery, Caller};
use crate::pagination::page_limit;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use baedal_auth::Role;
use baedal_domain::OrderStatus;
use baedal_readmodel::StuckOrder;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Required, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(ops_payment))
        .routes(routes!(stuck_orders))
        .routes(routes!(open_counts))
        .routes(routes!(open_orders))
}

/// How many open orders each open status holds now (0 where none): closed orders are not
/// counted (their number grows for years; the metrics have them).
#[utoipa::path(get, path = "/v1/ops/orders/counts", security(("bearer" = [])),
    responses((status = 200, description = "{\"counts\": {\"placed\": n, …every open status}}"), (status = 403)))]
async fn open_counts(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Ops)?;
    let found = state.read_model.open_counts().await?;
    let counts: serde_json::Map<String, Value> = OrderStatus::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .map(|s| {
            let n = found.iter().find(|(f, _)| *f == s).map_or(0, |(_, n)| *n);
            (s.as_str().to_owned(), json!(n))
        })
        .collect();
    Ok(Json(json!({ "counts": counts })))
}

#[derive(Debug, Deserialize)]
struct OpenQuery {
    status: String,
    limit: Option<u32>,
}

/// Written out: the derive drops `required` from a parameter whose schema is generated, and
/// `status` is both (one of the open statuses, from the domain's list).
impl IntoParams for OpenQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let open = OrderStatus::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .map(|s| s.as_str());
        vec![
            ParameterBuilder::new()
                .name("status")
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .description(Some("An open status (a closed order is looked up by id)."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(open)),
                ))
                .build(),
            ParameterBuilder::new()
                .name("limit")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some("How many orders (1..500, default 100)."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(MAX_STUCK_PAGE)),
                ))
                .build(),
        ]
    }
}

/// The open orders in one status, longest in it first, each with its link to the Temporal
/// Web UI.
#[utoipa::path(get, path = "/v1/ops/orders", params(OpenQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"orders\": [{id, status, since, seq, store_id, customer_id, total, temporal_ui}]}"),
        (status = 403), (status = 422, description = "`invalid_status`: not an open status; `invalid_limit`")))]
async fn open_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OpenQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Ops)?;
    let status = q
        .status
        .parse::<OrderStatus>()
        .ok()
        .filter(|s| !s.is_terminal())
        .ok_or_else(|| {
            ApiError::new(
                ApiCode::InvalidStatus,
                "status must be an open status (placed … delivered); look a closed order up by id",
            )
        })?;
    let limit = page_limit(q.limit, 100, MAX_STUCK_PAGE)?;
    let orders: Vec<Value> = state
        .read_model
        .open_in_status(status, limit)
        .await?
        .into_iter()
        .map(|o| listed(&state, &o))
        .collect();
    Ok(Json(json!({ "orders": orders })))
}

/// An order of ops' lists as answered: the row with its link to the Temporal Web UI.
fn listed(state: &AppState, o: &StuckOrder) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    v["temporal_ui"] = json!(state.config.temporal_ui_link(&o.id));
    v
}

/// Every live worker's payment breaker (as each last published it), the worst of them, and
/// this api's door.
#[utoipa::path(get, path = "/v1/ops/payment",
    security(("bearer" = [])),
    responses((status = 200, description = "{\"breaker\": the worst live breaker {state, calls, failures, ...}, \"breakers\": [{worker, breaker, published_at}], \"door\": {state, retry_after_secs}}"), (status = 403)))]
async fn ops_payment(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(Role::Ops)?;
    let now = chrono::Utc::now();
    let ago = |d: std::time::Duration| {
        (now - chrono::Duration::from_std(d).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let breakers = state
        .read_model
        .live_breakers(&ago(baedal_readmodel::BREAKER_FRESH_FOR))
        .await?;
    let worst = breakers
        .iter()
        .max_by_key(|b| match b.breaker["state"].as_str() {
            Some("open") => 2,
            Some("half_open") => 1,
            _ => 0,
        })
        .map(|b| b.breaker.clone());
    let (door, retry_after) = state.door.describe(std::time::Instant::now());
    // Refunds owed and not through: money the customers are waiting for, whatever the
    // breaker (which guards charges) says. `stuck` once the oldest is older than
    // BAEDAL_STUCK_AFTER.
    let refunds = state.read_model.refund_health().await?;
    let stuck_before = ago(state.config.stuck_after);
    let refunds_state = match &refunds.oldest_pending_since {
        None => "ok",
        Some(since) if since.as_str() < stuck_before.as_str() => "stuck",
        Some(_) => "pending",
    };
    Ok(Json(json!({
        "breaker": worst,
        "breakers": breakers,
        "door": {"state": door, "retry_after_secs": retry_after},
        "refunds": {
            "state": refunds_state,
            "pending": refunds.pending,
            "oldest_pending_since": refunds.oldest_pending_since,
            "last_error": refunds.last_error,
        },
    })))
}

/// The longest page of the stuck list.
pub const MAX_STUCK_PAGE: u32 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StuckQuery {
    /// How many orders (1..500, default 100): the list has no cursor yet, so ops may take a
    /// longer page here than elsewhere.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Open orders that have sat in their status longer than `BAEDAL_STUCK_AFTER`, and closed
/// orders whose refund has been owed that long (with `refund`: attempts, last error), oldest
/// first, each with a link to its workflow in the Temporal Web UI.
#[utoipa::path(get, path = "/v1/ops/orders/stuck", params(StuckQuery), security(("bearer" = [])),
    responses((status = 200, description = "{\"stuck_after_secs\", \"orders\": [{id, status, since, stuck_for_secs, temporal_ui, ...}]}"),
        (status = 403)))]
async fn stuck_orders(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StuckQuery>,
) -> ApiResult<Json<Value>> {
    caller.require(Role::Ops)?;
    let limit = page_limit(q.limit, 100, MAX_STUCK_PAGE)?;
    let now = chrono::Utc::now();
    let stuck_after = state.config.stuck_after;
    let before = now - chrono::Duration::from_std(stuck_after).unwrap_or(chrono::Duration::MAX);
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut orders = state.read_model.stuck_orders(&before, limit).await?;
    // Closed orders whose refund has not gone through are stuck too: the customer's money is.
    orders.extend(
        state
            .read_model
            .stuck_refunds(&before, limit, false)
            .await?,
    );
    orders.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
    orders.truncate(limit as usize);
    let orders: Vec<Value> = orders
        .into_iter()
        .map(|o| {
            let stuck_for = chrono::DateTime::parse_from_rfc3339(&o.since)
                .map(|since| (now - since.with_timezone(&chrono::Utc)).num_seconds())
                .unwrap_or_default();
            let mut v = listed(&state, &o);
            v["stuck_for_secs"] = json!(stuck_for);
            v
        })
        .collect();
    Ok(Json(json!({
        "stuck_after_secs": stuck_after.as_secs(),
        "orders": orders,
    })))
}
