//! baedal's tools, not its product: load generation (`loadgen`), the read-side and webhook
//! benchmarks (`bench`, `bench_hooks`), the projections benchmark on PostgreSQL (`projections`) and its
//! delaying TCP proxy (`delay_proxy`), the bare-engine baseline (`baseline`: its own workflow,
//! activity and worker) and synthetic read-model data (`seed`), served by the `baedal-bench`
//! binary. They drive a running baedal from outside, through its public HTTP contract (the
//! demo catalog is read from the api, command paths come from the domain's command table), so
//! they keep no copy of its rules.
//!
//! Nothing in the product depends on this crate, and the production image does not ship it.
//! It must not be imported by any product crate, and must not reach into a role's internals
//! where the HTTP contract would do.

pub mod baseline;
pub mod bench;
pub mod bench_hooks;
pub mod delay_proxy;
pub mod loadgen;
pub mod projections;
pub mod seed;
