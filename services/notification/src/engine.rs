//! The leased-row delivery engine under both outgoing channels (webhook deliveries, KakaoTalk
//! messages): what is owed is a row (a restart loses none), and one loop per channel takes
//! the rows that are due, sends each on its own task, records the outcome, and backs off.
//!
//! Several replicas may run the same loop on one database: a row is *leased* before it is
//! sent (its due time pushed past the attempt's end and a fresh `lease_token` written, in one
//! statement that skips what another replica took), so each attempt has one sender, and a row
//! whose sender died is due again when the lease runs out. The loop wakes when a new row is
//! owed or an attempt finishes, and polls besides, so neither a lost wake-up nor another
//! replica's rows wait long.
//!
//! **Fencing.** An attempt records its outcome only `WHERE lease_token = <its token>`, and
//! every record clears the token. An attempt that outlived its lease (a hung receiver, a
//! paused process) finds the row leased again to someone else, or already settled, and its
//! late outcome changes nothing: it can never turn a delivered row back into a pending one.
//!
//! **The database's clock.** Due times and lease expiries are compared with the database's
//! now ([`sql_now`]), never a process's own clock, so replicas whose clocks disagree still
//! agree on which row is due and whose lease ran out. Times stay RFC 3339 text (milliseconds,
//! `Z`) as the rows and the HTTP contract have them; the database writes them in that same
//! form, so they compare as text.
//!
//! A [`Channel`] says only what differs: which rows are due, how to send one, and what an
//! outcome does to its row. The engine works on SQLite and PostgreSQL alike; the few
//! fragments that differ (the clock) come from [`sql_now`] and [`sql_after`].

use baedal_db::{Db, Dialect};
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
    /// The table of the rows: a text `id`, `status` (`pending` while owed),
    /// `next_attempt_at` (RFC 3339, when the next attempt is due, or when the lease of the
    /// attempt under way runs out) and `lease_token` (the lease under way, if any).
    const TABLE: &'static str;
    /// What the rows are, for logs.
    const WHAT: &'static str;

    fn id(item: &Self::Item) -> &str;

    /// The group whose rows share [`Limits::per_group`] attempts in flight (a webhook: a slow
    /// receiver must not take every slot); `None`, only the overall limit.
    fn group(_item: &Self::Item) -> Option<&str> {
        None
    }

    /// Up to `limit` rows due now by the database's clock, the longest due first.
    fn due(
        &self,
        db: &Db,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Self::Item>, sqlx::Error>> + Send;

    /// One attempt at sending `item`; never fails, the outcome says how it went.
    fn send(&self, item: &Self::Item) -> impl Future<Output = Self::Outcome> + Send;

    /// Write down what the attempt came to (done, given up, or due again later), only if the
    /// row is still under the lease `lease` (`WHERE lease_token = lease`, clearing it).
    /// Answers whether it applied: `false` when a newer attempt or a manual retry has taken
    /// the row since, and this late outcome must change nothing.
    fn record(
        &self,
        db: &Db,
        item: &Self::Item,
        lease: &str,
        outcome: &Self::Outcome,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;
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
                let token: Arc<str> = new_token().into();
                let leased = match lease_rows(&db, C::TABLE, &ids, &token, limits.lease).await {
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
                    let token = token.clone();
                    tokio::spawn(async move {
                        let outcome = channel.send(&item).await;
                        match channel.record(&db, &item, &token, &outcome).await {
                            Ok(true) => {}
                            Ok(false) => tracing::info!(
                                id = C::id(&item),
                                "a late outcome for one of the {}: its lease ran out and a newer attempt or a retry has the row; dropped",
                                C::WHAT
                            ),
                            Err(e) => {
                                tracing::warn!(id = C::id(&item), error = %e, "recording one of the {}", C::WHAT)
                            }
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

/// Take the pending rows `ids` of `table` that are still due for one attempt each, under the
/// lease `token`: push their due time past the attempt's end (by the database's clock) and
/// write the token, in one statement, and answer the ids taken (a row another replica took
/// is not due any more). If this process dies mid-attempt, the row is due again when the
/// lease runs out, and the next lease's token fences this one's late outcome out.
pub(crate) async fn lease_rows(
    db: &Db,
    table: &'static str,
    ids: &[&str],
    token: &str,
    lease: Duration,
) -> Result<HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE {table} SET next_attempt_at = {until}, lease_token = $2
         WHERE status = 'pending' AND next_attempt_at <= {now} AND id IN ({})
         RETURNING id",
        placeholders.join(", "),
        until = sql_after(db.dialect, "$1"),
        now = sql_now(db.dialect),
    );
    let mut q = sqlx::query(&sql).bind(millis(lease)).bind(token);
    for id in ids {
        q = q.bind(*id);
    }
    Ok(q.fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect())
}

/// A fresh lease token: each lease of a row has its own, so a record names the one attempt it
/// belongs to.
pub(crate) fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The database's now, in SQL, as the rows store times (RFC 3339 UTC with milliseconds, so it
/// compares as text with `next_attempt_at`). PostgreSQL: the statement's start
/// (`statement_timestamp()` is stable within a statement, so it can bound an index scan,
/// which `clock_timestamp()` cannot); SQLite: `'now'`, fixed for the whole statement.
pub(crate) fn sql_now(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        }
        Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    }
}

/// The database's now plus the milliseconds bound to `param` (an integer), in SQL, as the
/// rows store times.
pub(crate) fn sql_after(dialect: Dialect, param: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "to_char((statement_timestamp() + {param}::bigint * interval '1 millisecond') \
             AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        ),
        Dialect::Sqlite => {
            format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ({param} / 1000.0) || ' seconds')")
        }
    }
}

/// `d` in whole milliseconds, to bind for [`sql_after`].
pub(crate) fn millis(d: Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

/// After a failed attempt, the `attempts`-th: the row's next status and how long until its
/// next attempt (the caller adds it to the database's now, [`sql_after`]). `pending` at the
/// schedule's next wait, or `failed` at once when the schedule has run out.
pub(crate) fn back_off(
    schedule: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> (&'static str, Duration) {
    match next_wait(schedule, attempts, retry_after, jitter()) {
        Some(w) => ("pending", w),
        None => ("failed", Duration::ZERO),
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

/// This process's now, as the rows store times (RFC 3339 UTC, milliseconds: they sort as
/// text). Only for what is shown (`created_at`, `delivered_at`), never to decide what is due:
/// that is the database's clock ([`sql_now`]).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long from `earlier` to `later`, two times as the rows store them (zero when either
/// does not parse or `later` is earlier).
pub(crate) fn between(earlier: &str, later: &str) -> Duration {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (parse(earlier), parse(later)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
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
