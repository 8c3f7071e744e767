//! The engine's retention against baedal's idempotency window: checked by the api and the
//! worker when they start against an existing cluster.
//!
//! A place-order key is answered for `BAEDAL_IDEMPOTENCY_WINDOW` from its first use. For an
//! attempt the read model never saw established (declined, payment unavailable, expired), the
//! answer is the closed workflow's; once retention has removed that workflow, the same key and
//! body would start a second run under the same order id, and the same charge key. So the
//! namespace must keep closed workflows at least as long as a key is honoured. Retention counts
//! from the close, so the window alone would do; the check asks for the window plus the longest
//! an order can live on its own timers as a margin (a key can be first used, then its order
//! runs that long before it closes), so that a misread of either side never cuts it close.

use baedal_domain::{Timeouts, state::MAX_ESCALATIONS};
use std::time::Duration;
use temporalio_client::Client;
use temporalio_protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;

/// The longest an order lives on its timers alone: payment retries, the store's answer, every
/// rider-claim timer, the pickup deadline and the auto-confirm. (Statuses with no timer, such
/// as cooking, are bounded by ops: the stuck list and ops cancel.)
pub fn longest_order_life(t: &Timeouts) -> Duration {
    let ms = t.payment_retry_ms
        + t.store_accept_ms
        + t.rider_claim_ms * u64::from(MAX_ESCALATIONS + 1)
        + t.pickup_deadline_ms.unwrap_or_default()
        + t.auto_confirm_ms;
    Duration::from_millis(ms)
}

/// The shortest retention baedal runs with.
pub fn required(idempotency_window: Duration, timeouts: &Timeouts) -> Duration {
    idempotency_window + longest_order_life(timeouts)
}

/// Refuse a retention shorter than `needed`, saying what to change.
pub fn ensure(namespace: &str, retention: Duration, needed: Duration) -> anyhow::Result<()> {
    if retention >= needed {
        return Ok(());
    }
    anyhow::bail!(
        "namespace {namespace} keeps closed workflows for {} but baedal needs at least {} \
         (BAEDAL_IDEMPOTENCY_WINDOW plus the longest an order lives on its timers): a retried \
         place-order could otherwise start a second order under a known key. Raise the \
         retention (`temporal operator namespace update --retention {}h {namespace}`, or the \
         Helm values' namespace retention) or shorten BAEDAL_IDEMPOTENCY_WINDOW",
        humantime::format_duration(retention),
        humantime::format_duration(needed),
        needed.as_secs().div_ceil(3600),
    )
}

/// Read `namespace`'s retention from the engine.
pub async fn of(client: &Client, namespace: &str) -> anyhow::Result<Duration> {
    let mut svc = client.connection().workflow_service();
    let answer = svc
        .describe_namespace(temporalio_client::tonic::Request::new(
            DescribeNamespaceRequest {
                namespace: namespace.to_owned(),
                ..Default::default()
            },
        ))
        .await
        .map_err(|s| anyhow::anyhow!("describing namespace {namespace}: {s}"))?
        .into_inner();
    let ttl = answer
        .config
        .and_then(|c| c.workflow_execution_retention_ttl)
        .unwrap_or_default();
    Ok(Duration::from_secs(ttl.seconds.max(0) as u64)
        + Duration::from_nanos(ttl.nanos.max(0) as u64))
}

/// How long a role waits for a retention that is too short to be raised before it refuses to
/// run: a namespace being set up (the dev server, a Helm job) may still be at its default
/// when the first replicas come up.
const GRACE: Duration = Duration::from_secs(30);

/// Read the retention and refuse to go on when it is too short (after [`GRACE`]).
pub async fn check(
    client: &Client,
    namespace: &str,
    idempotency_window: Duration,
    timeouts: &Timeouts,
) -> anyhow::Result<()> {
    let needed = required(idempotency_window, timeouts);
    let until = std::time::Instant::now() + GRACE;
    let retention = loop {
        let retention = of(client, namespace).await?;
        match ensure(namespace, retention, needed) {
            Ok(()) => break retention,
            Err(e) if std::time::Instant::now() >= until => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "waiting for the namespace's retention to be raised");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    tracing::info!(
        namespace,
        retention = %humantime::format_duration(retention),
        needed = %humantime::format_duration(needed),
        "the engine keeps closed orders long enough for the idempotency window"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn defaults() -> Timeouts {
        Timeouts {
            store_accept_ms: 10 * 60_000,
            rider_claim_ms: 10 * 60_000,
            auto_confirm_ms: 30 * 60_000,
            payment_retry_ms: 15 * 60_000,
            retry_cap_ms: 60_000,
            pickup_deadline_ms: Some(15 * 60_000),
            delivery_deadline_ms: Some(60 * 60_000),
        }
    }

    #[test]
    fn the_shipped_two_days_cover_the_default_day_and_one_day_does_not() {
        let needed = required(24 * HOUR, &defaults());
        assert!(needed > 24 * HOUR && needed < 27 * HOUR, "{needed:?}");
        assert!(ensure("default", 48 * HOUR, needed).is_ok());
        let err = ensure("default", 24 * HOUR, needed)
            .unwrap_err()
            .to_string();
        assert!(err.contains("BAEDAL_IDEMPOTENCY_WINDOW"), "{err}");
        assert!(err.contains("--retention 26h"), "{err}");
    }
}
