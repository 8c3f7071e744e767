//! The tests that switch a shared part off (the payment service's faults, the notification
//! service, the read model) on their own running baedal (`common::system()`), so no test
//! that expects it up shares it. They take turns ([`SWITCHING`]).

#[path = "../common/mod.rs"]
mod common;

mod money;
#[allow(clippy::module_inception)]
mod outages;
mod payment_outage;

/// One test at a time: each switches a shared part off and on again.
static SWITCHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
