//! The leased-row delivery engine under both outgoing channels (webhook deliveries, KakaoTalk
//! messages): what is owed is a row (a restart loses none), and one loop per channel takes
//! the rows that are due, sends each on its own task, records the outcome, and backs off.
//!
//! Several replicas may run the same loop on one database: a row is *leased* before it is
//! sent (its due time pushed past the attempt's end, in one statement that skips what another
//! replica took), so each attempt has one sender, and a row whose sender died is due again
//! when the lease runs out. The loop wakes when a new row is owed or an attempt finishes, and
//! polls besides, so neither a lost wake-up nor another replica's rows wait long.
//!
//! A [`Channel`] says only what differs: which rows are due, how to send one, and what an
//! outcome does to its row. The engine works on SQLite and PostgreSQL alike (the same SQL).

use baedal_db::Db;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// One kind of row owed and sent.
pub(crate) trait Channel: Send + Sync + 'static {
    /// A due row, as the channel reads it.
    type Item: Send + Sync + 'static;
    /// What one attempt came to.
    type Outcome: Send + 'static;
    /// The table of the rows: a text `id`, `status` (`pending` while owed) and
    /// `next_attempt_at` (RFC 3339, when the next attempt is due).
    const TABLE: &'static str;
    /// What the rows are, for logs.
    const WHAT: &'static str;

    fn id(item: &Self::Item) -> &str;

    /// The group whose rows share [`Limits::per_group`] attempts in flight (a webhook: a slow
    /// receiver must not take every slot); `None`, only the overall limit.
    fn group(_item: &Self::Item) -> Option<&str> {
        None
    }

    /// Up to `limit` rows due now, the longest due first.
    fn due(
        &self,
        db: &Db,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Item>, sqlx::Error>> + Send;

    /// One attempt at sending `item`; never fails, the outcome says how it went.
    fn send(&self, item: &Self::Item) -> impl Future<Output = Self::Outcome> + Send;

    /// Write down what the attempt came to (done, given up, or due again later).
    fn record(
        &self,
        db: &Db,
        item: &Self::Item,
        outcome: &Self::Outcome,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// How much one loop takes on.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Due rows read per round.
    pub batch: i64,
    /// Attempts in flight in all, and per group.
    pub max_in_flight: usize,
    pub per_group: usize,
    /// How long a leased row is kept from other senders: longer than an attempt can take.
    pub lease: Duration,
    /// How often the loop looks for due rows when nothing woke it.
    pub poll: Duration,
}

/// A sending loop's handle (webhook deliveries, KakaoTalk messages): wake it when new work is
/// owed; the loop holds the other end.
#[derive(Clone)]
pub struct Deliverer {
    wake: Arc<Notify>,
}

impl Deliverer {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Start sending what `db` owes on `channel`, until the process ends.
pub(crate) fn spawn<C: Channel>(db: Db, channel: C, limits: Limits) -> Deliverer {
    let wake = Arc::new(Notify::new());
    tokio::spawn(run(db, Arc::new(channel), limits, wake.clone()));
    Deliverer { wake }
}

async fn run<C: Channel>(db: Db, channel: Arc<C>, limits: Limits, wake: Arc<Notify>) {
    let all = Arc::new(Semaphore::new(limits.max_in_flight));
    let mut groups: HashMap<String, Arc<Semaphore>> = HashMap::new();
    loop {
        // Forget the limits of groups with nothing in flight (deleted hooks among them).
        groups.retain(|_, s| s.available_permits() < limits.per_group);
        // Whether more may be due right now: then look again at once instead of waiting.
        let mut more = false;
        match channel.due(&db, limits.batch).await {
            Ok(batch) => {
                let full = batch.len() as i64 == limits.batch;
                let mut chosen = Vec::new();
                let mut saturated = false;
                for item in batch {
                    // A group at its limit waits its turn; others go on.
                    let group_slot = match C::group(&item) {
                        Some(g) => {
                            let group = groups
                                .entry(g.to_owned())
                                .or_insert_with(|| Arc::new(Semaphore::new(limits.per_group)));
                            match group.clone().try_acquire_owned() {
                                Ok(slot) => Some(slot),
                                Err(_) => {
                                    saturated = true;
                                    continue;
                                }
                            }
                        }
                        None => None,
                    };
                    let Ok(slot) = all.clone().try_acquire_owned() else {
                        saturated = true;
                        break;
                    };
                    chosen.push((item, (group_slot, slot)));
                }
                let ids: Vec<&str> = chosen.iter().map(|c| C::id(&c.0)).collect();
                // One statement leases the lot; what another replica took is left out.
                let leased = match lease_rows(&db, C::TABLE, &ids, limits.lease).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "leasing {}", C::WHAT);
                        Default::default()
                    }
                };
                // A full batch, all taken: the backlog goes on. Otherwise a finishing attempt
                // (or a new row, or the poll) starts the next round.
                more = full && !saturated && !leased.is_empty();
                for (item, slots) in chosen {
                    if !leased.contains(C::id(&item)) {
                        continue;
                    }
                    let (db, channel, wake) = (db.clone(), channel.clone(), wake.clone());
                    tokio::spawn(async move {
                        let outcome = channel.send(&item).await;
                        if let Err(e) = channel.record(&db, &item, &outcome).await {
                            tracing::warn!(id = C::id(&item), error = %e, "recording one of the {}", C::WHAT);
                        }
                        drop(slots);
                        wake.notify_one();
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading due {}", C::WHAT),
        }
        if !more {
            let _ = tokio::time::timeout(limits.poll, wake.notified()).await;
        }
    }
}

/// Take the pending rows `ids` of `table` that are still due for one attempt each: push their
/// due time past the attempt's end, in one statement, and answer the ids taken (a row another
/// replica took is not due any more). If this process dies mid-attempt, the row is due again
/// when the lease runs out.
async fn lease_rows(
    db: &Db,
    table: &'static str,
    ids: &[&str],
    lease: Duration,
) -> Result<HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE {table} SET next_attempt_at = $1
         WHERE status = 'pending' AND next_attempt_at <= $2 AND id IN ({})
         RETURNING id",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(at(lease)).bind(now());
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect())
}

/// After a failed attempt, the `attempts`-th: the row's next status and due time. `pending`
/// at the schedule's next wait, or `failed` now when the schedule has run out.
pub(crate) fn back_off(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> (&'static str, String) {
    match next_wait(schedule, attempts, retry_after, jitter()) {
        Some(w) => ("pending", at(w)),
        None => ("failed", now()),
    }
}

/// The wait before attempt `attempts + 1` (`attempts` made so far), or `None` when the
/// schedule has run out. Jitter: ±20%, so receivers coming back are not hit all at once.
/// A receiver's `Retry-After` can lengthen the wait (up to a day), never shorten it.
pub fn next_wait(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<Duration> {
    let base = *schedule.get(attempts.checked_sub(1)? as usize)?;
    let jittered = base.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Some(
        jittered.max(
            retry_after
                .unwrap_or_default()
                .min(Duration::from_secs(24 * 3600)),
        ),
    )
}

/// A receiver's `Retry-After`, in seconds (the HTTP-date form is not honoured).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A uniform number in -1..1 (for jitter; no cryptographic needs).
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 2_000_001) as f64 / 1_000_000.0 - 1.0
}

/// Now, as the rows store times (RFC 3339 UTC, milliseconds: they sort as text).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `after` from now, as the rows store times.
fn at(after: Duration) -> String {
    (chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_default())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::STANDARD_SCHEDULE;

    #[test]
    fn the_schedule_runs_out_and_retry_after_only_lengthens_it() {
        let s = &STANDARD_SCHEDULE;
        assert_eq!(next_wait(s, 1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(
            next_wait(s, 9, None, 0.0),
            Some(Duration::from_secs(24 * 3600))
        );
        assert_eq!(next_wait(s, 10, None, 0.0), None, "ten attempts in all");
        let w = next_wait(s, 2, None, 1.0).unwrap();
        assert_eq!(w, Duration::from_secs(360), "+20% jitter at most");
        assert_eq!(
            next_wait(s, 1, Some(Duration::from_secs(120)), 0.0),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            next_wait(s, 3, Some(Duration::from_secs(1)), 0.0),
            Some(Duration::from_secs(1800))
        );
        let total: Duration = s.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(4 * 86400));
    }
}
