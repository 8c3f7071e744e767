//! Activity options: how long each kind of I/O may take and how it is retried.

use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{ActivityOptions, LocalActivityOptions};

/// The customer is waiting on the charge: a few quick retries of transient failures within a
/// short total budget, then the order is not established and the api answers 503. A local
/// activity: it runs in the worker within the workflow task (one marker in history instead of
/// three activity events and a task round trip).
pub fn charge() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .schedule_to_close_timeout(Duration::from_secs(5))
        .start_to_close_timeout(Duration::from_secs(3))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(1))
                .non_retryable_error_types([baedal_activities::NON_RETRYABLE])
                .build(),
        )
        .build()
}

/// A refund that is owed is retried until it succeeds (no attempt limit), backing off to one
/// try a minute while the PSP is down.
pub fn refund() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .build()
}

/// Notifications are retried until the notification service takes them; they never hold up
/// the order (the workflow only waits for them before it closes). Local activities: one marker
/// per notification instead of three activity events. Retries beyond the first second wait on
/// a workflow timer rather than inside the workflow task, so an outage of the notification
/// service never holds a task open (and never delays the order's commands).
pub fn notify() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .timer_backoff_threshold(Duration::from_secs(1))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(30))
                .build(),
        )
        .build()
}

/// The read-model write runs in the worker next to the workflow task (a local activity: no
/// extra round trip to the server, two fewer history events than a regular activity).
pub fn project() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .build(),
        )
        .build()
}
