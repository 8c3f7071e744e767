//! Delivering hook events: at least once, signed (Standard Webhooks), never blocking anything.
//!
//! The delivery engine ([`crate::engine`]) takes the deliveries that are due from the database
//! (rows, so a restart loses none), sends each on its own task, and records the outcome: 2xx
//! is done; `410 Gone` disables the hook; anything else is tried again on the Standard Webhooks
//! schedule (with jitter, later if the receiver's `Retry-After` says so) until the schedule
//! runs out. A hook that keeps failing
//! for `disable_after` is disabled and its owner told in their inbox. Each hook has at most
//! `per_hook` attempts in flight and every attempt has connect and total timeouts, so a dead
//! or slow receiver delays neither the orders (they never wait for a delivery) nor other hooks.

use crate::engine::{self, Channel, Deliverer, Limits, back_off, now};
use crate::hooks::{Delivery, delivery};
use crate::ssrf;
use baedal_db::Db;
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;

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

/// Start delivering what `db` owes to webhooks, until the process ends.
pub fn spawn(db: Db, settings: DeliverySettings) -> Deliverer {
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .user_agent("baedal-webhooks/1");
    if !settings.allow_private {
        client = client.dns_resolver(Arc::new(ssrf::GuardedResolver));
    }
    let client = client.build().expect("a webhook client");
    let limits = Limits {
        batch: BATCH,
        max_in_flight: settings.max_in_flight,
        per_group: settings.per_hook,
        lease: settings.timeout * 3,
        poll: settings.poll,
    };
    engine::spawn(db, Webhooks { client, settings }, limits)
}

/// The webhook channel of the delivery engine.
struct Webhooks {
    client: reqwest::Client,
    settings: DeliverySettings,
}

impl Channel for Webhooks {
    type Item = Due;
    type Outcome = Outcome;
    const TABLE: &'static str = "hook_deliveries";
    const WHAT: &'static str = "hook deliveries";

    fn id(due: &Due) -> &str {
        &due.delivery.id
    }

    /// A hook has at most `per_hook` attempts in flight: a slow receiver holds up only itself.
    fn group(due: &Due) -> Option<&str> {
        Some(&due.delivery.hook_id)
    }

    async fn due(&self, db: &Db, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
        due(db, limit).await
    }

    async fn send(&self, due: &Due) -> Outcome {
        attempt(&self.client, due, &self.settings).await
    }

    async fn record(&self, db: &Db, due: &Due, outcome: &Outcome) -> Result<(), sqlx::Error> {
        record(db, &due.delivery, outcome, &self.settings).await
    }
}

/// The secrets a delivery is signed with: the hook's, and the one it replaced while that
/// still overlaps (Standard Webhooks: space-separated signatures, any one verifies).
#[derive(Debug, Clone)]
pub struct Secrets {
    pub current: String,
    pub previous: Option<String>,
}

/// A delivery due, with what sending it takes: its body, its hook's URL and secrets.
pub struct Due {
    pub delivery: Delivery,
    pub payload: String,
    pub url: String,
    pub secrets: Secrets,
}

/// Deliveries due now, with their hook's URL and secrets.
async fn due(db: &Db, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
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
            Due {
                delivery: delivery(r),
                payload: r.get("payload"),
                url: r.get("hook_url"),
                secrets,
            }
        })
        .collect())
}

/// One signed POST of a delivery to its hook's URL.
pub async fn attempt(client: &reqwest::Client, due: &Due, settings: &DeliverySettings) -> Outcome {
    let Due {
        delivery: d,
        payload,
        url,
        secrets,
    } = due;
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
            .and_then(|w| w.sign(&d.id, timestamp, payload.as_bytes()))
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
        .body(payload.clone())
        .send()
        .await;
    let mut resp = match sent {
        Ok(r) => r,
        Err(e) => return failed(describe(&e)),
    };
    let status = resp.status();
    let retry_after = engine::retry_after(resp.headers());
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
            let (state, next) = back_off(&settings.schedule, attempts, *retry_after);
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
