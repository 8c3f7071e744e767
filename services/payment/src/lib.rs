//! The payment service: a stand-in PSP with its own ledger, reached over real HTTP.
//!
//! Charges and refunds are idempotent by key (a retried request returns the first answer and
//! moves money once); every record stays in a ledger that can be reconciled against orders; a
//! fault switch makes it slow, flaky or unavailable for tests and demos. It must not know about
//! orders beyond their id, and must not call the rest of baedal.
//!
//! Money moves only with the payment token, which the worker alone holds (the apis hold the
//! service token, which reads here but cannot charge or refund). The fault switch exists only
//! when the process was started with fault injection on (tests, `baedal dev`): otherwise its
//! route is not served at all.
//!
//! A charge key stands for one charge: reused with another amount or card it is refused
//! (`409 idempotency_key_mismatch`), and replayed it answers the charge as it stands now
//! (`refunded` once given back, `voided` when a refund closed the key before the charge came),
//! so a caller never takes a replay for money it holds.
//!
//! Test card tokens: `tok_ok` is approved, `tok_declined` (and any unknown token) is declined.
//!
//! Its requests, answers and error codes are declared in `baedal-payment-client`, and the
//! handlers here read and write exactly those types: callers depend on that crate, never on
//! this one.

mod code;
mod ledger;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use baedal_auth::Identity;
use baedal_http::readiness::{Probe, Readiness, ReadinessSettings};
pub use code::PaymentCode;
use code::{ApiError, ApiResult};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The contract this service serves, declared once in `baedal-payment-client`.
pub use baedal_payment_client::{
    ChargeRequest, Faults, IDEMPOTENCY_KEY_MISMATCH, NO_SUCCEEDED_CHARGE, PaymentList,
    PaymentRecord, RefundRequest,
};
pub use ledger::{ChargeRefusal, Ledger, RefundRefusal, card_fingerprint, migrations};

#[derive(Clone)]
pub struct PaymentState {
    ledger: Ledger,
    faults: Arc<Mutex<Faults>>,
    service_token: Arc<str>,
    /// The worker's credential, the only one that charges and refunds.
    payment_token: Arc<str>,
    fault_injection: bool,
    identity: Identity,
    /// What `/readyz` answers from: the ledger's database, pinged in the background.
    readiness: Readiness,
}

impl PaymentState {
    /// Charges and refunds take `token` only (until this is called: the service token; every
    /// role assembly calls it).
    pub fn with_payment_token(mut self, token: &str) -> Self {
        self.payment_token = token.into();
        self
    }

    /// Serve the fault switch (`/v1/admin/faults`): tests and demos only (default off).
    pub fn with_fault_injection(mut self, on: bool) -> Self {
        self.fault_injection = on;
        self
    }

    pub async fn open(
        db_url: &str,
        service_token: &str,
        identity: Identity,
    ) -> anyhow::Result<Self> {
        let ledger = Ledger::open(db_url).await?;
        let l = ledger.clone();
        let database: Probe = Box::new(move || {
            let l = l.clone();
            Box::pin(async move { l.ping().await.is_ok() })
        });
        Ok(Self {
            readiness: Readiness::watch(vec![("database", database)], ReadinessSettings::default()),
            ledger,
            faults: Arc::default(),
            service_token: service_token.into(),
            payment_token: service_token.into(),
            fault_injection: false,
            identity,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

/// Reads and the fault switch: the payment token, the service token or an ops person.
async fn authorize_read(state: &PaymentState, headers: &HeaderMap) -> ApiResult<()> {
    if baedal_http::require_service_token(headers, &state.payment_token).is_ok() {
        return Ok(());
    }
    Ok(baedal_http::require_service_or_ops(headers, &state.service_token, &state.identity).await?)
}

/// What moves money: the worker's payment token only (not the apis' service token, not ops).
/// The service token is known here, so it is told it may not (403) rather than who it is not.
fn authorize_service(state: &PaymentState, headers: &HeaderMap) -> ApiResult<()> {
    let as_worker = baedal_http::require_service_token(headers, &state.payment_token);
    if as_worker.is_err()
        && *state.payment_token != *state.service_token
        && baedal_http::require_service_token(headers, &state.service_token).is_ok()
    {
        return Err(baedal_auth::AuthError::ServiceTokenOnly.into());
    }
    Ok(as_worker?)
}

/// Apply the fault switch: an error when the request should fail.
async fn inject_faults(state: &PaymentState) -> ApiResult<()> {
    let f = *state.faults.lock().expect("fault switch lock");
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    if f.unavailable {
        return Err(ApiError::new(
            PaymentCode::Unavailable,
            "payment is switched off by the fault switch; retry after Retry-After",
        ));
    }
    if f.error_rate > 0.0 {
        let roll = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
        if roll < f.error_rate {
            return Err(ApiError::new(
                PaymentCode::InjectedError,
                "injected by the fault switch; the same request may pass on a retry",
            ));
        }
    }
    Ok(())
}

fn check_common(key: &str, order_id: &str, amount: i64) -> ApiResult<()> {
    if key.is_empty() || key.len() > 200 || order_id.is_empty() || order_id.len() > 200 {
        return Err(ApiError::new(
            PaymentCode::InvalidRequest,
            "idempotency_key and order_id must be 1..200 characters",
        ));
    }
    if amount <= 0 {
        return Err(ApiError::new(
            PaymentCode::InvalidAmount,
            "amount must be a positive number of won",
        ));
    }
    Ok(())
}

/// A ledger that cannot answer for now is an outage (503, retry); anything else is a bug (500).
fn ledger_down(e: sqlx::Error) -> ApiError {
    if baedal_db::is_transient(&e) {
        ApiError::dependency_down("the ledger", e)
    } else {
        ApiError::internal("the ledger", e)
    }
}

fn created(rec: PaymentRecord, created: bool) -> Response {
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (code, Json(rec)).into_response()
}

async fn charge(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<ChargeRequest>, JsonRejection>,
) -> ApiResult<Response> {
    authorize_service(&state, &headers)?;
    let req = baedal_http::json_body(body)?;
    check_common(&req.idempotency_key, &req.order_id, req.amount)?;
    inject_faults(&state).await?;
    let approved = req.card_token == "tok_ok";
    match state
        .ledger
        .charge(&req, approved)
        .await
        .map_err(ledger_down)?
    {
        Ok((rec, new)) => Ok(created(rec, new)),
        Err(refusal) => Err(ApiError::new(refusal.code(), refusal.to_string())),
    }
}

async fn refund(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<RefundRequest>, JsonRejection>,
) -> ApiResult<Response> {
    authorize_service(&state, &headers)?;
    let req = baedal_http::json_body(body)?;
    check_common(&req.idempotency_key, &req.order_id, req.amount)?;
    if let Some(void) = &req.void_charge_key
        && (void.is_empty() || void.len() > 200 || *void == req.idempotency_key)
    {
        // The refund's own key would make its replay answer with the tombstone.
        return Err(ApiError::new(
            PaymentCode::InvalidRequest,
            "void_charge_key must be 1..200 characters and differ from idempotency_key",
        ));
    }
    inject_faults(&state).await?;
    match state.ledger.refund(&req).await.map_err(ledger_down)? {
        Ok((rec, new)) => Ok(created(rec, new)),
        Err(refusal) => Err(ApiError::new(refusal.code(), refusal.to_string())),
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
) -> ApiResult<Json<PaymentList>> {
    authorize_read(&state, &headers).await?;
    let payments = state
        .ledger
        .list(q.order_id.as_deref())
        .await
        .map_err(ledger_down)?;
    Ok(Json(PaymentList { payments }))
}

async fn put_faults(
    State(state): State<PaymentState>,
    headers: HeaderMap,
    body: Result<Json<Faults>, JsonRejection>,
) -> ApiResult<Json<Faults>> {
    authorize_read(&state, &headers).await?;
    let f = baedal_http::json_body(body)?;
    if !(0.0..=1.0).contains(&f.error_rate) || f.latency_ms > 60_000 {
        return Err(ApiError::new(
            PaymentCode::InvalidFaults,
            "error_rate must be within 0..1 and latency_ms at most 60000",
        ));
    }
    *state.faults.lock().expect("fault switch lock") = f;
    tracing::warn!(?f, "payment fault switch changed");
    Ok(Json(f))
}

async fn get_faults(
    State(state): State<PaymentState>,
    headers: HeaderMap,
) -> ApiResult<Json<Faults>> {
    authorize_read(&state, &headers).await?;
    Ok(Json(*state.faults.lock().expect("fault switch lock")))
}

/// Ready when its own database answered lately: the one thing this service cannot serve
/// without. No I/O per probe (`baedal_http::readiness`).
async fn readyz(State(state): State<PaymentState>) -> (StatusCode, Json<serde_json::Value>) {
    state.readiness.answer()
}

pub fn router(state: PaymentState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(baedal_http::healthz))
        .route("/readyz", get(readyz))
        .route("/v1/charges", post(charge))
        .route("/v1/refunds", post(refund))
        .route("/v1/payments", get(list));
    if state.fault_injection {
        router = router.route("/v1/admin/faults", put(put_faults).get(get_faults));
    }
    router
        .layer(tower_http::limit::RequestBodyLimitLayer::new(16 * 1024))
        .layer(axum::middleware::from_fn(
            baedal_http::hardening::security_headers,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    async fn service() -> PaymentState {
        PaymentState::open(
            &baedal_db::scratch_url().await,
            "svc",
            Identity::new(baedal_auth::TokenKeys::new("jwt")),
        )
        .await
        .unwrap()
    }

    async fn post(state: &PaymentState, path: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::post(path)
            .header("authorization", "Bearer svc")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = router(state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn charge_body(order: &str, amount: i64, card: &str) -> Value {
        json!({"idempotency_key": order, "order_id": order, "amount": amount, "card_token": card})
    }

    fn refund_body(order: &str, amount: i64) -> Value {
        json!({"idempotency_key": format!("{order}:refund"), "order_id": order,
               "amount": amount, "void_charge_key": order})
    }

    #[tokio::test]
    async fn a_charge_key_reused_for_other_money_is_409_and_moves_nothing() {
        let s = service().await;
        let (status, first) = post(&s, "/v1/charges", charge_body("ord_1", 9000, "tok_ok")).await;
        assert_eq!(status, StatusCode::CREATED);
        for body in [
            charge_body("ord_1", 9001, "tok_ok"),
            charge_body("ord_1", 9000, "tok_declined"),
        ] {
            let (status, err) = post(&s, "/v1/charges", body).await;
            assert_eq!(status, StatusCode::CONFLICT);
            assert_eq!(err["error"]["code"], IDEMPOTENCY_KEY_MISMATCH);
            assert!(
                err["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("new idempotency key"),
                "{err}"
            );
        }
        let (status, again) = post(&s, "/v1/charges", charge_body("ord_1", 9000, "tok_ok")).await;
        assert_eq!((status, &again), (StatusCode::OK, &first));
        assert_eq!(s.ledger().list(None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_replayed_charge_answers_refunded_or_voided() {
        let s = service().await;
        post(&s, "/v1/charges", charge_body("ord_r", 9000, "tok_ok")).await;
        let (status, _) = post(&s, "/v1/refunds", refund_body("ord_r", 9000)).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, rec) = post(&s, "/v1/charges", charge_body("ord_r", 9000, "tok_ok")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (
                &rec["kind"],
                &rec["status"],
                &rec["amount"],
                &rec["refunded_amount"]
            ),
            (
                &json!("charge"),
                &json!("refunded"),
                &json!(9000),
                &json!(9000)
            )
        );

        // Nothing charged yet: the refund closes the key and still answers no_succeeded_charge.
        let (status, err) = post(&s, "/v1/refunds", refund_body("ord_v", 9000)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(err["error"]["code"], NO_SUCCEEDED_CHARGE);
        let (status, rec) = post(&s, "/v1/charges", charge_body("ord_v", 9000, "tok_ok")).await;
        assert_eq!((status, &rec["status"]), (StatusCode::OK, &json!("voided")));
        let lines = s.ledger().list(Some("ord_v")).await.unwrap();
        assert_eq!(lines.len(), 1, "the tombstone only: {lines:?}");
        assert_eq!(
            (lines[0].kind.as_str(), lines[0].status.as_str()),
            ("charge", "voided")
        );
    }

    #[tokio::test]
    async fn a_refund_without_void_charge_key_is_still_accepted_and_a_bad_one_refused() {
        let s = service().await;
        let old = json!({"idempotency_key": "ord_o:refund", "order_id": "ord_o", "amount": 10});
        let (status, err) = post(&s, "/v1/refunds", old).await;
        assert_eq!(
            (status, &err["error"]["code"]),
            (StatusCode::CONFLICT, &json!(NO_SUCCEEDED_CHARGE))
        );
        assert!(
            s.ledger().list(None).await.unwrap().is_empty(),
            "no tombstone asked for"
        );
        let own_key = json!({"idempotency_key": "ord_o:refund", "order_id": "ord_o",
                             "amount": 10, "void_charge_key": "ord_o:refund"});
        let (status, _) = post(&s, "/v1/refunds", own_key).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
