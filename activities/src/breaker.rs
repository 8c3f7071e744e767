//! The circuit breaker around charges (tower-resilience's resilience4j-style breaker).
//!
//! When payment is overloaded or down, charging on is pointless and makes it worse: after enough
//! failures or slow calls in the window the breaker opens, every charge fails at once with a
//! non-retryable error carrying the time until it half-opens, and the customer is asked to pay a
//! little later. Declines are answers, not failures: they never trip it. Half-open lets a few
//! probe charges through; their outcome closes or re-opens it.

use crate::io::{self, CallError};
use crate::{ChargeInput, ChargeOutcome};
use baedal_payment_client::PaymentClient;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;
use tower::{Service, ServiceExt};
use tower_resilience_circuitbreaker::{
    CircuitBreaker, CircuitBreakerError, CircuitBreakerHandle, CircuitBreakerLayer, CircuitState,
    FailureClassifier, SlidingWindowType,
};

/// Error type name of the activity failure for an open breaker (non-retryable).
pub const BREAKER_OPEN: &str = "PaymentBreakerOpen";

/// Breaker settings (each a `BAEDAL_BREAKER_*` setting of the binary).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    /// How far back the sliding window remembers calls.
    pub window: Duration,
    /// Calls needed in the window before rates are judged.
    pub min_calls: usize,
    /// Failure rate (0..1] at which it opens.
    pub failure_rate: f64,
    /// A call slower than this counts as slow.
    pub slow_call: Duration,
    /// Slow-call rate (0..1] at which it opens.
    pub slow_rate: f64,
    /// How long it stays open before half-opening.
    pub open_for: Duration,
    /// Probe calls let through while half-open.
    pub half_open_calls: usize,
}

impl Default for BreakerSettings {
    /// For a few charges a second: judge the last 30 s once 5 calls are in, open at half of
    /// them failing or 80% slower than 2 s (the charge budget is 5 s), stay open 10 s, probe
    /// with 2.
    fn default() -> Self {
        Self {
            window: Duration::from_secs(30),
            min_calls: 5,
            failure_rate: 0.5,
            slow_call: Duration::from_secs(2),
            slow_rate: 0.8,
            open_for: Duration::from_secs(10),
            half_open_calls: 2,
        }
    }
}

/// Why a guarded charge did not get an answer from the PSP.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    #[error("payment_breaker_open: payment is failing; retry_after={retry_after_secs}s")]
    Open { retry_after_secs: u64 },
    #[error(transparent)]
    Call(#[from] CallError),
}

impl ChargeError {
    /// Transient call errors are retried by Temporal within the charge budget; an open breaker
    /// is not (retrying would only wait out the budget the customer is waiting on), nor is a
    /// permanent refusal (a refunded or voided charge, a key for other money: the same
    /// charge gets the same answer).
    pub fn into_activity_error(self) -> ActivityError {
        match self {
            ChargeError::Open { retry_after_secs } => ActivityError::application(
                ApplicationFailure::builder(self.to_string())
                    .type_name(BREAKER_OPEN.to_owned())
                    .non_retryable(true)
                    .details(retry_after_secs)
                    .build(),
            ),
            ChargeError::Call(e) if e.is_permanent() => crate::call_failure(e),
            ChargeError::Call(e) => e.into(),
        }
    }
}

/// The seconds until the breaker half-opens, when `e` is a charge failed by an open breaker:
/// read from the failure's type and details, as the activity sent them.
pub fn retry_after(e: &temporalio_sdk::ActivityExecutionError) -> Option<u64> {
    use temporalio_common::protos::temporal::api::failure::v1::failure::FailureInfo;
    let mut next = e.failure();
    while let Some(f) = next {
        if let Some(FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
            && info.r#type == BREAKER_OPEN
        {
            let payload = info.details.as_ref()?.payloads.first()?;
            return serde_json::from_slice(&payload.data).ok();
        }
        next = f.cause.as_deref();
    }
    None
}

/// What opens the breaker: calls that say payment is failing. A refusal of one charge (its key
/// stands for other money, or for a charge refunded or voided since) is an answer from a
/// working PSP, like a decline: counting it would shut payment for every customer because of
/// one order.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutageClassifier;

impl<Res> FailureClassifier<Res, CallError> for OutageClassifier {
    fn classify(&self, result: &Result<Res, CallError>) -> bool {
        matches!(result, Err(e) if !matches!(e, CallError::Refused { .. }))
    }
}

/// The charge call as a tower service, so the breaker layer can wrap it.
#[derive(Clone)]
struct ChargeService(PaymentClient);

impl Service<ChargeInput> for ChargeService {
    type Response = ChargeOutcome;
    type Error = CallError;
    type Future = BoxFuture<'static, Result<ChargeOutcome, CallError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), CallError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, input: ChargeInput) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move { io::charge(&client, &input).await })
    }
}

/// What ops see of the breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerSnapshot {
    /// `closed`, `open` or `half_open`.
    pub state: String,
    pub calls: usize,
    pub failures: usize,
    pub slow_calls: usize,
    pub failure_rate: f64,
    pub slow_call_rate: f64,
    /// Seconds until an open breaker half-opens (0 unless open).
    pub retry_after_secs: u64,
    pub seconds_in_state: u64,
}

/// The breaker-guarded payment client. Clones share one circuit.
#[derive(Clone)]
pub struct PaymentBreaker {
    svc: CircuitBreaker<ChargeService, OutageClassifier>,
    handle: CircuitBreakerHandle<OutageClassifier>,
    open_for: Duration,
    /// The latest failed charge's error: the reason logged when the breaker opens.
    last_failure: Arc<Mutex<String>>,
    /// Probes that succeeded since the breaker last half-opened, and how many close it. The
    /// crate counts half-open successes inside its time window only, so with traffic sparser
    /// than the window its probes never add up, its permits run out, and it stays half-open
    /// refusing every charge for good; this count closes it once enough probes succeeded,
    /// however far apart.
    half_open_successes: Arc<AtomicUsize>,
    half_open_calls: usize,
}

fn state_name(s: CircuitState) -> &'static str {
    match s {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

impl PaymentBreaker {
    pub fn new(payment: PaymentClient, s: &BreakerSettings) -> Self {
        let last_failure = Arc::new(Mutex::new(String::new()));
        let reason = last_failure.clone();
        let half_open_successes = Arc::new(AtomicUsize::new(0));
        let probes = half_open_successes.clone();
        let (layer, handle) = CircuitBreakerLayer::builder()
            .name("payment")
            .failure_classifier_type(OutageClassifier)
            // Time-based: a count-based window would wait for the whole window to fill before
            // judging, however many calls `min_calls` asks for.
            .sliding_window_type(SlidingWindowType::TimeBased)
            .sliding_window_duration(s.window.max(Duration::from_secs(1)))
            .minimum_number_of_calls(s.min_calls.max(1))
            .failure_rate_threshold(s.failure_rate)
            .slow_call_duration_threshold(s.slow_call)
            .slow_call_rate_threshold(s.slow_rate)
            .wait_duration_in_open(s.open_for)
            .permitted_calls_in_half_open(s.half_open_calls.max(1))
            .on_state_transition(move |from, to| {
                probes.store(0, Ordering::SeqCst);
                let (from, to) = (state_name(from), state_name(to));
                if to == "open" {
                    let last = reason.lock().map(|r| r.clone()).unwrap_or_default();
                    tracing::warn!(
                        from,
                        to,
                        last_failure = %last,
                        "payment breaker opened: too many failed or slow charges in the window"
                    );
                } else {
                    tracing::warn!(from, to, "payment breaker changed state");
                }
                metrics::counter!("baedal_payment_breaker_transitions_total", "to" => to)
                    .increment(1);
            })
            .build_with_handle()
            .expect("breaker settings validated by the caller");
        Self {
            svc: layer.layer_fn(ChargeService(payment)),
            handle,
            open_for: s.open_for,
            last_failure,
            half_open_successes,
            half_open_calls: s.half_open_calls.max(1),
        }
    }

    /// Charge through the breaker.
    pub async fn charge(&self, input: ChargeInput) -> Result<ChargeOutcome, ChargeError> {
        let mut svc = self.svc.clone();
        let ready = svc.ready().await;
        let result = match ready {
            Ok(svc) => svc.call(input).await,
            Err(e) => Err(e),
        };
        let outcome = match result {
            Ok(o) => Ok(o),
            Err(CircuitBreakerError::Inner(e)) => {
                // Only what the breaker counts may be named as the reason it opened.
                if !matches!(e, CallError::Refused { .. })
                    && let Ok(mut last) = self.last_failure.lock()
                {
                    *last = e.to_string();
                }
                Err(ChargeError::Call(e))
            }
            Err(CircuitBreakerError::OpenCircuit) => {
                metrics::counter!("baedal_payment_breaker_rejections_total").increment(1);
                Err(ChargeError::Open {
                    retry_after_secs: self.snapshot().await.retry_after_secs.max(1),
                })
            }
        };
        let label = match &outcome {
            Ok(ChargeOutcome::Approved { .. }) => "approved",
            Ok(ChargeOutcome::Declined { .. }) => "declined",
            Err(ChargeError::Open { .. }) => "breaker_open",
            Err(ChargeError::Call(CallError::Refused { .. })) => "refused",
            Err(ChargeError::Call(_)) => "error",
        };
        metrics::counter!("baedal_payment_charges_total", "outcome" => label).increment(1);
        // An answer from the PSP (an approval, a decline, a refusal of one charge) is a
        // probe that succeeded.
        let answered = matches!(
            &outcome,
            Ok(_) | Err(ChargeError::Call(CallError::Refused { .. }))
        );
        if answered
            && self.handle.state() == CircuitState::HalfOpen
            && self.half_open_successes.fetch_add(1, Ordering::SeqCst) + 1 >= self.half_open_calls
        {
            self.handle.force_closed().await;
        }
        outcome
    }

    pub async fn snapshot(&self) -> BreakerSnapshot {
        let m = self.handle.metrics().await;
        let retry_after_secs = match m.state {
            CircuitState::Open => self
                .open_for
                .saturating_sub(m.time_since_state_change)
                .as_secs_f64()
                .ceil() as u64,
            _ => 0,
        };
        metrics::gauge!("baedal_payment_breaker_state").set(match m.state {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        });
        BreakerSnapshot {
            state: state_name(m.state).to_owned(),
            calls: m.total_calls,
            failures: m.failure_count,
            slow_calls: m.slow_call_count,
            failure_rate: m.failure_rate,
            slow_call_rate: m.slow_call_rate,
            retry_after_secs,
            seconds_in_state: m.time_since_state_change.as_secs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payment service that refuses connections: the breaker opens after `min_calls`
    /// failures and then fails fast without calling it.
    #[tokio::test]
    async fn opens_after_min_calls_failures_and_then_fails_fast() {
        crate::install_crypto_provider();
        // Port 9 (discard) on loopback: nothing listens, connections are refused at once.
        let client = PaymentClient::new("http://127.0.0.1:9", "t");
        let settings = BreakerSettings {
            min_calls: 3,
            open_for: Duration::from_secs(30),
            ..Default::default()
        };
        let breaker = PaymentBreaker::new(client, &settings);
        let input = ChargeInput {
            order_id: "ord_x".into(),
            amount: 1000,
            card_token: "tok_ok".into(),
        };
        for _ in 0..3 {
            assert!(matches!(
                breaker.charge(input.clone()).await,
                Err(ChargeError::Call(_))
            ));
        }
        let snap = breaker.snapshot().await;
        assert_eq!(snap.state, "open");
        match breaker.charge(input).await {
            Err(ChargeError::Open { retry_after_secs }) => {
                assert!((1..=30).contains(&retry_after_secs))
            }
            other => panic!("expected an open breaker, got {other:?}"),
        }
    }

    /// Probes further apart than the window still close the breaker: at night, one order
    /// every minute must not find payment shut for good after a short PSP outage.
    #[tokio::test]
    async fn probes_further_apart_than_the_window_close_it() {
        crate::install_crypto_provider();
        let (client, _state) = crate::io::tests::payment_service().await;
        let faults = |unavailable: bool| {
            let url = format!("{}/v1/admin/faults", client.base_url());
            async move {
                let r = reqwest::Client::new()
                    .put(url)
                    .bearer_auth("svc")
                    .json(&serde_json::json!({ "unavailable": unavailable }))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        };
        let settings = BreakerSettings {
            window: Duration::from_secs(1),
            min_calls: 2,
            open_for: Duration::from_millis(200),
            half_open_calls: 2,
            ..Default::default()
        };
        let breaker = PaymentBreaker::new(client.clone(), &settings);
        let charge = |n: u32| ChargeInput {
            order_id: format!("ord_{n}"),
            amount: 1000,
            card_token: "tok_ok".into(),
        };
        faults(true).await;
        for n in 0..2 {
            assert!(breaker.charge(charge(n)).await.is_err());
        }
        assert_eq!(breaker.snapshot().await.state, "open");
        faults(false).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(matches!(
            breaker.charge(charge(10)).await,
            Ok(ChargeOutcome::Approved { .. })
        ));
        assert_eq!(breaker.snapshot().await.state, "half_open");
        // The first probe has left the window by the time the second one comes.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(matches!(
            breaker.charge(charge(11)).await,
            Ok(ChargeOutcome::Approved { .. })
        ));
        assert_eq!(breaker.snapshot().await.state, "closed");
        for n in 12..15 {
            assert!(
                matches!(
                    breaker.charge(charge(n)).await,
                    Ok(ChargeOutcome::Approved { .. })
                ),
                "charge {n} after the breaker closed"
            );
        }
    }
}
