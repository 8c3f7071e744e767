//! How long each store keeps what it records (docs/retention.md).

use clap::Args;
use std::time::Duration;

/// The retentions the worker (read model) and the notification service (its store) prune to,
/// and `baedal readmodel prune` on demand.
#[derive(Debug, Clone, Args)]
pub struct Retention {
    /// How far back the change log goes (live streams resume within it): entries logged
    /// longer ago are deleted.
    #[arg(long, env = "BAEDAL_CHANGE_LOG_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub change_log_retention: Duration,
    /// Notifications, inbox entries and settled webhook deliveries and KakaoTalk messages are
    /// deleted this long after they were accepted or settled (never one still owed); so are
    /// settled refunds' progress and stuck alerts in the read model.
    #[arg(long, env = "BAEDAL_NOTIFICATION_RETENTION", default_value = "30d", value_parser = humantime::parse_duration)]
    pub notification_retention: Duration,
    /// A closed order's delivery address and coordinates, and the phone number its KakaoTalk
    /// messages went to, are erased this long after it closed (the order itself stays).
    /// At least BAEDAL_CHANGE_LOG_RETENTION.
    #[arg(long, env = "BAEDAL_PERSONAL_DATA_RETENTION", default_value = "90d", value_parser = humantime::parse_duration)]
    pub personal_data_retention: Duration,
}

impl Retention {
    /// The retentions with the idempotency window keys are kept past, refused (saying what to
    /// change) when they cannot be enforced as set.
    pub fn retention(
        &self,
        idempotency_window: Duration,
    ) -> anyhow::Result<baedal_domain::retention::Retention> {
        let r = baedal_domain::retention::Retention {
            change_log: self.change_log_retention,
            notifications: self.notification_retention,
            personal_data: self.personal_data_retention,
            idempotency_window,
        };
        r.check()?;
        Ok(r)
    }
}
