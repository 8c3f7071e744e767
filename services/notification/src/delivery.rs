//! Delivering hook events: at least once, signed (Standard Webhooks), never blocking anything.
//!
//! A loop takes the deliveries that are due from the database (rows, so a restart loses none),
//! sends each on its own task, and records the outcome: 2xx is done; `410 Gone` disables the
//! hook; anything else is tried again on the Standard Webhooks schedule (with jitter, later if
//! the receiver's `Retry-After` says so) until the schedule runs out. A hook that keeps failing
//! for `disable_after` is disabled and its owner told in their inbox. Each hook has at most
//! `per_hook` attempts in flight and every attempt has connect and total timeouts, so a dead
//! or slow receiver delays neither the orders (they never wait for a delivery) nor other hooks.

use crate::hooks::{Delivery, delivery, now};
use crate::ssrf;
use baedal_db::Db;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// The Standard Webhooks retry schedule: the waits before the 2nd, 3rd, … attempt (the first
/// is immediate); about a day and a half in all.
pub const STANDARD_SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// Due deliveries read per round.
const BATCH: i64 = 128;

/// The largest response body read from a receiver (the rest is dropped unread).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Let hooks reach private addresses and plain http (tests with a local receiver).
    pub allow_private: bool,
    /// Waits between attempts; when it runs out, the delivery has failed.
    pub schedule: Vec<Duration>,
    /// A hook failing this long without a success is disabled.
    pub disable_after: Duration,
    /// Attempts in flight per hook, and in all.
    pub per_hook: usize,
    pub max_in_flight: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// How often the loop looks for due deliveries when nothing woke it.
    pub poll: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            schedule: STANDARD_SCHEDULE.to_vec(),
            disable_after: Duration::from_secs(24 * 3600),
            per_hook: 4,
            max_in_flight: 256,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(250),
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// 410: the receiver wants no more.
    Gone,
    /// Try again (not before `retry_after`, when the receiver gave one).
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

/// The wait before attempt `attempts + 1` (`attempts` made so far), or `None` when the
/// schedule has run out. Jitter: ±20%, so receivers coming back are not hit all at once.
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

/// A uniform number in -1..1 (for jitter; no cryptographic needs).
pub(crate) fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 2_000_001) as f64 / 1_000_000.0 - 1.0
}

pub(crate) fn at(after: Duration) -> String {
    (chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_default())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A sending loop's handle (webhook deliveries, KakaoTalk messages): wake it when new work is
/// owed; the loop holds the other end.
#[derive(Clone)]
pub struct Deliverer {
    wake: Arc<Notify>,
}

impl Deliverer {
    /// A handle, and what its loop waits on.
    pub(crate) fn new() -> (Self, Arc<Notify>) {
        let wake = Arc::new(Notify::new());
        (Self { wake: wake.clone() }, wake)
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Start delivering what `db` owes, until the process ends.
pub fn spawn(db: Db, settings: DeliverySettings) -> Deliverer {
    let (deliverer, wake) = Deliverer::new();
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent("baedal-webhooks/1");
    if !settings.allow_private {
        client = client.dns_resolver(Arc::new(ssrf::GuardedResolver));
    }
    let client = client.build().expect("a webhook client");
    tokio::spawn(run(db, settings, client, wake));
    deliverer
}

async fn run(db: Db, settings: DeliverySettings, client: reqwest::Client, wake: Arc<Notify>) {
    let all = Arc::new(Semaphore::new(settings.max_in_flight));
    let mut per_hook: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let settings = Arc::new(settings);
    loop {
        // Forget the limits of hooks with nothing in flight (deleted ones among them).
        per_hook.retain(|_, s| s.available_permits() < settings.per_hook);
        // Whether more may be due right now: then look again at once instead of waiting.
        let mut more = false;
        match due(&db, BATCH).await {
            Ok(batch) => {
                let full = batch.len() as i64 == BATCH;
                let mut chosen = Vec::new();
                let mut saturated = false;
                for (d, url, secrets) in batch {
                    let hook = per_hook
                        .entry(d.hook_id.clone())
                        .or_insert_with(|| Arc::new(Semaphore::new(settings.per_hook)))
                        .clone();
                    // A hook at its limit waits its turn; others go on.
                    let Ok(hook_slot) = hook.try_acquire_owned() else {
                        saturated = true;
                        continue;
                    };
                    let Ok(slot) = all.clone().try_acquire_owned() else {
                        saturated = true;
                        break;
                    };
                    chosen.push((d, url, secrets, (hook_slot, slot)));
                }
                let ids: Vec<&str> = chosen.iter().map(|c| c.0.id.as_str()).collect();
                // One statement leases the lot; what another replica took is left out.
                let leased =
                    match lease_rows(&db, "hook_deliveries", &ids, settings.timeout * 3).await {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::warn!(error = %e, "leasing hook deliveries");
                            Default::default()
                        }
                    };
                // A full batch, all taken: the backlog goes on. Otherwise a finishing attempt
                // (or a new notification, or the poll) starts the next round.
                more = full && !saturated && !leased.is_empty();
                for (d, url, secrets, slots) in chosen {
                    if !leased.contains(&d.id) {
                        continue;
                    }
                    let (db, client, settings, wake) =
                        (db.clone(), client.clone(), settings.clone(), wake.clone());
                    tokio::spawn(async move {
                        let outcome = attempt(&client, &d, &url, &secrets, &settings).await;
                        if let Err(e) = record(&db, &d, &outcome, &settings).await {
                            tracing::warn!(delivery = %d.id, error = %e, "recording a hook delivery");
                        }
                        drop(slots);
                        wake.notify_one();
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading due hook deliveries"),
        }
        if !more {
            let _ = tokio::time::timeout(settings.poll, wake.notified()).await;
        }
    }
}

/// The secrets a delivery is signed with: the hook's, and the one it replaced while that
/// still overlaps (Standard Webhooks: space-separated signatures, any one verifies).
#[derive(Debug, Clone)]
pub struct Secrets {
    pub current: String,
    pub previous: Option<String>,
}

/// Deliveries due now, with their hook's URL and secrets.
async fn due(db: &Db, limit: i64) -> Result<Vec<(Delivery, String, Secrets)>, sqlx::Error> {
    let now = now();
    let rows = sqlx::query(
        "SELECT d.*, h.url AS hook_url, h.secret AS hook_secret,
                h.previous_secret AS hook_previous_secret,
                h.previous_secret_until AS hook_previous_until
         FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1
           AND h.deleted = 0 AND h.disabled_at IS NULL
         ORDER BY d.next_attempt_at LIMIT $2",
    )
    .bind(&now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let until: Option<String> = r.get("hook_previous_until");
            let previous = r
                .get::<Option<String>, _>("hook_previous_secret")
                .filter(|_| until.is_some_and(|u| u > now));
            let secrets = Secrets {
                current: r.get("hook_secret"),
                previous,
            };
            (delivery(r), r.get("hook_url"), secrets)
        })
        .collect())
}

/// Take the pending rows `ids` of `table` (hook deliveries, KakaoTalk messages) that are
/// still due for one attempt each: push their due time past the attempt's end, in one
/// statement, and answer the ids taken (a row another replica took is not due any more). If
/// this process dies mid-attempt, the row is due again when the lease runs out.
pub(crate) async fn lease_rows(
    db: &Db,
    table: &'static str,
    ids: &[&str],
    lease: Duration,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
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

/// One signed POST of `d` to `url`.
pub async fn attempt(
    client: &reqwest::Client,
    d: &Delivery,
    url: &str,
    secrets: &Secrets,
    settings: &DeliverySettings,
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        status: None,
        error,
        retry_after: None,
    };
    let url = match ssrf::check_url(url, settings.allow_private) {
        Ok(u) => u,
        Err(e) => return failed(e.to_string()),
    };
    if !settings.allow_private
        && let Some(range) = ssrf::literal_forbidden(&url)
    {
        return failed(format!("{url} is a {range} address"));
    }
    let timestamp = chrono::Utc::now().timestamp();
    let sign = |secret: &str| {
        standardwebhooks::Webhook::new(secret)
            .and_then(|w| w.sign(&d.id, timestamp, d.payload.as_bytes()))
    };
    let signature = match std::iter::once(&secrets.current)
        .chain(secrets.previous.as_ref())
        .map(|s| sign(s))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(s) => s.join(" "),
        Err(e) => return failed(format!("signing: {e}")),
    };
    let sent = client
        .post(url)
        .header(standardwebhooks::HEADER_WEBHOOK_ID, &d.id)
        .header(
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        )
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(d.payload.clone())
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return failed(describe(&e)),
    };
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // Read (and drop) at most MAX_RESPONSE_BYTES of the answer.
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => read += c.len(),
            _ => break,
        }
    }
    if status.is_success() {
        Outcome::Delivered(status.as_u16())
    } else if status == reqwest::StatusCode::GONE {
        Outcome::Gone
    } else {
        Outcome::Failed {
            status: Some(status.as_u16()),
            error: format!("the receiver answered {status}"),
            retry_after,
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("could not connect: {e}")
    } else {
        e.to_string()
    }
}

/// Write down what an attempt came to, and what follows from it for the delivery and its hook.
pub async fn record(
    db: &Db,
    d: &Delivery,
    outcome: &Outcome,
    settings: &DeliverySettings,
) -> Result<(), sqlx::Error> {
    let attempts = d.attempts + 1;
    let now = now();
    let mut tx = db.pool.begin().await?;
    match outcome {
        Outcome::Delivered(code) => {
            sqlx::query(
                "UPDATE hook_deliveries SET status = 'succeeded', attempts = $1, last_status = $2,
                    last_error = NULL, delivered_at = $3 WHERE id = $4",
            )
            .bind(attempts as i64)
            .bind(*code as i64)
            .bind(&now)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE hooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(&d.hook_id)
            .execute(&mut *tx)
            .await?;
        }
        Outcome::Gone => {
            sqlx::query(
                "UPDATE hook_deliveries SET status = 'failed', attempts = $1, last_status = 410,
                    last_error = 'the receiver answered 410 Gone: hook disabled' WHERE id = $2",
            )
            .bind(attempts as i64)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
            disable(&mut tx, &d.hook_id, "the receiver answered 410 Gone", &now).await?;
        }
        Outcome::Failed {
            status,
            error,
            retry_after,
        } => {
            let wait = next_wait(&settings.schedule, attempts, *retry_after, jitter());
            let (state, next) = match wait {
                Some(w) => ("pending", at(w)),
                None => ("failed", now.clone()),
            };
            sqlx::query(
                "UPDATE hook_deliveries SET status = $1, attempts = $2, last_status = $3,
                    last_error = $4, next_attempt_at = $5 WHERE id = $6",
            )
            .bind(state)
            .bind(attempts as i64)
            .bind(status.map(|s| s as i64))
            .bind(error)
            .bind(&next)
            .bind(&d.id)
            .execute(&mut *tx)
            .await?;
            let since: Option<String> = sqlx::query(
                "UPDATE hooks SET failing_since = COALESCE(failing_since, $1) WHERE id = $2
                 RETURNING failing_since",
            )
            .bind(&now)
            .bind(&d.hook_id)
            .fetch_optional(&mut *tx)
            .await?
            .and_then(|r| r.get("failing_since"));
            let failing_for = since
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .map(|s| chrono::Utc::now() - s.with_timezone(&chrono::Utc))
                .and_then(|d| d.to_std().ok())
                .unwrap_or_default();
            if failing_for >= settings.disable_after {
                let why = format!(
                    "every delivery failed for {} (last: {error})",
                    humanize(failing_for)
                );
                disable(&mut tx, &d.hook_id, &why, &now).await?;
            }
        }
    }
    tx.commit().await
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h", s / 3600)
    } else if s >= 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Stop delivering to a hook, and tell its owner in their inbox.
async fn disable(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    hook_id: &str,
    why: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    let owner: Option<(String, String)> = sqlx::query(
        "UPDATE hooks SET disabled_at = $1, disabled_reason = $2
         WHERE id = $3 AND disabled_at IS NULL RETURNING owner, url",
    )
    .bind(now)
    .bind(why)
    .bind(hook_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.get("owner"), r.get("url")));
    if let Some((owner, url)) = owner {
        tracing::warn!(hook = hook_id, %url, why, "hook disabled");
        sqlx::query(
            "INSERT INTO inbox (recipient, order_id, seq, status, message, created_at)
             VALUES ($1, $2, 0, 'hook_disabled', $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&owner)
        .bind(format!("hook:{hook_id}"))
        .bind(format!(
            "Your webhook {url} was disabled: {why}. Fix the receiver and register it again."
        ))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
