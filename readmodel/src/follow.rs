//! Following the change log: one task per process reads each new change once and hands it to
//! every live stream of that process, whichever process wrote it.
//!
//! The database is the truth and the only channel between processes: on PostgreSQL a
//! `LISTEN` on [`crate::CHANGES_CHANNEL`] wakes the follower as soon as a projection commits
//! (every api replica gets it), with a slower poll behind it in case a notification is lost
//! while the listener reconnects; on SQLite, which has no notifications, a short poll. A
//! stream that falls behind the in-process channel (a slow client) is told it lagged and
//! catches up from the log itself, so memory stays bounded by the channel's capacity.

use crate::changes::{Change, Changes};
use crate::db::ReadModel;
use baedal_db::Dialect;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, broadcast};

/// How many changes the in-process channel holds for streams that are behind.
pub const FEED_CAPACITY: usize = 4096;
const BATCH: u32 = 500;

/// How often the follower looks without being woken.
#[derive(Debug, Clone, Copy)]
pub struct FollowSettings {
    /// SQLite (nothing wakes the follower): the most a change waits to be seen.
    pub sqlite_poll: Duration,
    /// PostgreSQL: the fallback when a notification is lost.
    pub postgres_poll: Duration,
}

impl Default for FollowSettings {
    fn default() -> Self {
        Self {
            sqlite_poll: Duration::from_millis(200),
            postgres_poll: Duration::from_secs(2),
        }
    }
}

/// The process's view of the change log as it grows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Feed {
    tx: broadcast::Sender<Arc<Change>>,
}

impl Feed {
    /// Changes from now on; a receiver that falls [`FEED_CAPACITY`] behind gets `Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// How many streams are following.
    pub fn followers(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl ReadModel {
    /// Start following the change log from its current end. The task runs until the
    /// returned feed and all its receivers are dropped... or the process ends.
    pub async fn follow(&self, settings: FollowSettings) -> crate::Result<Feed> {
        let (tx, _) = broadcast::channel(FEED_CAPACITY);
        let feed = Feed { tx: tx.clone() };
        let mut last = self.last_change_pos().await?;
        let wake = Arc::new(Notify::new());
        let poll = match self.dialect() {
            Dialect::Sqlite => settings.sqlite_poll,
            Dialect::Postgres => {
                spawn_listener(self.db.url.clone(), wake.clone());
                settings.postgres_poll
            }
        };
        let rm = self.clone();
        tokio::spawn(async move {
            loop {
                if tx.receiver_count() == 0 {
                    // Nobody to tell: only keep up with where the log ends.
                    if let Ok(end) = rm.last_change_pos().await {
                        last = last.max(end);
                    }
                } else {
                    match rm.changes_after(last, Changes::All, BATCH).await {
                        Ok(batch) => {
                            let full = batch.len() as u32 == BATCH;
                            for c in batch {
                                last = c.pos;
                                let _ = tx.send(Arc::new(c));
                            }
                            if full {
                                continue;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "following the change log"),
                    }
                }
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
        });
        Ok(feed)
    }
}

/// Wake the follower on every notification of a commit to the change log.
fn spawn_listener(url: String, wake: Arc<Notify>) {
    tokio::spawn(async move {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "listening for change-log commits; polling meanwhile");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(crate::CHANGES_CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN {}", crate::CHANGES_CHANNEL);
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "change-log listener lost; reconnecting");
                        break;
                    }
                }
            }
        }
    });
}
