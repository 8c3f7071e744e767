//! The stuck sweep: alert ops once about each open order that has sat in one status longer
//! than `BAEDAL_STUCK_AFTER`.
//!
//! A sweep over the read model's open-orders index rather than a timer in every workflow: a
//! per-status timer would add a started and a canceled event to every transition of every
//! order (eight more on a completed one) to catch the few that stick. The alert goes through
//! the notification service like any other, deduplicated by `(order_id, STUCK_SEQ_BASE + seq)`,
//! and the sweep records it so it is sent once however many workers sweep.

use crate::NotifyInput;
use crate::io;
use baedal_notification_client::NotificationClient;
use baedal_readmodel::ReadModel;
use std::time::Duration;

/// Notification seq numbers of stuck alerts: `STUCK_SEQ_BASE + <seq of the stuck status>`,
/// apart from transitions (1..) and rider-search escalations (10,000..).
pub const STUCK_SEQ_BASE: u32 = 20_000;

/// Notification seq of the alert that an order's refund is stuck (one per order).
pub const REFUND_STUCK_SEQ: u32 = 29_999;

/// Alerts sent per sweep at most; the rest wait for the next sweep.
const BATCH: u32 = 200;

/// One sweep: alert ops about every stuck order not alerted yet. Answers how many alerts went
/// out; an order whose alert could not be sent is tried again next sweep.
pub async fn sweep(
    read_model: &ReadModel,
    notify: &NotificationClient,
    stuck_after: Duration,
) -> baedal_readmodel::Result<usize> {
    let now = chrono::Utc::now();
    let before = now - chrono::Duration::from_std(stuck_after).unwrap_or(chrono::Duration::MAX);
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut stuck = read_model
        .stuck_orders_unalerted(&stamp(before), BATCH)
        .await?;
    stuck.extend(
        read_model
            .stuck_refunds(&stamp(before), BATCH, true)
            .await?,
    );
    let mut sent = 0;
    for o in stuck {
        if let Some(refund) = &o.refund {
            let alert = NotifyInput {
                order_id: o.id.clone(),
                seq: REFUND_STUCK_SEQ,
                recipients: vec!["ops".to_owned()],
                status: o.status.as_str().to_owned(),
                message: format!(
                    "the refund of {} won for order {} of store {} is owed since {} and not \
                     through after {} attempts (last error: {}): check the PSP and the ledger",
                    refund.amount,
                    o.id,
                    o.store_id,
                    refund.owed_since,
                    refund.attempts,
                    refund.last_error.as_deref().unwrap_or("none recorded"),
                ),
                store_id: None,
                order: None,
            };
            match io::notify(notify, &alert).await {
                Ok(()) => {
                    read_model.mark_refund_alerted(&o.id, &stamp(now)).await?;
                    metrics::counter!("baedal_stuck_refund_alerts_total").increment(1);
                    tracing::error!(order_id = %o.id, since = %refund.owed_since, attempts = refund.attempts,
                        "refund stuck: ops alerted");
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(order_id = %o.id, error = %e, "stuck refund alert not sent; next sweep retries");
                }
            }
            continue;
        }
        let alert = NotifyInput {
            order_id: o.id.clone(),
            seq: STUCK_SEQ_BASE + o.seq,
            recipients: vec!["ops".to_owned()],
            status: o.status.as_str().to_owned(),
            message: format!(
                "order {} of store {} has been {} since {} (longer than {}): look into it; \
                 POST /v1/ops/orders/{}/cancel refunds the customer",
                o.id,
                o.store_id,
                o.status,
                o.since,
                humantime::format_duration(stuck_after),
                o.id
            ),
            store_id: None,
            order: None,
        };
        match io::notify(notify, &alert).await {
            Ok(()) => {
                read_model
                    .mark_stuck_alerted(&o.id, o.seq, &stamp(now))
                    .await?;
                metrics::counter!("baedal_stuck_alerts_total").increment(1);
                tracing::warn!(order_id = %o.id, status = %o.status, since = %o.since, "order stuck: ops alerted");
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(order_id = %o.id, error = %e, "stuck alert not sent; next sweep retries");
            }
        }
    }
    Ok(sent)
}
