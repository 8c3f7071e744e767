//! Delivering hook events: at least once, signed (Standard Webhooks), never blocking anything.
//!
//! The delivery engine ([`crate::engine`]) takes the deliveries that are due from the database
//! (rows, so a restart loses none), sends each on its own task, and records the outcome: 2xx
//! is done; `410 Gone` disables the hook; anything else is tried again on the Standard Webhooks
//! schedule (with jitter, later if the receiver's `Retry-After` says so) until the schedule
//! runs out. A hook that keeps failing for `disable_after` is disabled and its owner told in
//! their inbox.
//!
//! **Fair per hook.** A round reads at most `per_hook` due deliveries of each live hook (one
//! bounded index range per hook, [`due`]), the longest due first across hooks, and each hook
//! has at most `per_hook` attempts in flight; every attempt has connect and total timeouts.
//! So a dead or hanging receiver holds only its own slots: it delays neither the orders (they
//! never wait for a delivery) nor other hooks, however large its backlog.
//!
//! **What a disabled hook was owed is settled.** Disabling a hook (410, `disable_after` of
//! failures) or deleting it marks the hook; the [`Settler`] then turns its pending deliveries
//! into `abandoned` (with the reason) in batches of [`SETTLE_BATCH`], each its own short
//! statement, and marks the hook settled. The due scan reads only live hooks' rows, so a dead
//! hook's backlog costs nothing even before it is settled.

use crate::engine::{self, Channel, Deliverer, Limits, back_off, between, now, sql_now};
use crate::hooks::{Delivery, delivery};
use crate::ssrf;
use baedal_db::{Db, Dialect};
use sqlx::Row;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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

/// Deliveries of a disabled or deleted hook settled per statement: each a short write that
/// never holds many row locks, however much the hook was owed.
pub const SETTLE_BATCH: i64 = 500;

/// How often the settler looks for disabled or deleted hooks left unsettled (a process that
/// died mid-way, another replica's disabling) when nothing woke it.
const SETTLE_POLL: Duration = Duration::from_secs(5);

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

/// Start delivering what `db` owes to webhooks, and settling what disabled hooks were owed,
/// until the process ends.
pub fn spawn(db: Db, settings: DeliverySettings) -> (Deliverer, Settler) {
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
    let settler = Settler::spawn(db.clone());
    let webhooks = Webhooks {
        client,
        settings,
        settler: settler.clone(),
    };
    (engine::spawn(db, webhooks, limits), settler)
}

/// The webhook channel of the delivery engine.
struct Webhooks {
    client: reqwest::Client,
    settings: DeliverySettings,
    settler: Settler,
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
        due(db, self.settings.per_hook.max(1) as i64, limit).await
    }

    async fn send(&self, due: &Due) -> Outcome {
        attempt(&self.client, due, &self.settings).await
    }

    async fn record(
        &self,
        db: &Db,
        due: &Due,
        lease: &str,
        outcome: &Outcome,
    ) -> Result<bool, sqlx::Error> {
        let recorded = record(db, &due.delivery, lease, outcome, &self.settings).await?;
        if recorded.disabled {
            self.settler.wake();
        }
        Ok(recorded.applied)
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

/// The due scan: at most `per_hook` deliveries due now (by the database's clock) of each live
/// hook, the longest due first, `limit` in all, with their hook's URL and secrets.
///
/// Everything it reads is in the partial index `hook_deliveries_due_per_hook (hook_id,
/// next_attempt_at) WHERE status = 'pending'`, which holds only what is owed. First a skip
/// scan (`owed`, a recursive query hopping from one hook id to the next) finds the hooks owed
/// anything, one index probe each, however many rows each is owed; then, for each of those
/// that is live, one short range of its due rows, `per_hook` at most. A round therefore costs
/// a few probes per hook owed something: not per row of a hanging hook's backlog, not per
/// pending row of a disabled hook (its hook is not live), not per hook that is owed nothing.
/// PostgreSQL takes each hook's rows with a `LATERAL` subquery; SQLite, which has no
/// `LATERAL`, with a correlated `IN (… LIMIT)` run once per hook (and is told which index
/// the skip scan is to use: it would pick the older `(status, next_attempt_at)` one and read
/// every pending row at each hop). The plans are checked by a test on both dialects.
pub(crate) fn due_sql(dialect: Dialect) -> String {
    let now = sql_now(dialect);
    let indexed = match dialect {
        Dialect::Postgres => "",
        Dialect::Sqlite => " INDEXED BY hook_deliveries_due_per_hook",
    };
    let owed = format!(
        "WITH RECURSIVE owed(hook_id) AS (
             SELECT (SELECT hook_id FROM hook_deliveries{indexed}
                     WHERE status = 'pending' ORDER BY hook_id LIMIT 1)
             UNION ALL
             SELECT (SELECT y.hook_id FROM hook_deliveries y{indexed}
                     WHERE y.status = 'pending' AND y.hook_id > o.hook_id
                     ORDER BY y.hook_id LIMIT 1)
             FROM owed o WHERE o.hook_id IS NOT NULL)"
    );
    let (from, per_hook) = match dialect {
        Dialect::Postgres => (
            "owed o JOIN hooks h ON h.id = o.hook_id CROSS JOIN LATERAL (
                SELECT * FROM hook_deliveries x
                WHERE x.hook_id = h.id AND x.status = 'pending' AND x.next_attempt_at <= NOW
                ORDER BY x.next_attempt_at LIMIT $1) d",
            "",
        ),
        // CROSS JOIN: SQLite keeps this order, so each hook's list is built once and each
        // of its ids found by key (left to choose, it may scan the deliveries instead).
        Dialect::Sqlite => (
            "owed o CROSS JOIN hooks h CROSS JOIN hook_deliveries d",
            "
           AND h.id = o.hook_id
           AND d.id IN (SELECT x.id FROM hook_deliveries x
                WHERE x.hook_id = h.id AND x.status = 'pending' AND x.next_attempt_at <= NOW
                ORDER BY x.next_attempt_at LIMIT $1)",
        ),
    };
    format!(
        "{owed}
         SELECT d.*, h.url AS hook_url, h.secret AS hook_secret,
                h.previous_secret AS hook_previous_secret,
                h.previous_secret_until AS hook_previous_until, NOW AS db_now
         FROM {from}
         WHERE h.deleted = 0 AND h.disabled_at IS NULL{per_hook}
         ORDER BY d.next_attempt_at, d.id LIMIT $2"
    )
    .replace("NOW", now)
}

/// Deliveries due now, at most `per_hook` of each live hook and `limit` in all (see
/// [`due_sql`]), with their hook's URL and secrets.
pub(crate) async fn due(db: &Db, per_hook: i64, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(&due_sql(db.dialect))
        .bind(per_hook)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let until: Option<String> = r.get("hook_previous_until");
            let db_now: String = r.get("db_now");
            let previous = r
                .get::<Option<String>, _>("hook_previous_secret")
                .filter(|_| until.is_some_and(|u| u > db_now));
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

/// What recording an outcome did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The outcome was written: the row was still under the attempt's lease.
    pub applied: bool,
    /// It disabled the hook (410, or `disable_after` of failures): what the hook was owed is
    /// to be settled.
    pub disabled: bool,
}

/// Write down what the attempt under the lease `lease` came to, and what follows from it for
/// the delivery and its hook, only if the row is still under that lease (fenced: a late
/// outcome of an attempt whose lease ran out changes neither the delivery nor its hook).
pub async fn record(
    db: &Db,
    d: &Delivery,
    lease: &str,
    outcome: &Outcome,
    settings: &DeliverySettings,
) -> Result<Recorded, sqlx::Error> {
    let attempts = d.attempts + 1;
    let now_sql = sql_now(db.dialect);
    let mut tx = db.pool.begin().await?;
    let mut disabled = false;
    let applied = match outcome {
        Outcome::Delivered(code) => {
            let applied = sqlx::query(
                "UPDATE hook_deliveries SET status = 'succeeded', attempts = attempts + 1,
                    last_status = $1, last_error = NULL, delivered_at = $2, lease_token = NULL
                 WHERE id = $3 AND lease_token = $4",
            )
            .bind(*code as i64)
            .bind(now())
            .bind(&d.id)
            .bind(lease)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if applied {
                sqlx::query(
                    "UPDATE hooks SET failing_since = NULL
                     WHERE id = $1 AND failing_since IS NOT NULL",
                )
                .bind(&d.hook_id)
                .execute(&mut *tx)
                .await?;
            }
            applied
        }
        Outcome::Gone => {
            let applied = sqlx::query(
                "UPDATE hook_deliveries SET status = 'failed', attempts = attempts + 1,
                    last_status = 410, lease_token = NULL,
                    last_error = 'the receiver answered 410 Gone: hook disabled'
                 WHERE id = $1 AND lease_token = $2",
            )
            .bind(&d.id)
            .bind(lease)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if applied {
                disabled = disable(&mut tx, &d.hook_id, "the receiver answered 410 Gone").await?;
            }
            applied
        }
        Outcome::Failed {
            status,
            error,
            retry_after,
        } => {
            let (state, wait) = back_off(&settings.schedule, attempts, *retry_after);
            let applied = sqlx::query(&format!(
                "UPDATE hook_deliveries SET status = $1, attempts = attempts + 1,
                    last_status = $2, last_error = $3, next_attempt_at = {next},
                    lease_token = NULL
                 WHERE id = $5 AND lease_token = $6",
                next = engine::sql_after(db.dialect, "$4"),
            ))
            .bind(state)
            .bind(status.map(|s| s as i64))
            .bind(error)
            .bind(engine::millis(wait))
            .bind(&d.id)
            .bind(lease)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if applied {
                // How long the hook has been failing, by the database's clock. The hook's row
                // is written only by its first failure: a failing hook's every attempt would
                // otherwise rewrite (and lock) that one row.
                sqlx::query(&format!(
                    "UPDATE hooks SET failing_since = {now_sql}
                     WHERE id = $1 AND failing_since IS NULL"
                ))
                .bind(&d.hook_id)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query(&format!(
                    "SELECT failing_since, {now_sql} AS db_now FROM hooks WHERE id = $1"
                ))
                .bind(&d.hook_id)
                .fetch_optional(&mut *tx)
                .await?;
                let failing_for = row
                    .map(|r| {
                        let since: Option<String> = r.get("failing_since");
                        between(&since.unwrap_or_default(), &r.get::<String, _>("db_now"))
                    })
                    .unwrap_or_default();
                if failing_for >= settings.disable_after {
                    let why = format!(
                        "every delivery failed for {} (last: {error})",
                        humanize(failing_for)
                    );
                    disabled = disable(&mut tx, &d.hook_id, &why).await?;
                }
            }
            applied
        }
    };
    tx.commit().await?;
    Ok(Recorded { applied, disabled })
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

/// Stop delivering to a hook, and tell its owner in their inbox. Answers whether this
/// disabled it (it was live): then what it was owed is for the [`Settler`].
async fn disable(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    hook_id: &str,
    why: &str,
) -> Result<bool, sqlx::Error> {
    let now = now();
    let owner: Option<(String, String)> = sqlx::query(
        "UPDATE hooks SET disabled_at = $1, disabled_reason = $2
         WHERE id = $3 AND disabled_at IS NULL RETURNING owner, url",
    )
    .bind(&now)
    .bind(why)
    .bind(hook_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| (r.get("owner"), r.get("url")));
    let Some((owner, url)) = owner else {
        return Ok(false);
    };
    tracing::warn!(hook = hook_id, %url, why, "hook disabled");
    // The notice is a notification of its own (keyed by the hook: a hook is disabled once),
    // and an entry in the owner's inbox that shows it.
    let key = format!("hook:{hook_id}");
    let created = sqlx::query(
        "INSERT INTO notifications (order_id, seq, status, message, created_at)
         VALUES ($1, 0, 'hook_disabled', $2, $3) ON CONFLICT (order_id, seq) DO NOTHING",
    )
    .bind(&key)
    .bind(format!(
        "Your webhook {url} was disabled: {why}. Fix the receiver and register it again."
    ))
    .bind(&now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if created {
        crate::add_to_inboxes(tx, &[owner.as_str()], &key, 0).await?;
    }
    Ok(true)
}

/// The task that settles what disabled and deleted hooks were owed; wake it when a hook stops.
#[derive(Clone)]
pub struct Settler {
    wake: Arc<Notify>,
}

impl Settler {
    fn spawn(db: Db) -> Self {
        let wake = Arc::new(Notify::new());
        let settler = Self { wake: wake.clone() };
        tokio::spawn(async move {
            loop {
                if let Err(e) = settle_stopped(&db).await {
                    tracing::warn!(error = %e, "settling the deliveries of disabled hooks");
                }
                let _ = tokio::time::timeout(SETTLE_POLL, wake.notified()).await;
            }
        });
        settler
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Settle every disabled or deleted hook not settled yet (see [`settle`]); answers how many
/// deliveries it abandoned. Reads only the hooks not yet settled: a few, for a moment.
pub async fn settle_stopped(db: &Db) -> Result<u64, sqlx::Error> {
    let stopped = sqlx::query(
        "SELECT id, deleted, disabled_reason FROM hooks
         WHERE settled_at IS NULL AND (deleted = 1 OR disabled_at IS NOT NULL)
         ORDER BY id LIMIT 100",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut abandoned = 0;
    for h in stopped {
        let why = if h.get::<i64, _>("deleted") == 1 {
            "hook deleted".to_owned()
        } else {
            let reason: Option<String> = h.get("disabled_reason");
            format!("hook disabled: {}", reason.unwrap_or_default())
        };
        abandoned += settle(db, &h.get::<String, _>("id"), &why).await?;
    }
    Ok(abandoned)
}

/// Turn every pending delivery of the stopped hook `hook_id` into `abandoned` (with `why`),
/// [`SETTLE_BATCH`] rows per statement, then mark the hook settled. An attempt under way is
/// abandoned too (its lease token is cleared, so its late outcome changes nothing): the hook
/// wants no more. Safe to run twice, and beside another replica doing the same.
pub async fn settle(db: &Db, hook_id: &str, why: &str) -> Result<u64, sqlx::Error> {
    let mut abandoned = 0;
    loop {
        let n = sqlx::query(
            "UPDATE hook_deliveries SET status = 'abandoned', last_error = $1, lease_token = NULL
             WHERE id IN (SELECT id FROM hook_deliveries
                          WHERE hook_id = $2 AND status = 'pending' LIMIT $3)
               AND status = 'pending'",
        )
        .bind(why)
        .bind(hook_id)
        .bind(SETTLE_BATCH)
        .execute(&db.pool)
        .await?
        .rows_affected();
        abandoned += n;
        // Until a statement finds nothing: a replica settling beside this one may have taken
        // part of a batch, so a short batch does not mean the end.
        if n == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    sqlx::query("UPDATE hooks SET settled_at = $1 WHERE id = $2 AND settled_at IS NULL")
        .bind(now())
        .bind(hook_id)
        .execute(&db.pool)
        .await?;
    if abandoned > 0 {
        tracing::info!(
            hook = hook_id,
            abandoned,
            why,
            "settled a stopped hook's deliveries"
        );
    }
    Ok(abandoned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{lease_rows, new_token};
    use crate::hooks::Hooks;
    use crate::{NotificationRequest, migrations};

    const TABLE: &str = "hook_deliveries";

    /// A notification store with no delivery loop: the test plays the loop's part.
    async fn store() -> Db {
        baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &migrations(),
        )
        .await
        .unwrap()
    }

    /// An ops hook (it hears of every order), its id.
    async fn hook(db: &Db) -> String {
        let events = ["*".to_owned()];
        let (h, _) = Hooks::new(db.clone())
            .create("ops", "http://127.0.0.1:9/hook", &events)
            .await
            .unwrap();
        h.id
    }

    /// Owe every live hook the events `seqs` of `order`, as accepting them would.
    async fn owe(db: &Db, order: &str, seqs: std::ops::Range<u32>) {
        let mut tx = db.pool.begin().await.unwrap();
        for seq in seqs {
            let n = NotificationRequest {
                order_id: order.into(),
                seq,
                recipients: vec!["ops".into()],
                status: "accepted".into(),
                message: "accepted".into(),
                store_id: Some("st_1".into()),
                order: None,
            };
            Hooks::enqueue(&mut tx, db.dialect, &n, &now())
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    /// Lease the delivery `id` under `token` for `lease`, as the loop does; whether it was
    /// taken.
    async fn take(db: &Db, id: &str, token: &str, lease: Duration) -> bool {
        lease_rows(db, TABLE, &[id], token, lease)
            .await
            .unwrap()
            .contains(id)
    }

    async fn row(db: &Db, id: &str) -> Delivery {
        let r = sqlx::query("SELECT * FROM hook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        delivery(&r)
    }

    async fn count(db: &Db, hook: &str, status: &str) -> i64 {
        sqlx::query("SELECT count(*) AS n FROM hook_deliveries WHERE hook_id = $1 AND status = $2")
            .bind(hook)
            .bind(status)
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get("n")
    }

    fn timed_out() -> Outcome {
        Outcome::Failed {
            status: None,
            error: "timed out".into(),
            retry_after: None,
        }
    }

    #[tokio::test]
    async fn a_late_timed_out_record_never_undoes_a_delivery() {
        let db = store().await;
        let settings = DeliverySettings::default();
        let h = hook(&db).await;
        owe(&db, "ord_1", 1..2).await;
        let due_now = due(&db, 4, 10).await.unwrap();
        assert_eq!(due_now.len(), 1);
        let d = &due_now[0].delivery;

        // Attempt A takes the delivery; it hangs, and its lease runs out (here: at once).
        let a = new_token();
        let taken = lease_rows(&db, TABLE, &[&d.id], &a, Duration::ZERO).await;
        assert!(taken.unwrap().contains(&d.id));
        // Attempt B takes it again (a fresh token) and delivers.
        assert_eq!(due(&db, 4, 10).await.unwrap().len(), 1, "A's lease ran out");
        let b = new_token();
        let taken = lease_rows(&db, TABLE, &[&d.id], &b, Duration::from_secs(60)).await;
        assert!(taken.unwrap().contains(&d.id));
        assert!(
            due(&db, 4, 10).await.unwrap().is_empty(),
            "leased: nobody else takes it"
        );
        // A's late outcome, before B's, is not B's to lose: it changes nothing.
        let late = record(&db, d, &a, &timed_out(), &settings).await.unwrap();
        assert!(!late.applied);
        let r = record(&db, d, &b, &Outcome::Delivered(204), &settings)
            .await
            .unwrap();
        assert!(r.applied);

        // A's late "timed out", and even a late 410, after B's delivery: nothing changes.
        let late = record(&db, d, &a, &timed_out(), &settings).await.unwrap();
        assert_eq!(
            late,
            Recorded {
                applied: false,
                disabled: false
            }
        );
        let late = record(&db, d, &a, &Outcome::Gone, &settings).await.unwrap();
        assert!(!late.applied && !late.disabled);
        let after = row(&db, &d.id).await;
        assert_eq!(after.status, "succeeded");
        assert_eq!(after.attempts, 1, "only B's attempt counts");
        assert_eq!(after.last_status_code, Some(204));
        assert_eq!(after.last_error, None);
        let hooks = Hooks::new(db.clone());
        let live = hooks.get("ops", &h).await.unwrap().unwrap();
        assert_eq!(live.disabled_at, None, "a late 410 disables nothing");
        assert!(due(&db, 4, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_retry_of_a_delivery_being_attempted_is_folded_into_that_attempt() {
        let db = store().await;
        let settings = DeliverySettings::default();
        let h = hook(&db).await;
        owe(&db, "ord_1", 1..3).await;
        let due_now = due(&db, 4, 10).await.unwrap();
        let (busy, dead) = (&due_now[0].delivery, &due_now[1].delivery);
        let hooks = Hooks::new(db.clone());

        // Being attempted now: the retry is accepted, but nothing is due a second time.
        let attempt = new_token();
        assert!(take(&db, &busy.id, &attempt, Duration::from_secs(60)).await);
        assert_eq!(hooks.retry("ops", &h, &busy.id).await.unwrap(), Some(true));
        assert!(
            !due(&db, 4, 10)
                .await
                .unwrap()
                .iter()
                .any(|d| d.delivery.id == busy.id),
            "a retry does not send a delivery under way again"
        );
        let r = record(&db, busy, &attempt, &Outcome::Delivered(200), &settings);
        assert!(
            r.await.unwrap().applied,
            "the attempt under way still counts"
        );

        // An attempt whose lease ran out is presumed dead: the retry makes the delivery due
        // at once and fences the dead attempt's late outcome out.
        let gone = new_token();
        assert!(take(&db, &dead.id, &gone, Duration::ZERO).await);
        assert_eq!(hooks.retry("ops", &h, &dead.id).await.unwrap(), Some(true));
        let late = record(&db, dead, &gone, &timed_out(), &settings).await;
        assert!(!late.unwrap().applied);
        let again = due(&db, 4, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].delivery.id, dead.id);
        assert_eq!(
            again[0].delivery.attempts, 0,
            "the dead attempt recorded nothing"
        );
        // A delivered one is not sent again.
        assert_eq!(hooks.retry("ops", &h, &busy.id).await.unwrap(), Some(true));
        assert_eq!(row(&db, &busy.id).await.status, "succeeded");
    }

    #[tokio::test]
    async fn a_disabled_or_deleted_hook_has_what_it_was_owed_abandoned_and_never_scanned() {
        let db = store().await;
        let settings = DeliverySettings::default();
        let gone = hook(&db).await;
        // More than one settling batch owed.
        let owed = SETTLE_BATCH as u32 * 2 + 7;
        owe(&db, "ord_1", 1..owed + 1).await;
        // Another hook, deleted; both are owed ord_2's three.
        let deleted = hook(&db).await;
        owe(&db, "ord_2", 1..4).await;
        let owed = owed + 3;
        let due_now = due(&db, 4, 128).await.unwrap();
        let first = due_now.iter().find(|d| d.delivery.hook_id == gone).unwrap();

        // The receiver answers 410: the hook is disabled, the rest it was owed settled.
        let token = new_token();
        assert!(take(&db, &first.delivery.id, &token, Duration::from_secs(60)).await);
        let r = record(&db, &first.delivery, &token, &Outcome::Gone, &settings);
        assert_eq!(
            r.await.unwrap(),
            Recorded {
                applied: true,
                disabled: true
            }
        );
        // Not read by the due scan even before it is settled: its hook is not live.
        assert!(
            due(&db, 4, 128)
                .await
                .unwrap()
                .iter()
                .all(|d| d.delivery.hook_id != gone)
        );
        let hooks = Hooks::new(db.clone());
        assert!(hooks.delete("ops", &deleted).await.unwrap());
        assert!(due(&db, 4, 128).await.unwrap().is_empty());

        assert_eq!(settle_stopped(&db).await.unwrap(), owed as u64 - 1 + 3);
        assert_eq!(count(&db, &gone, "pending").await, 0);
        assert_eq!(count(&db, &gone, "abandoned").await, owed as i64 - 1);
        assert_eq!(count(&db, &gone, "failed").await, 1, "the 410 itself");
        assert_eq!(count(&db, &deleted, "abandoned").await, 3);
        let why = |hook: String| {
            let db = db.clone();
            async move {
                sqlx::query(
                    "SELECT DISTINCT last_error FROM hook_deliveries
                     WHERE hook_id = $1 AND status = 'abandoned'",
                )
                .bind(hook)
                .fetch_all(&db.pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("last_error"))
                .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            why(gone).await,
            ["hook disabled: the receiver answered 410 Gone"]
        );
        assert_eq!(why(deleted).await, ["hook deleted"]);
        // Settled once: the settler does not look at them again.
        assert_eq!(settle_stopped(&db).await.unwrap(), 0);
        let unsettled: i64 =
            sqlx::query("SELECT count(*) AS n FROM hooks WHERE settled_at IS NULL")
                .fetch_one(&db.pool)
                .await
                .unwrap()
                .get("n");
        assert_eq!(unsettled, 0);
    }

    #[tokio::test]
    async fn a_hook_failing_for_disable_after_by_the_databases_clock_is_disabled_and_settled() {
        let db = store().await;
        let settings = DeliverySettings {
            disable_after: Duration::ZERO,
            ..Default::default()
        };
        let h = hook(&db).await;
        owe(&db, "ord_1", 1..4).await;
        let first = due(&db, 4, 10).await.unwrap().remove(0).delivery;
        let token = new_token();
        assert!(take(&db, &first.id, &token, Duration::from_secs(60)).await);
        let r = record(&db, &first, &token, &timed_out(), &settings)
            .await
            .unwrap();
        assert_eq!(
            r,
            Recorded {
                applied: true,
                disabled: true
            }
        );
        let hooks = Hooks::new(db.clone());
        let stopped = hooks.get("ops", &h).await.unwrap().unwrap();
        let why = stopped.disabled_reason.unwrap();
        assert!(why.starts_with("every delivery failed for 0s"), "{why}");
        assert!(due(&db, 4, 10).await.unwrap().is_empty());
        assert_eq!(
            settle_stopped(&db).await.unwrap(),
            3,
            "the failed one is owed again too"
        );
        assert_eq!(count(&db, &h, "abandoned").await, 3);
        // Its owner is told.
        let told: i64 = sqlx::query(
            "SELECT count(*) AS n FROM inbox_entries e JOIN notifications n
               ON n.order_id = e.order_id AND n.seq = e.seq
             WHERE e.recipient = 'ops' AND n.status = 'hook_disabled'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get("n");
        assert_eq!(told, 1);
    }

    #[tokio::test]
    async fn a_round_takes_at_most_per_hook_deliveries_of_each_hook() {
        let db = store().await;
        let dead = hook(&db).await;
        owe(&db, "ord_1", 1..61).await;
        let healthy = hook(&db).await;
        // The dead hook's 60 were owed first, so they are the longest due; the healthy
        // hook's 3 still come in the same round, however small the round.
        sqlx::query("UPDATE hook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000Z'")
            .execute(&db.pool)
            .await
            .unwrap();
        owe(&db, "ord_2", 1..4).await;
        sqlx::query("DELETE FROM hook_deliveries WHERE hook_id = $1 AND order_id = 'ord_2'")
            .bind(&dead)
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM hook_deliveries WHERE hook_id = $1 AND order_id = 'ord_1'")
            .bind(&healthy)
            .execute(&db.pool)
            .await
            .unwrap();
        let round = due(&db, 4, 7).await.unwrap();
        let of = |h: &str| round.iter().filter(|d| d.delivery.hook_id == h).count();
        assert_eq!(
            (of(&dead), of(&healthy)),
            (4, 3),
            "the longest due first, 4 per hook"
        );
        let round = due(&db, 4, 5).await.unwrap();
        assert_eq!(round.len(), 5);
        assert!(round.iter().take(4).all(|d| d.delivery.hook_id == dead));
    }

    /// How the database would run `sql` (`Db::explain`: sequential scans off on PostgreSQL).
    async fn plan(db: &Db, sql: &str) -> String {
        db.explain(sql).await.unwrap()
    }

    #[tokio::test]
    async fn the_due_scans_read_only_pending_rows_through_their_index() {
        let db = store().await;
        let sql = due_sql(db.dialect).replace("$1", "4").replace("$2", "128");
        let p = plan(&db, &sql).await;
        assert!(p.contains("hook_deliveries_due_per_hook"), "{p}");
        // Every read of the deliveries goes through the partial index (what is owed only)
        // or finds one row by key: never the older (status, next_attempt_at) index, never
        // a scan of the table.
        let reads = [
            "on hook_deliveries",
            "SCAN hook_deliveries",
            "SEARCH hook_deliveries",
            "SCAN x",
            "SEARCH x",
            "SCAN y",
            "SEARCH y",
            "SCAN d",
            "SEARCH d",
        ];
        for line in p.lines().filter(|l| reads.iter().any(|r| l.contains(r))) {
            let bounded = line.contains("hook_deliveries_due_per_hook")
                || line.contains("hook_deliveries_pkey")
                || line.contains("sqlite_autoindex_hook_deliveries_1 (id=?)");
            assert!(bounded, "{line}\n{p}");
        }
        let sql = crate::kakao::due_sql(db.dialect).replace("$1", "128");
        let p = plan(&db, &sql).await;
        assert!(p.contains("kakao_messages_due"), "{p}");
        assert!(
            !p.contains("Seq Scan") && !p.contains("SCAN kakao_messages"),
            "{p}"
        );
    }

    #[tokio::test]
    async fn the_database_writes_times_as_the_rows_store_them() {
        let db = store().await;
        let sql = format!(
            "SELECT {} AS now, {} AS later",
            sql_now(db.dialect),
            engine::sql_after(db.dialect, "$1")
        );
        let r = sqlx::query(&sql)
            .bind(1500_i64)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let (db_now, later): (String, String) = (r.get("now"), r.get("later"));
        // The same shape as this process writes (RFC 3339, milliseconds, Z): they compare
        // as text, which is how due times and leases are compared.
        assert_eq!(db_now.len(), now().len(), "{db_now} vs {}", now());
        assert!(
            db_now.ends_with('Z') && db_now.as_bytes()[19] == b'.',
            "{db_now}"
        );
        assert_eq!(between(&db_now, &later), Duration::from_millis(1500));
        assert!(later > db_now);
    }
}
