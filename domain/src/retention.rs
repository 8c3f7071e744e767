//! How long each kind of record is kept, and how often the stores are pruned to it
//! (docs/retention.md has the table per store). Durations only: the stores compute their
//! horizons from them and the clock, this module holds the rules every pruner shares.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A place-order Idempotency-Key is kept this long past `BAEDAL_IDEMPOTENCY_WINDOW`, then
/// removed. Within the margin a late retry is refused from the key's own row (422, too old)
/// and ops can still see when a disputed key was first used; a day also covers the engine's
/// retention of the key's closed attempt (the shipped namespace keeps closed workflows two
/// days), so a key never disappears before the attempt it stands for. After it, a retry of a
/// key whose order is still in the read model is refused as too old all the same (the key is
/// restored from the order: `ReadModel::remember_idempotency_key`).
pub const IDEMPOTENCY_KEY_MARGIN: Duration = Duration::from_secs(24 * 3600);

/// The pruning cadence is never shorter than this (a tiny retention in a test must not spin)...
pub const PRUNE_EVERY_MIN: Duration = Duration::from_secs(1);
/// ...and never longer than this, whatever the retentions.
pub const PRUNE_EVERY_MAX: Duration = Duration::from_secs(3600);

/// How often a store is pruned when `shortest` is the shortest retention it enforces: a
/// tenth of it, so a row outlives its retention by at most 10%, between one second and an
/// hour. The one place the cadence is computed (the worker and the notification service).
pub fn prune_every(shortest: Duration) -> Duration {
    (shortest / 10).clamp(PRUNE_EVERY_MIN, PRUNE_EVERY_MAX)
}

/// The retentions a deployment runs with (`BAEDAL_*_RETENTION`, `BAEDAL_IDEMPOTENCY_WINDOW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The change log (`order_log`, the legacy `order_changes`): how far back a live stream
    /// can resume.
    pub change_log: Duration,
    /// Settled webhook deliveries, KakaoTalk messages, notifications, inbox entries, and the
    /// read model's operational records (settled refunds' progress, stuck alerts).
    pub notifications: Duration,
    /// A closed order's delivery address and coordinates, and the phone number its KakaoTalk
    /// messages went to.
    pub personal_data: Duration,
    /// How long a place-order key is answered the same way; it is removed
    /// [`IDEMPOTENCY_KEY_MARGIN`] later.
    pub idempotency_window: Duration,
}

impl Default for Retention {
    /// The shipped defaults (docs/retention.md says why each).
    fn default() -> Self {
        Self {
            change_log: Duration::from_secs(24 * 3600),
            notifications: Duration::from_secs(30 * 24 * 3600),
            personal_data: Duration::from_secs(90 * 24 * 3600),
            idempotency_window: Duration::from_secs(24 * 3600),
        }
    }
}

/// Retentions that cannot be enforced as set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error(
        "BAEDAL_PERSONAL_DATA_RETENTION ({personal_data}) is shorter than \
         BAEDAL_CHANGE_LOG_RETENTION ({change_log}): the legacy change log keeps whole order \
         views, addresses included, until its horizon, and closed orders are found for erasure \
         as their log entries expire. Raise BAEDAL_PERSONAL_DATA_RETENTION to at least \
         {change_log} or shorten BAEDAL_CHANGE_LOG_RETENTION"
    )]
    PersonalDataBeforeChangeLog {
        personal_data: String,
        change_log: String,
    },
    #[error("{name} is zero: set it to how long the records are kept, e.g. 24h or 30d")]
    Zero { name: &'static str },
}

impl Retention {
    /// How long a place-order key is kept in all.
    pub fn idempotency_keys(&self) -> Duration {
        self.idempotency_window + IDEMPOTENCY_KEY_MARGIN
    }

    /// The read model's pruning cadence ([`prune_every`] of its shortest retention).
    pub fn read_model_every(&self) -> Duration {
        prune_every(
            self.change_log
                .min(self.notifications)
                .min(self.personal_data)
                .min(self.idempotency_keys()),
        )
    }

    /// The notification store's pruning cadence.
    pub fn notification_every(&self) -> Duration {
        prune_every(self.notifications.min(self.personal_data))
    }

    /// Refuse retentions that cannot be enforced as set, saying what to change.
    pub fn check(&self) -> Result<(), RetentionError> {
        for (name, d) in [
            ("BAEDAL_CHANGE_LOG_RETENTION", self.change_log),
            ("BAEDAL_NOTIFICATION_RETENTION", self.notifications),
            ("BAEDAL_PERSONAL_DATA_RETENTION", self.personal_data),
        ] {
            if d.is_zero() {
                return Err(RetentionError::Zero { name });
            }
        }
        if self.personal_data < self.change_log {
            return Err(RetentionError::PersonalDataBeforeChangeLog {
                personal_data: show(self.personal_data),
                change_log: show(self.change_log),
            });
        }
        Ok(())
    }
}

/// How many rows one prune removed (or erased), per table: what `baedal readmodel prune`
/// prints. The stores count the same figures in `baedal_pruned_rows_total{table}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned(pub BTreeMap<&'static str, u64>);

impl Pruned {
    pub fn get(&self, table: &str) -> u64 {
        self.0.get(table).copied().unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn add(&mut self, table: &'static str, n: u64) {
        *self.0.entry(table).or_default() += n;
    }

    /// Both counts, table by table.
    pub fn merge(&mut self, other: Pruned) {
        for (table, n) in other.0 {
            self.add(table, n);
        }
    }
}

impl fmt::Display for Pruned {
    /// One `table: rows` line per table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, n) in &self.0 {
            writeln!(f, "{table}: {n}")?;
        }
        Ok(())
    }
}

/// `90d`, `24h`, `2s`: the largest whole unit, as the settings are written.
fn show(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn pruning_runs_every_tenth_of_the_shortest_retention_between_a_second_and_an_hour() {
        assert_eq!(
            prune_every(24 * 3600 * S),
            3600 * S,
            "a day: capped at an hour"
        );
        assert_eq!(
            prune_every(5 * 3600 * S),
            1800 * S,
            "five hours: half an hour"
        );
        assert_eq!(prune_every(20 * S), 2 * S);
        assert_eq!(prune_every(2 * S), S, "never below a second");
        assert_eq!(prune_every(Duration::ZERO), S);
        let r = Retention {
            change_log: 2 * S,
            ..Retention::default()
        };
        assert_eq!(r.read_model_every(), S);
        assert_eq!(
            r.notification_every(),
            3600 * S,
            "the notification store is not held to the change log's"
        );
        assert_eq!(Retention::default().read_model_every(), 3600 * S);
    }

    #[test]
    fn keys_are_kept_a_day_past_their_window() {
        let r = Retention::default();
        assert_eq!(r.idempotency_keys(), 48 * 3600 * S);
    }

    #[test]
    fn personal_data_cannot_be_erased_before_the_change_log_forgets_it() {
        assert_eq!(Retention::default().check(), Ok(()));
        let r = Retention {
            personal_data: 3600 * S,
            ..Retention::default()
        };
        let e = r.check().unwrap_err().to_string();
        assert!(e.contains("(1h)") && e.contains("(1d)"), "{e}");
        assert!(e.contains("Raise BAEDAL_PERSONAL_DATA_RETENTION"), "{e}");
        let z = Retention {
            notifications: Duration::ZERO,
            ..Retention::default()
        };
        assert!(matches!(
            z.check(),
            Err(RetentionError::Zero {
                name: "BAEDAL_NOTIFICATION_RETENTION"
            })
        ));
    }
}
