//! Following the change log: one task per process reads each new row once and hands it to
//! every live stream of that process, whichever process wrote it.
//!
//! The database is the truth and the only channel between processes. On PostgreSQL a
//! `LISTEN` on [`crate::CHANGES_CHANNEL`], on a connection of its own (to
//! `FollowSettings::listen_url`: the instance itself, since a transaction-pooling PgBouncer
//! cannot hold a `LISTEN`), wakes the follower soon after projections commit; a slower poll
//! covers a lost notification. A lost listener connection is counted
//! (`baedal_change_log_listener_lost_total`), logged, wakes the follower and is re-established
//! with backoff. On SQLite, which has no notifications, a short poll.
//!
//! The follower reads rows only up to the log's readable end (see `changes.rs`): when rows
//! beyond it are held back by a transaction still running, it looks again soon rather than
//! after the full poll.
//!
//! What it reads depends on who follows: nothing while no stream follows (it does not even
//! look; it starts from the log's end when one arrives), only the subscribed stores' and
//! orders' rows while only store and order streams follow (up to [`SCOPE_CAP`] of them), the
//! whole log while a rider stream follows. A stream that falls behind the in-process channel
//! (a slow client) is told it lagged and catches up from the log itself, at most
//! [`CATCH_UPS`] streams of the process at a time, so memory stays bounded by the channel's
//! capacity and the database by the number of catch-ups.

use crate::changes::{Change, Changes, LogCursor};
use crate::db::ReadModel;
use baedal_db::Dialect;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, Semaphore, SemaphorePermit, broadcast, watch};

/// How many changes the in-process channel holds for streams that are behind.
pub const FEED_CAPACITY: usize = 4096;
const BATCH: u32 = 500;
/// While at most this many stores and orders are followed (and no rider stream), the follower
/// reads only theirs; past it, an `IN` list costs more than it saves and it reads the whole
/// log.
pub const SCOPE_CAP: usize = 200;
/// How long the oldest writing transaction may hold the feed back before a warning names it.
const HOLDER_WARN_AFTER: Duration = Duration::from_secs(5);
/// At most one such warning per this.
const HOLDER_WARN_EVERY: Duration = Duration::from_secs(30);
/// At most how many rows committed just before the follower started (behind a running
/// transaction) it remembers in order not to send them as news.
const BEFORE_START_MOST: u32 = 10_000;
/// How many streams of one process may read back from the log at once.
pub const CATCH_UPS: usize = 4;
/// How the listener's connection is named in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "baedal-change-log-listener";
/// How long a new stream waits for an idle follower to find the log's end.
const ACTIVATION: Duration = Duration::from_secs(10);
/// Rows held back by a running transaction: the first look again, doubling up to the last.
const WITHHELD_FIRST: Duration = Duration::from_millis(10);
const WITHHELD_MOST: Duration = Duration::from_millis(500);
/// The listener's reconnects: the first wait, doubling up to the last; a connection that
/// lived this long starts again from the first.
const LISTEN_RETRY_FIRST: Duration = Duration::from_millis(100);
const LISTEN_RETRY_MOST: Duration = Duration::from_secs(5);
const LISTEN_STEADY: Duration = Duration::from_secs(30);

/// How the follower is woken, and where it listens.
#[derive(Debug, Clone)]
pub struct FollowSettings {
    /// SQLite (nothing wakes the follower): the most a change waits to be seen.
    pub sqlite_poll: Duration,
    /// PostgreSQL: the fallback when a notification is lost.
    pub postgres_poll: Duration,
    /// PostgreSQL: where to `LISTEN` (`BAEDAL_DATABASE_LISTEN_URL`); `None`: the read model's
    /// own URL.
    pub listen_url: Option<String>,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            sqlite_poll: Duration::from_millis(200),
            postgres_poll: Duration::from_secs(2),
            listen_url: None,
        }
    }
}

/// What a stream wants from the feed; the follower reads no more than its streams want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interest {
    /// Every change (the rider board).
    All,
    /// One store's orders.
    Store(String),
    /// One order.
    Order(String),
}

#[derive(Debug, Default)]
struct Interests {
    all: usize,
    stores: HashMap<String, usize>,
    orders: HashMap<String, usize>,
}

impl Interests {
    fn is_empty(&self) -> bool {
        self.all == 0 && self.stores.is_empty() && self.orders.is_empty()
    }

    fn change(&mut self, i: &Interest, add: bool) {
        let count = match i {
            Interest::All => &mut self.all,
            Interest::Store(id) => self.stores.entry(id.clone()).or_default(),
            Interest::Order(id) => self.orders.entry(id.clone()).or_default(),
        };
        if add {
            *count += 1;
        } else {
            *count = count.saturating_sub(1);
        }
        self.stores.retain(|_, n| *n > 0);
        self.orders.retain(|_, n| *n > 0);
    }

    /// What the follower reads for them: `None` for the whole log.
    fn scope(&self) -> Option<(Vec<String>, Vec<String>)> {
        (self.all == 0 && self.stores.len() + self.orders.len() <= SCOPE_CAP).then(|| {
            (
                self.stores.keys().cloned().collect(),
                self.orders.keys().cloned().collect(),
            )
        })
    }
}

#[derive(Debug)]
struct Shared {
    tx: broadcast::Sender<Arc<Change>>,
    interests: Mutex<Interests>,
    /// A stream subscribed (wakes an idle follower).
    subscribed: Notify,
    /// Whether the follower is reading: a stream may count on every change from now on.
    active: watch::Sender<bool>,
    catch_ups: Semaphore,
    /// How many times the follower read the log (the idle follower does not).
    reads: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn interests(&self) -> std::sync::MutexGuard<'_, Interests> {
        self.interests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The process's view of the change log as it grows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Feed {
    shared: Arc<Shared>,
}

/// One stream's place in the feed: changes from its subscription on. Dropping it tells the
/// follower the stream no longer wants them.
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Change>>,
    interest: Interest,
    shared: Arc<Shared>,
}

impl Subscription {
    /// The next change; `Lagged` when this stream fell [`FEED_CAPACITY`] behind (read back
    /// from the log), `Closed` when the follower stopped.
    pub async fn recv(&mut self) -> Result<Arc<Change>, RecvError> {
        self.rx.recv().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.shared.interests().change(&self.interest, false);
    }
}

impl Feed {
    /// Every change `interest` covers from now on: once this answers, any change committed
    /// afterwards reaches the subscription. Waits for an idle follower to find the log's end;
    /// fails (transient) when it cannot read the log.
    pub async fn subscribe(&self, interest: Interest) -> crate::Result<Subscription> {
        let rx = self.shared.tx.subscribe();
        self.shared.interests().change(&interest, true);
        let sub = Subscription {
            rx,
            interest,
            shared: self.shared.clone(),
        };
        self.shared.subscribed.notify_one();
        let mut active = self.shared.active.subscribe();
        match tokio::time::timeout(ACTIVATION, active.wait_for(|a| *a)).await {
            Ok(Ok(_)) => Ok(sub),
            _ => Err(crate::Error::unavailable(
                "the change-log follower could not read the log",
            )),
        }
    }

    /// How many streams are following.
    pub fn followers(&self) -> usize {
        self.shared.tx.receiver_count()
    }

    /// How many times this process's follower has read the log.
    pub fn log_reads(&self) -> u64 {
        self.shared.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A turn to read back from the log (a catch-up step): at most [`CATCH_UPS`] at once per
    /// process. Hold it for one batch, then yield.
    pub async fn catch_up_turn(&self) -> SemaphorePermit<'_> {
        self.shared
            .catch_ups
            .acquire()
            .await
            .expect("the catch-up semaphore is never closed")
    }
}

impl ReadModel {
    /// Start following the change log. The follower reads nothing until a stream subscribes;
    /// the task runs as long as the process.
    pub async fn follow(&self, settings: FollowSettings) -> crate::Result<Feed> {
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        let shared = Arc::new(Shared {
            tx,
            interests: Mutex::default(),
            subscribed: Notify::new(),
            active: watch::Sender::new(false),
            catch_ups: Semaphore::new(CATCH_UPS),
            reads: Default::default(),
        });
        let wake = Arc::new(Notify::new());
        let poll = match self.dialect() {
            Dialect::Sqlite => settings.sqlite_poll,
            Dialect::Postgres => {
                let url = settings.listen_url.unwrap_or_else(|| self.db.url.clone());
                tokio::spawn(listen(url, wake.clone()));
                settings.postgres_poll
            }
        };
        tokio::spawn(follower(self.clone(), shared.clone(), wake, poll));
        Ok(Feed { shared })
    }
}

/// The follower: reads each new row once, in log order, and sends it to the process's streams.
async fn follower(rm: ReadModel, shared: Arc<Shared>, wake: Arc<Notify>, poll: Duration) {
    let mut cursor: Option<LogCursor> = None;
    // Rows that committed before the follower started but lie past its start (behind a
    // transaction that was running then): not news to anyone subscribed since.
    let mut before_start: std::collections::HashSet<(i64, i64)> = Default::default();
    let mut withheld_wait = WITHHELD_FIRST;
    let mut warned_at: Option<std::time::Instant> = None;
    loop {
        if shared.interests().is_empty() {
            // Marked idle before looking again, so that a stream subscribing in between
            // either is seen here or waits for the follower to find the log's end.
            shared.active.send_replace(false);
            if shared.interests().is_empty() {
                cursor = None;
                before_start.clear();
                shared.subscribed.notified().await;
                continue;
            }
        }
        // The readable end first, then who follows: a stream that subscribes after this point
        // is owed only changes past this end.
        let (end, withheld) = match rm.readable_end().await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "following the change log; trying again");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        let Some(after) = cursor else {
            // Nobody was following: start from the end, knowing what past it has already
            // happened (before the streams waiting for this subscribed).
            before_start = match rm.committed_past(end, BEFORE_START_MOST).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "following the change log; trying again");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            cursor = Some(end);
            shared.active.send_replace(true);
            let _ = tokio::time::timeout(poll, wake.notified()).await;
            continue;
        };
        shared
            .active
            .send_if_modified(|a| !std::mem::replace(a, true));
        let scope = shared.interests().scope();
        let which = match &scope {
            None => Changes::All,
            Some((stores, orders)) => Changes::Of { stores, orders },
        };
        shared
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let batch = match rm.read_log(after, end, which, BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "following the change log; trying again");
                tokio::time::sleep(poll).await;
                continue;
            }
        };
        for c in batch.changes {
            if !before_start.is_empty() && before_start.remove(&(c.xid, c.pos)) {
                continue;
            }
            let _ = shared.tx.send(Arc::new(c));
        }
        // Rows a scoped read passed over are never met: forget them once the log is past them.
        before_start.retain(|&row| row > (batch.next.xid, batch.next.pos));
        cursor = Some(batch.next);
        if batch.full {
            tokio::task::yield_now().await;
            continue;
        }
        watch_holder(&rm, withheld, &mut warned_at).await;
        if withheld {
            // Committed rows wait behind a running transaction: it may end any moment, and
            // its end notifies nobody.
            let _ = tokio::time::timeout(withheld_wait, wake.notified()).await;
            withheld_wait = (withheld_wait * 2).min(WITHHELD_MOST).min(poll);
        } else {
            withheld_wait = WITHHELD_FIRST;
            let _ = tokio::time::timeout(poll, wake.notified()).await;
        }
    }
}

/// While rows wait behind a running transaction: how long the oldest writing transaction on
/// the instance has run (`baedal_change_log_watermark_age_seconds`; 0 when nothing waits), and,
/// past [`HOLDER_WARN_AFTER`], a warning naming it (pid, database, query) at most every
/// [`HOLDER_WARN_EVERY`]: any transaction that writes, in any database of the instance, holds
/// every live stream back until it ends.
async fn watch_holder(rm: &ReadModel, withheld: bool, warned_at: &mut Option<std::time::Instant>) {
    let gauge = metrics::gauge!("baedal_change_log_watermark_age_seconds");
    if !withheld {
        gauge.set(0.0);
        return;
    }
    let Ok(Some(holder)) = rm.oldest_writer().await else {
        return;
    };
    gauge.set(holder.age_secs);
    let due = warned_at.is_none_or(|t| t.elapsed() >= HOLDER_WARN_EVERY);
    if holder.age_secs >= HOLDER_WARN_AFTER.as_secs_f64() && due {
        *warned_at = Some(std::time::Instant::now());
        tracing::warn!(
            pid = holder.pid,
            database = %holder.database,
            running_for_secs = holder.age_secs,
            query = %holder.query,
            "a long writing transaction holds every live stream back (the change log's watermark); \
             end it, or bound it with statement_timeout / idle_in_transaction_session_timeout"
        );
    }
}

/// `url` with the listener's `application_name`, so an operator (or a test) can find it.
fn named(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={LISTENER_APPLICATION_NAME}")
}

/// Wake the follower on every notification that the change log grew, and whenever the
/// listening connection is lost or re-established (notifications in between are lost).
async fn listen(url: String, wake: Arc<Notify>) {
    let url = named(&url);
    let mut retry = LISTEN_RETRY_FIRST;
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry, "connecting the change-log listener (BAEDAL_DATABASE_LISTEN_URL); polling meanwhile");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LISTEN_RETRY_MOST);
                continue;
            }
        };
        // A lost connection is ours to see (and count), not reconnected behind our back.
        listener.eager_reconnect(false);
        if let Err(e) = listener.listen(crate::CHANGES_CHANNEL).await {
            tracing::warn!(error = %e, retry_in = ?retry, "LISTEN {}; polling meanwhile", crate::CHANGES_CHANNEL);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(LISTEN_RETRY_MOST);
            continue;
        }
        let since = tokio::time::Instant::now();
        // What committed while nobody listened.
        wake.notify_one();
        let lost = loop {
            match listener.try_recv().await {
                Ok(Some(_)) => wake.notify_one(),
                Ok(None) => break "the connection closed".to_owned(),
                Err(e) => break e.to_string(),
            }
        };
        drop(listener);
        metrics::counter!("baedal_change_log_listener_lost_total").increment(1);
        if since.elapsed() >= LISTEN_STEADY {
            retry = LISTEN_RETRY_FIRST;
        }
        tracing::warn!(error = %lost, retry_in = ?retry, "change-log listener lost; following by poll until it is back");
        wake.notify_one();
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LISTEN_RETRY_MOST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::view;
    use baedal_domain::OrderStatus as S;
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
    use sqlx::Row;
    use std::sync::OnceLock;

    /// Generous: what these tests show is that a change arrives at all, not how fast.
    const ARRIVES: Duration = Duration::from_secs(30);

    /// The counters as `/metrics` shows them (one recorder for the test binary).
    fn counter(name: &str) -> u64 {
        static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();
        let handle = METRICS.get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("the test binary's metrics recorder")
        });
        handle
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    }

    async fn next(sub: &mut Subscription) -> Arc<Change> {
        tokio::time::timeout(ARRIVES, sub.recv())
            .await
            .expect("a change within the wait")
            .expect("the feed is open")
    }

    fn of_store(id: &str, store: &str) -> baedal_domain::OrderView {
        let mut v = view(id, 1, S::Placed, 37.5);
        v.store_id = store.into();
        v
    }

    #[tokio::test]
    async fn a_transaction_that_commits_after_a_later_one_is_still_delivered() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        if rm.dialect() != Dialect::Postgres {
            // SQLite has one writer at a time: positions commit in order.
            return;
        }
        let feed = rm.follow(FollowSettings::default()).await.unwrap();
        let mut sub = feed.subscribe(Interest::All).await.unwrap();
        rm.project(&view("late", 1, S::Placed, 37.5)).await.unwrap();
        assert_eq!(next(&mut sub).await.order.id, "late");

        // A writer takes its position (and transaction id) first and is slow to commit...
        let mut slow = rm.pool().begin().await.unwrap();
        let late_pos: i64 = sqlx::query(
            "INSERT INTO order_log (order_id, version, seq, status, store_id)
             VALUES ('late', 1, 1, 'placed', 'st_1') RETURNING pos",
        )
        .fetch_one(&mut *slow)
        .await
        .unwrap()
        .get("pos");
        // ...while a later one commits.
        rm.project(&view("early", 1, S::Placed, 37.5))
            .await
            .unwrap();
        let (_, withheld) = rm.readable_end().await.unwrap();
        assert!(
            withheld,
            "the later commit waits behind the open transaction"
        );
        // Give the follower rounds to look (a follower by position alone would read past
        // `late_pos` now and never come back to it).
        tokio::time::sleep(Duration::from_millis(200)).await;
        // What holds the feed back can be named (the follower's gauge and warning).
        let holder = rm.oldest_writer().await.unwrap();
        assert!(
            holder.is_some_and(|h| h.age_secs >= 0.0),
            "an open writing transaction is seen"
        );
        slow.commit().await.unwrap();

        let first = next(&mut sub).await;
        let second = next(&mut sub).await;
        assert_eq!(
            (first.pos, first.order.id.as_str()),
            (late_pos, "late"),
            "the slow writer's row, though its position is lower"
        );
        assert_eq!(second.order.id, "early");
        assert!(second.pos > late_pos);
    }

    #[tokio::test]
    async fn a_row_whose_order_is_missing_or_whose_view_does_not_decode_is_skipped_and_counted() {
        let before = counter("baedal_change_log_undecodable_total");
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let feed = rm
            .follow(FollowSettings {
                sqlite_poll: Duration::from_millis(20),
                ..FollowSettings::default()
            })
            .await
            .unwrap();
        let mut sub = feed.subscribe(Interest::All).await.unwrap();
        rm.project(&view("broken", 1, S::Placed, 37.5))
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await.order.id, "broken");
        sqlx::query("UPDATE orders SET view = '{\"not\": \"a view\"}' WHERE id = 'broken'")
            .execute(rm.pool())
            .await
            .unwrap();
        for order in ["ghost", "broken"] {
            sqlx::query(
                "INSERT INTO order_log (order_id, version, seq, status, store_id)
                 VALUES ($1, 2, 2, 'accepted', 'st_1')",
            )
            .bind(order)
            .execute(rm.pool())
            .await
            .unwrap();
        }
        rm.project(&view("fine", 1, S::Placed, 37.5)).await.unwrap();
        let got = next(&mut sub).await;
        assert_eq!(got.order.id, "fine", "the feed goes on past them");
        assert!(
            counter("baedal_change_log_undecodable_total") >= before + 2,
            "both counted"
        );
    }

    #[tokio::test]
    async fn a_lost_listener_is_counted_and_re_established_and_changes_still_arrive() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        if rm.dialect() != Dialect::Postgres {
            // SQLite has no LISTEN: the follower polls.
            return;
        }
        let lost_before = counter("baedal_change_log_listener_lost_total");
        // A poll far longer than the wait: only the listener can bring changes in time.
        let feed = rm
            .follow(FollowSettings {
                postgres_poll: Duration::from_secs(3600),
                ..FollowSettings::default()
            })
            .await
            .unwrap();
        let mut sub = feed.subscribe(Interest::All).await.unwrap();
        rm.project(&view("o1", 1, S::Placed, 37.5)).await.unwrap();
        assert_eq!(next(&mut sub).await.order.id, "o1");

        // Cut the listener's connection (as a failover or a pooler restart would).
        let terminated = tokio::time::timeout(ARRIVES, async {
            loop {
                let n: i64 = sqlx::query(
                    "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                      WHERE application_name = $1 AND datname = current_database()",
                )
                .bind(LISTENER_APPLICATION_NAME)
                .fetch_one(rm.pool())
                .await
                .unwrap()
                .get("n");
                if n > 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(terminated.is_ok(), "the listener's backend, by its name");
        let counted = tokio::time::timeout(ARRIVES, async {
            while counter("baedal_change_log_listener_lost_total") <= lost_before {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(counted.is_ok(), "the lost listener is counted");

        rm.project(&view("o2", 1, S::Placed, 37.5)).await.unwrap();
        assert_eq!(next(&mut sub).await.order.id, "o2", "long before the poll");
        rm.project(&view("o3", 1, S::Placed, 37.5)).await.unwrap();
        assert_eq!(
            next(&mut sub).await.order.id,
            "o3",
            "and the next one: it listens again"
        );
    }

    #[tokio::test]
    async fn an_idle_follower_reads_nothing_and_a_scoped_one_reads_only_its_stores_and_orders() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let feed = rm
            .follow(FollowSettings {
                sqlite_poll: Duration::from_millis(10),
                postgres_poll: Duration::from_millis(10),
                listen_url: None,
            })
            .await
            .unwrap();
        // Nobody follows: however often it is woken, it does not look.
        for n in 0..3 {
            rm.project(&of_store(&format!("idle{n}"), "st_a"))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(feed.log_reads(), 0);

        // One store's stream and one order's: only theirs are read, from now on.
        let mut store = feed
            .subscribe(Interest::Store("st_a".into()))
            .await
            .unwrap();
        let mut order = feed
            .subscribe(Interest::Order("watched".into()))
            .await
            .unwrap();
        rm.project(&of_store("elsewhere", "st_b")).await.unwrap();
        rm.project(&of_store("watched", "st_c")).await.unwrap();
        rm.project(&of_store("mine", "st_a")).await.unwrap();
        let ids = [next(&mut store).await, next(&mut store).await].map(|c| c.order.id.clone());
        assert_eq!(
            ids,
            ["watched", "mine"],
            "nothing of st_b, nothing from before"
        );
        assert_eq!(next(&mut order).await.order.id, "watched");

        // A rider stream needs every change.
        let mut all = feed.subscribe(Interest::All).await.unwrap();
        rm.project(&of_store("elsewhere2", "st_b")).await.unwrap();
        assert_eq!(next(&mut all).await.order.id, "elsewhere2");
        assert_eq!(next(&mut store).await.order.id, "elsewhere2");

        // Everyone gone: it stops looking again.
        drop((store, order, all));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let reads = feed.log_reads();
        rm.project(&of_store("unseen", "st_a")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(feed.log_reads(), reads);
    }
}
