//! The `baedal` command: one binary whose subcommand picks the role (`dev`, `api`, `worker`,
//! `payment`, `notify`, `migrate`, ...), so one container image serves every Deployment.
//!
//! `roles` assembles each role once (what the subcommands, `baedal dev` and the tests all
//! call); `commands` holds one module per subcommand with the settings it reads; `settings`
//! the groups of flags and environment variables; `system` runs several roles in one process;
//! `process` and `telemetry` the plumbing every process shares (serving, `/metrics`, traces).
//! This crate only wires the other crates together from configuration; it must not hold order
//! rules, handlers or activities of its own, nor load generation and benchmarks (those are
//! `baedal-bench`, in `tools/`).

pub mod commands;
pub mod devserver;
pub mod listen;
pub mod process;
pub mod reconcile;
pub mod retention;
pub mod roles;
pub mod settings;
pub mod system;
pub mod telemetry;
