//! The attacker's suite: one module per OWASP API Security Top 10 (2023) risk. Each test replays
//! a probe that an attacker with a valid account ran against a running baedal (issue "Abuse
//! resistance") and fails if the probe succeeds again. Modules that need a system configured
//! differently from the shared one (tight limits, a JWKS) start their own.

#[path = "../common/mod.rs"]
mod common;
#[path = "../sse/mod.rs"]
mod sse;

/// The suite's own system with tight limits (for API4 and API6).
mod limited;

mod api2_broken_authentication;
mod api3_object_property_level;
mod api4_resource_consumption;
mod api5_function_level_authorization;
mod api6_business_flows_limits;
mod api6_business_flows_phones;
mod api6_business_flows_riders;
mod api7_ssrf;
mod api8_security_misconfiguration;
/// A baedal configured as a deployment runs it (identity provider, no dev mode, no fault
/// injection), for the probes of API2, API5, API7 and API8.
mod prod;
