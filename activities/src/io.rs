//! The HTTP calls behind the activities, kept apart from the Temporal plumbing.

use crate::{ChargeInput, ChargeOutcome, NotifyInput, OrderActivities, RefundInput};
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

async fn post(
    acts: &OrderActivities,
    service: &'static str,
    url: String,
    body: serde_json::Value,
) -> Result<reqwest::Response, CallError> {
    acts.http
        .post(url)
        .bearer_auth(&acts.service_token)
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

pub async fn charge(
    acts: &OrderActivities,
    input: &ChargeInput,
) -> Result<ChargeOutcome, CallError> {
    let resp = post(
        acts,
        "payment",
        format!("{}/v1/charges", acts.payment_url),
        json!({
            "idempotency_key": input.order_id,
            "order_id": input.order_id,
            "amount": input.amount,
            "card_token": input.card_token,
        }),
    )
    .await?;
    if !resp.status().is_success() {
        return Err(unexpected("payment", resp).await);
    }
    let rec: Record = resp.json().await.map_err(|source| CallError::Unreachable {
        service: "payment",
        source,
    })?;
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
    acts: &OrderActivities,
    input: &RefundInput,
) -> Result<Option<PaymentInfo>, CallError> {
    let resp = post(
        acts,
        "payment",
        format!("{}/v1/refunds", acts.payment_url),
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
    if !resp.status().is_success() {
        return Err(unexpected("payment", resp).await);
    }
    let rec: Record = resp.json().await.map_err(|source| CallError::Unreachable {
        service: "payment",
        source,
    })?;
    Ok(Some(rec.into()))
}

pub async fn notify(acts: &OrderActivities, input: &NotifyInput) -> Result<(), CallError> {
    let resp = post(
        acts,
        "notification",
        format!("{}/v1/notifications", acts.notify_url),
        serde_json::to_value(input).expect("notification serializes"),
    )
    .await?;
    if !resp.status().is_success() {
        return Err(unexpected("notification", resp).await);
    }
    Ok(())
}
