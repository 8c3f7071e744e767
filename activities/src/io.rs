//! The HTTP calls behind the activities, kept apart from the Temporal plumbing.

use crate::{ChargeInput, ChargeOutcome, NotifyInput, RefundInput};
use baedal_domain::PaymentInfo;
use serde::Deserialize;
use serde_json::json;

/// Why a call to another service failed. All of these are transient: the caller retries.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} unreachable: {source}")]
    Unreachable {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{service} answered {status}: {body}")]
    Status {
        service: &'static str,
        status: u16,
        body: String,
    },
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
    CallError::Status {
        service,
        status,
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

pub async fn refund(
    payment: &ServiceClient,
    input: &RefundInput,
) -> Result<Option<PaymentInfo>, CallError> {
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
    if resp.status() == reqwest::StatusCode::CONFLICT {
        // The PSP holds no succeeded charge for this order: nothing to give back.
        return Ok(None);
    }
    let rec = payment_record(resp).await?;
    Ok(Some(rec.into()))
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
