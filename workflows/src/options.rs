//! Activity options: how long each kind of I/O may take and how it is retried.
//!
//! Every option here carries a detached cancellation token: the SDK would otherwise cancel an
//! order's timers, waits and activities the moment Temporal is asked to cancel its workflow,
//! and the refund owed would never run. The workflow turns that request into a cancel of the
//! order instead (see `order.rs`), and its I/O finishes as usual.

use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, TimerOptions, WaitConditionOptions,
    WorkflowCancellationToken,
};

/// A token nobody cancels.
fn detached() -> WorkflowCancellationToken {
    WorkflowCancellationToken::new()
}

/// A wait that a cancel request does not end.
pub fn wait() -> WaitConditionOptions {
    WaitConditionOptions::builder()
        .cancellation_token(detached())
        .build()
}

/// A timer that a cancel request does not fire early.
pub fn timer(after: Duration) -> TimerOptions {
    TimerOptions::builder(after)
        .cancellation_token(detached())
        .build()
}

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
        .cancellation_token(detached())
        .build()
}

/// A refund that is owed is retried until it succeeds (no attempt limit), backing off to one
/// try a minute while the PSP is down. A regular activity: the server keeps its retries, so an
/// outage of any length adds nothing to the order's history.
pub fn refund() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .cancellation_token(detached())
        .build()
}

/// The first try of a notification or projection: a local activity (one marker in history),
/// kept short because it holds the workflow task, and with it the answers to the order's
/// commands: two attempts of at most a second each. No timer backoff: a failure here hands
/// over to [`until_done`]. Bounded by attempts, not by a schedule-to-close timeout: the SDK
/// core (0.10) gives each local retry a fresh schedule-to-close, so that alone never ends
/// (measured: a first try with a 3 s schedule-to-close retried for the whole of a 30 s outage).
pub fn first_try() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .schedule_to_close_timeout(Duration::from_secs(3))
        .start_to_close_timeout(Duration::from_secs(1))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(1))
                .maximum_attempts(2)
                .non_retryable_error_types([baedal_activities::NON_RETRYABLE])
                .build(),
        )
        .cancellation_token(detached())
        .build()
}

/// After a failed first try: a regular activity retried until it succeeds, backing off to one
/// try per `cap`. Its retries are the server's: however long the outage, the order's history
/// grows by one scheduled/started/completed triple, and the workflow is not woken meanwhile.
pub fn until_done(cap: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(500).min(cap))
                .backoff_coefficient(2.0)
                .maximum_interval(cap)
                .non_retryable_error_types([baedal_activities::NON_RETRYABLE])
                .build(),
        )
        .cancellation_token(detached())
        .build()
}

/// Notifications of orders started before the outage-proof delivery (no patch marker in their
/// history): local activities whose retries past one second wait on workflow timers. Kept
/// only so those histories replay; new orders use [`first_try`] and [`until_done`].
pub fn notify_legacy() -> LocalActivityOptions {
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
        .cancellation_token(detached())
        .build()
}

/// Projections of orders started before the outage-proof delivery (see [`notify_legacy`]).
pub fn project_legacy() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(5))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(100))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .build(),
        )
        .cancellation_token(detached())
        .build()
}
