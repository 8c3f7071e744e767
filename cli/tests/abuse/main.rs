//! The attacker's suite: one module per OWASP API Security Top 10 (2023) risk. Each test replays
//! a probe that an attacker with a valid account ran against a running baedal (issue "Abuse
//! resistance") and fails if the probe succeeds again. Modules that need a system configured
//! differently from the shared one (tight limits, a JWKS) start their own.

#[path = "../common/mod.rs"]
mod common;
#[path = "../sse/mod.rs"]
mod sse;

mod api3_object_property_level;
mod api6_business_flows_phones;
