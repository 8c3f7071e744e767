//! Temporal's options for the order's waits, timers and activities, built from the retry
//! budgets the domain writes down ([`baedal_domain::Retry`]): the numbers live there, the SDK's
//! types here.
//!
//! Every option here carries a detached cancellation token: the SDK would otherwise cancel an
//! order's timers, waits and activities the moment Temporal is asked to cancel its workflow,
//! and the refund owed would never run. The workflow turns that request into a cancel of the
//! order instead (see `order/cancel.rs`), and its I/O finishes as usual.

use baedal_domain::Retry;
use std::time::Duration;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, TimerOptions, WaitConditionOptions,
    WorkflowCancellationToken,
};

/// A token nobody cancels.
pub fn detached() -> WorkflowCancellationToken {
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

/// The charge ([`Retry::CHARGE`]). A local activity: it runs in the worker within the workflow
/// task (one marker in history instead of three activity events and a task round trip).
pub fn charge() -> LocalActivityOptions {
    local(&Retry::CHARGE)
}

/// A refund that is owed ([`Retry::REFUND`]). A regular activity: the server keeps its
/// retries, so an outage of any length adds nothing to the order's history.
pub fn refund() -> ActivityOptions {
    regular(&Retry::REFUND)
}

/// The first try of a notification or projection ([`Retry::FIRST_TRY`]): a local activity
/// (one marker in history). No timer backoff: a failure here hands over to [`until_done`].
pub fn first_try() -> LocalActivityOptions {
    local(&Retry::FIRST_TRY)
}

/// After a failed first try ([`Retry::until_done`]): a regular activity whose retries are the
/// server's: however long the outage, the order's history grows by one
/// scheduled/started/completed triple, and the workflow is not woken meanwhile.
pub fn until_done(cap: Duration) -> ActivityOptions {
    regular(&Retry::until_done(cap))
}

fn policy(r: &Retry) -> RetryPolicy {
    let permanent: &[&str] = if r.stops_on_permanent {
        &[baedal_activities::NON_RETRYABLE]
    } else {
        &[]
    };
    RetryPolicy::builder()
        .initial_interval(r.initial_interval)
        .backoff_coefficient(r.backoff)
        .maximum_interval(r.max_interval)
        // 0: Temporal's "no limit".
        .maximum_attempts(r.max_attempts.unwrap_or(0))
        .non_retryable_error_types(permanent.iter().copied())
        .build()
}

fn local(r: &Retry) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .maybe_schedule_to_close_timeout(r.schedule_to_close)
        .start_to_close_timeout(r.start_to_close)
        .retry_policy(policy(r))
        .cancellation_token(detached())
        .build()
}

/// A regular activity bounded per try only (its budgets have no `schedule_to_close`: the server
/// retries it until it succeeds).
fn regular(r: &Retry) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(r.start_to_close)
        .retry_policy(policy(r))
        .cancellation_token(detached())
        .build()
}
