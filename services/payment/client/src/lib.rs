//! The payment service's contract, declared once: the requests it takes, the answers it gives,
//! its error codes, and a thin typed client. The service (`baedal-payment`) serves exactly
//! these types and its callers (the worker's activities, `baedal reconcile`) send and read
//! them, so the two sides cannot drift apart.
//!
//! A crate of its own rather than a module of the service: a caller depends on the contract
//! and on reqwest only, never on the service's server code (axum, sqlx, the ledger), and no
//! cargo feature has to switch that code off. It must not hold any service logic: what an
//! answer means for an order is the caller's to judge.

pub use baedal_service_client::CallError;
use baedal_service_client::ServiceClient;
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// The refusal code for a refund of an order the service holds no succeeded charge for: the
/// only refusal that means nothing is owed.
pub const NO_SUCCEEDED_CHARGE: &str = "no_succeeded_charge";

/// The refusal code of an idempotency key reused with another amount or card (or, for a
/// refund, another amount or order).
pub const IDEMPOTENCY_KEY_MISMATCH: &str = "idempotency_key_mismatch";

/// The payment service's refusals its callers act on. An error answer's code becomes one of
/// these here, at the edge, and nowhere else: callers match on the type, never on the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A key reused for other money: the answer is not this caller's charge or refund.
    IdempotencyKeyMismatch,
    /// A refund of an order with no succeeded charge: nothing is owed.
    NoSucceededCharge,
}

impl Refusal {
    /// The code on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Refusal::IdempotencyKeyMismatch => IDEMPOTENCY_KEY_MISMATCH,
            Refusal::NoSucceededCharge => NO_SUCCEEDED_CHARGE,
        }
    }

    /// The refusal an error answer carries, when it is one callers act on.
    pub fn of(e: &CallError) -> Option<Self> {
        match e.code()? {
            IDEMPOTENCY_KEY_MISMATCH => Some(Refusal::IdempotencyKeyMismatch),
            NO_SUCCEEDED_CHARGE => Some(Refusal::NoSucceededCharge),
            _ => None,
        }
    }
}

/// `POST /v1/charges`. `idempotency_key` is the order id for the charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    pub idempotency_key: String,
    pub order_id: String,
    pub amount: i64,
    pub card_token: String,
}

/// `POST /v1/refunds`. `idempotency_key` is `<order_id>:refund`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub idempotency_key: String,
    pub order_id: String,
    pub amount: i64,
    /// The key of the charge this refund gives back (the order id). When nothing was charged,
    /// that key is closed with a `voided` tombstone: a charge still in flight with it must not
    /// take money after the caller was told nothing is owed. Optional for older callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub void_charge_key: Option<String>,
}

/// One ledger line, as `GET /v1/payments` and the charge and refund answers return it
/// (`201` when the request made it, `200` when a replay found it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: String,
    pub order_id: String,
    /// `charge` or `refund`.
    pub kind: String,
    pub amount: i64,
    /// Stored: `succeeded`, `declined`, `failed`, or `voided` (a tombstone: the charge key was
    /// closed by a refund that found nothing charged, so a late charge moves no money).
    /// A charge answer also says `refunded` when the order's charges were refunded in full,
    /// because a replay must tell the caller the money is no longer taken.
    pub status: String,
    /// On a charge answer, how much of the order's money was refunded, when any was: a
    /// partial refund leaves the status `succeeded`, and the caller must still see that the
    /// charge no longer stands whole. Absent from ledger lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<i64>,
    pub created_at: String,
}

/// `GET /v1/payments[?order_id=]`: the ledger, or an order's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentList {
    pub payments: Vec<PaymentRecord>,
}

/// `PUT`/`GET /v1/admin/faults`: what the fault switch does to charges and refunds.
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

/// The payment service, called with the service token.
#[derive(Clone, Debug)]
pub struct PaymentClient {
    service: ServiceClient,
}

impl PaymentClient {
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            service: ServiceClient::new("payment", base_url, token),
        }
    }

    pub fn base_url(&self) -> &str {
        self.service.base_url()
    }

    /// Charge a card; a replayed key answers the charge as it stands now.
    pub async fn charge(&self, req: &ChargeRequest) -> Result<PaymentRecord, CallError> {
        let post = self.service.request(Method::POST, "/v1/charges").json(req);
        self.service.json(post).await
    }

    /// Give money back; a replayed key answers the refund it made.
    pub async fn refund(&self, req: &RefundRequest) -> Result<PaymentRecord, CallError> {
        let post = self.service.request(Method::POST, "/v1/refunds").json(req);
        self.service.json(post).await
    }

    /// The whole ledger, or the lines of one order.
    pub async fn payments(&self, order_id: Option<&str>) -> Result<PaymentList, CallError> {
        let query: Vec<(&str, &str)> = order_id.map(|id| ("order_id", id)).into_iter().collect();
        let get = self
            .service
            .request_with_query(Method::GET, "/v1/payments", &query);
        self.service.json(get).await
    }

    /// Set the fault switch; answers what is now in force.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, CallError> {
        let put = self
            .service
            .request(Method::PUT, "/v1/admin/faults")
            .json(faults);
        self.service.json(put).await
    }
}
