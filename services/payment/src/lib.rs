//! The payment service: a stand-in PSP with its own ledger, reached over real HTTP.
//!
//! Charges and refunds are idempotent by key (a retried request returns the first answer and
//! moves money once); every record stays in a ledger that can be reconciled against orders; a
//! fault switch makes it slow, flaky or unavailable for tests and demos. It must not know about
//! orders beyond their id, and must not call the rest of baedal.
//!
//! Test card tokens: `tok_ok` is approved, `tok_declined` (and any unknown token) is declined.

mod ledger;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use baedal_auth::TokenKeys;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use ledger::{Ledger, PaymentRecord};

/// What the fault switch can do to requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Answer every charge and refund with 503.
    #[serde(default)]
    pub unavailable: bool,
    /// Added latency per charge/refund.
    #[serde(default)]
    pub latency_ms: u64,
    /// Fraction (0..=1) of charges/refunds answered with 500 before touching the ledger.
    #[serde(default)]
    pub error_rate: f64,
}

#[derive(Clone)]
pub struct PaymentState {
    ledger: Ledger,
    faults: Arc<Mutex<Faults>>,
    service_token: Arc<str>,
    keys: TokenKeys,
}

impl PaymentState {
    pub async fn open(db_url: &str, service_token: &str, jwt_secret: &str) -> anyhow::Result<Self> {
        Ok(Self {
            ledger: Ledger::open(db_url).await?,
            faults: Arc::default(),
            service_token: service_token.into(),
            keys: TokenKeys::new(jwt_secret),
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

/// Charge request. `idempotency_key` is the order id for the charge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    pub idempotency_key: String,
    pub order_id: String,
    pub amount: i64,
    pub card_token: String,
}

/// Refund request. `idempotency_key` is `<order_id>:refund`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub idempotency_key: String,
    pub order_id: String,
    pub amount: i64,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

fn authorize(state: &PaymentState, headers: &HeaderMap) -> Result<(), Response> {
    let h = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    baedal_auth::service_or_ops(h, &state.service_token, &state.keys)
        .map_err(|e| error(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()))
}

/// Apply the fault switch: returns an error response when the request should fail.
async fn inject_faults(state: &PaymentState) -> Option<Response> {
    let f = *state.faults.lock().expect("fault switch lock");
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    if f.unavailable {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "payment is switched off by the fault switch",
        ));
    }
    if f.error_rate > 0.0 {
        let roll = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
        if roll < f.error_rate {
            return Some(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected_error",
                "injected by the fault switch",
            ));
        }
    }
    None
}

fn check_common(key: &str, order_id: &str, amount: i64) -> Result<(), Response> {
    if key.is_empty() || key.len() > 200 || order_id.is_empty() || order_id.len() > 200 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "idempotency_key and order_id must be 1..200 characters",
        ));
    }
    if amount <= 0 {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_amount",
            "amount must be a positive number of won",
        ));
    }
    Ok(())
}

async fn charge(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<ChargeRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r;
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.body_text()),
    };
    if let Err(r) = check_common(&req.idempotency_key, &req.order_id, req.amount) {
        return r;
    }
    if let Some(r) = inject_faults(&state).await {
        return r;
    }
    let approved = req.card_token == "tok_ok";
    match state.ledger.charge(&req, approved).await {
        Ok((rec, created)) => {
            let code = if created { StatusCode::CREATED } else { StatusCode::OK };
            (code, Json(rec)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "ledger write failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", "try again")
        }
    }
}

async fn refund(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<RefundRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r;
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.body_text()),
    };
    if let Err(r) = check_common(&req.idempotency_key, &req.order_id, req.amount) {
        return r;
    }
    if let Some(r) = inject_faults(&state).await {
        return r;
    }
    match state.ledger.refund(&req).await {
        Ok(Ok((rec, created))) => {
            let code = if created { StatusCode::CREATED } else { StatusCode::OK };
            (code, Json(rec)).into_response()
        }
        Ok(Err(msg)) => error(StatusCode::CONFLICT, "nothing_to_refund", msg),
        Err(e) => {
            tracing::error!(error = %e, "ledger write failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", "try again")
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    order_id: Option<String>,
}

async fn list(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r;
    }
    match state.ledger.list(q.order_id.as_deref()).await {
        Ok(recs) => Json(json!({ "payments": recs })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "ledger read failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable", "try again")
        }
    }
}

async fn put_faults(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<Faults>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r;
    }
    let Json(f) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.body_text()),
    };
    if !(0.0..=1.0).contains(&f.error_rate) || f.latency_ms > 60_000 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_faults",
            "error_rate must be within 0..1 and latency_ms at most 60000",
        );
    }
    *state.faults.lock().expect("fault switch lock") = f;
    tracing::warn!(?f, "payment fault switch changed");
    Json(f).into_response()
}

async fn get_faults(State(state): State<PaymentState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&state, &headers) {
        return r;
    }
    Json(*state.faults.lock().expect("fault switch lock")).into_response()
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

pub fn router(state: PaymentState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/charges", post(charge))
        .route("/v1/refunds", post(refund))
        .route("/v1/payments", get(list))
        .route("/v1/admin/faults", put(put_faults).get(get_faults))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024))
        .with_state(state)
}
