//! The tests that run baedal as processes of their own (`procs::Cluster`: `baedal migrate`,
//! `api`, `worker`, `payment`, `notify` as the Deployments run them, on a throwaway Temporal
//! dev server), killing and restarting them; and what operators see of them (traces exported
//! by OTLP, each role's `/metrics`).

#[path = "../common/kakao_provider.rs"]
mod kakao_provider;
#[path = "../procs/mod.rs"]
mod procs;
#[path = "../sse/mod.rs"]
mod sse;

mod crash;
mod fault_isolation;
mod migrations;
mod notify_restart;
mod observability;
mod readiness;
mod retention;
mod rollout;

/// The tests that run a cluster of processes take turns: two Temporal dev servers and their
/// parts starting side by side on two cores can miss each other's start-up deadlines, and
/// ports chosen free by one cluster are not reserved against the other.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
