//! The HTTP calls behind the activities, kept apart from the Temporal plumbing.

use crate::{ChargeInput, ChargeOutcome, NotifyInput, RefundInput};
use baedal_domain::PaymentInfo;
use serde::Deserialize;
use serde_json::json;

/// The payment service's refusal code for a refund of an order it holds no succeeded charge
/// for: the only refusal that means nothing is owed.
pub const NO_SUCCEEDED_CHARGE: &str = "no_succeeded_charge";

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} unreachable: {source}")]
    Unreachable {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer; `code` is the error code of the body when it has the error shape.
    #[error("{service} answered {status} {}: {body}", code.as_deref().unwrap_or("(no code)"))]
    Status {
        service: &'static str,
        status: u16,
        code: Option<String>,
        body: String,
    },
}

impl CallError {
    /// A refusal the same request will get again: a 4xx other than timeout, too-many-requests
    /// and conflict. Everything else (unreachable, 5xx, 408, 429, 409) may pass on a retry.
    pub fn is_permanent(&self) -> bool {
        matches!(self, CallError::Status { status, .. }
            if (400..500).contains(status) && ![408, 409, 429].contains(status))
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Status { code, .. } => code.as_deref(),
            CallError::Unreachable { .. } => None,
        }
    }
}

/// What a refund request settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    Refunded(PaymentInfo),
    /// The PSP holds no succeeded charge for the order: nothing is owed.
    NothingCharged,
}

#[derive(Debug, Deserialize)]
struct Record {
    id: String,
    amount: i64,
    status: String,
}

impl From<Record> for PaymentInfo {
    fn from(r: Record) -> Self {
        PaymentInfo {
            id: r.id,
            status: r.status,
            amount: r.amount,
        }
    }
}

/// HTTP client for one internal service: base URL plus the service token.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl ServiceClient {
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(2))
            .timeout(std::time::Duration::from_secs(5))
            .pool_max_idle_per_host(32)
            .build()
            .expect("reqwest client with static settings");
        Self {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// GET a JSON document from the service.
    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, CallError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| CallError::Unreachable {
                service: "service",
                source,
            })?;
        if !resp.status().is_success() {
            return Err(unexpected("service", resp).await);
        }
        resp.json().await.map_err(|source| CallError::Unreachable {
            service: "service",
            source,
        })
    }
}

async fn post(
    client: &ServiceClient,
    service: &'static str,
    path: &str,
    body: serde_json::Value,
) -> Result<reqwest::Response, CallError> {
    client
        .http
        .post(format!("{}{path}", client.base_url))
        .bearer_auth(&client.token)
        .json(&body)
        .send()
        .await
        .map_err(|source| CallError::Unreachable { service, source })
}

async fn unexpected(service: &'static str, resp: reqwest::Response) -> CallError {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
    CallError::Status {
        service,
        status,
        code,
        body: body.chars().take(300).collect(),
    }
}

/// A ledger line out of a payment-service answer; any non-2xx answer is an error to retry.
async fn payment_record(resp: reqwest::Response) -> Result<Record, CallError> {
    if !resp.status().is_success() {
        return Err(unexpected("payment", resp).await);
    }
    resp.json().await.map_err(|source| CallError::Unreachable {
        service: "payment",
        source,
    })
}

pub async fn charge(
    payment: &ServiceClient,
    input: &ChargeInput,
) -> Result<ChargeOutcome, CallError> {
    let resp = post(
        payment,
        "payment",
        "/v1/charges",
        json!({
            "idempotency_key": input.order_id,
            "order_id": input.order_id,
            "amount": input.amount,
            "card_token": input.card_token,
        }),
    )
    .await?;
    let rec = payment_record(resp).await?;
    Ok(if rec.status == "succeeded" {
        ChargeOutcome::Approved {
            payment: rec.into(),
        }
    } else {
        ChargeOutcome::Declined {
            payment: rec.into(),
        }
    })
}

/// Ask for the order's refund. Only the PSP's "no succeeded charge" settles it without money
/// moving; any other refusal is an error (retried by the caller, never recorded as done).
pub async fn refund(
    payment: &ServiceClient,
    input: &RefundInput,
) -> Result<RefundAnswer, CallError> {
    let resp = post(
        payment,
        "payment",
        "/v1/refunds",
        json!({
            "idempotency_key": format!("{}:refund", input.order_id),
            "order_id": input.order_id,
            "amount": input.amount,
        }),
    )
    .await?;
    match payment_record(resp).await {
        Ok(rec) => Ok(RefundAnswer::Refunded(rec.into())),
        Err(e) if e.code() == Some(NO_SUCCEEDED_CHARGE) => Ok(RefundAnswer::NothingCharged),
        Err(e) => Err(e),
    }
}

pub async fn notify(notify: &ServiceClient, input: &NotifyInput) -> Result<(), CallError> {
    let resp = post(
        notify,
        "notification",
        "/v1/notifications",
        serde_json::to_value(input).expect("notification serializes"),
    )
    .await?;
    if !resp.status().is_success() {
        return Err(unexpected("notification", resp).await);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use baedal_payment::{ChargeRequest, PaymentState};

    /// The real payment service on a free port, and a client for it.
    async fn payment_service() -> (ServiceClient, PaymentState) {
        let state = PaymentState::open(
            "sqlite::memory:",
            "svc",
            baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt")),
        )
        .await
        .unwrap();
        let app = baedal_payment::router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (ServiceClient::new(url, "svc"), state)
    }

    fn refund_of(order_id: &str, amount: i64) -> RefundInput {
        RefundInput {
            order_id: order_id.into(),
            amount,
        }
    }

    #[tokio::test]
    async fn only_no_succeeded_charge_settles_a_refund_without_money() {
        let (client, state) = payment_service().await;
        assert_eq!(
            refund(&client, &refund_of("ord_none", 5000)).await.unwrap(),
            RefundAnswer::NothingCharged
        );
        let charge = ChargeRequest {
            idempotency_key: "ord_a".into(),
            order_id: "ord_a".into(),
            amount: 5000,
            card_token: "tok_ok".into(),
        };
        state.ledger().charge(&charge, true).await.unwrap();
        // Asking for more than was charged is a refusal, not "nothing owed".
        let err = refund(&client, &refund_of("ord_a", 9000))
            .await
            .expect_err("a refund above the charge is an error to retry and alert");
        assert_eq!(err.code(), Some("refund_exceeds_charge"));
        assert!(!err.is_permanent(), "retried: ops may fix the ledger");
        assert!(matches!(
            refund(&client, &refund_of("ord_a", 5000)).await.unwrap(),
            RefundAnswer::Refunded(p) if p.status == "succeeded" && p.amount == 5000
        ));
    }
}
