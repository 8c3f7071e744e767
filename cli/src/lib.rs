//! The `baedal` command: one binary whose subcommand picks the role (`dev`, `api`, `worker`,
//! `payment`, `notify`, `migrate`), so one container image serves every Deployment.
//!
//! This crate only wires the other crates together from configuration; it must not hold
//! order rules, handlers or activities of its own.

pub mod baseline;
pub mod bench;
pub mod bench_hooks;
pub mod config;
pub mod devserver;
pub mod loadgen;
pub mod reconcile;
pub mod retention;
pub mod seed;
pub mod system;
