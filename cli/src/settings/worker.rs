//! How a worker polls, caches and guards charges.

use clap::Args;
use std::time::Duration;

/// How a worker holds and polls workflows.
#[derive(Debug, Clone, Args)]
pub struct WorkerTuning {
    /// Order workflows a worker keeps in memory between tasks (its sticky cache); evicted
    /// ones are replayed from history on their next task. Trades memory for replay CPU.
    #[arg(long, env = "BAEDAL_WORKER_CACHE", default_value_t = 500)]
    pub worker_cache: usize,
    /// Concurrent workflow-task polls a worker keeps open (most on its sticky queue). Too few
    /// and tasks wait in the server's queue while the engine has CPU to spare.
    #[arg(long, env = "BAEDAL_WORKER_POLLERS", default_value_t = 5)]
    pub worker_pollers: usize,
    /// This worker's build (the image tag, in a deployment): set, the worker joins Temporal's
    /// Worker Deployment `BAEDAL_WORKER_DEPLOYMENT` as this version and every order it starts
    /// stays on it to the end (pinned; deploy/README.md "Rolling out workflow code"). Unset
    /// (dev, one process), the worker is unversioned.
    #[arg(long, env = "BAEDAL_BUILD_ID")]
    pub build_id: Option<String>,
    /// The Worker Deployment that versioned workers join (with `BAEDAL_BUILD_ID`).
    #[arg(
        long,
        env = "BAEDAL_WORKER_DEPLOYMENT",
        default_value = "baedal-worker"
    )]
    pub worker_deployment: String,
}

impl WorkerTuning {
    pub fn settings(&self) -> baedal_worker::WorkerSettings {
        baedal_worker::WorkerSettings {
            max_cached_workflows: self.worker_cache.max(1),
            workflow_pollers: self.worker_pollers,
            version: self
                .build_id
                .as_ref()
                .filter(|b| !b.trim().is_empty())
                .map(|build_id| baedal_worker::WorkerVersion {
                    deployment: self.worker_deployment.clone(),
                    build_id: build_id.clone(),
                }),
        }
    }
}

/// Circuit breaker around charges (in the worker).
#[derive(Debug, Clone, Args)]
pub struct Breaker {
    /// How far back the breaker's sliding window remembers calls.
    #[arg(long, env = "BAEDAL_BREAKER_WINDOW", default_value = "30s", value_parser = humantime::parse_duration)]
    pub breaker_window: Duration,
    /// Calls needed in the window before the breaker judges rates.
    #[arg(long, env = "BAEDAL_BREAKER_MIN_CALLS", default_value_t = 5)]
    pub breaker_min_calls: usize,
    /// Failure rate (0..1] at which the breaker opens.
    #[arg(long, env = "BAEDAL_BREAKER_FAILURE_RATE", default_value_t = 0.5)]
    pub breaker_failure_rate: f64,
    /// A charge slower than this counts as slow.
    #[arg(long, env = "BAEDAL_BREAKER_SLOW_CALL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub breaker_slow_call: Duration,
    /// Slow-call rate (0..1] at which the breaker opens.
    #[arg(long, env = "BAEDAL_BREAKER_SLOW_RATE", default_value_t = 0.8)]
    pub breaker_slow_rate: f64,
    /// How long the breaker stays open before letting probes through.
    #[arg(long, env = "BAEDAL_BREAKER_OPEN_FOR", default_value = "10s", value_parser = humantime::parse_duration)]
    pub breaker_open_for: Duration,
    /// Probe charges let through while half-open.
    #[arg(long, env = "BAEDAL_BREAKER_HALF_OPEN_CALLS", default_value_t = 2)]
    pub breaker_half_open_calls: usize,
}

impl Breaker {
    pub fn settings(&self) -> anyhow::Result<baedal_activities::BreakerSettings> {
        for (name, rate) in [
            ("BAEDAL_BREAKER_FAILURE_RATE", self.breaker_failure_rate),
            ("BAEDAL_BREAKER_SLOW_RATE", self.breaker_slow_rate),
        ] {
            anyhow::ensure!(
                rate > 0.0 && rate <= 1.0,
                "{name} must be within (0, 1], got {rate}"
            );
        }
        anyhow::ensure!(
            self.breaker_window >= Duration::from_secs(1),
            "BAEDAL_BREAKER_WINDOW must be at least 1s"
        );
        Ok(baedal_activities::BreakerSettings {
            window: self.breaker_window,
            min_calls: self.breaker_min_calls.max(1),
            failure_rate: self.breaker_failure_rate,
            slow_call: self.breaker_slow_call,
            slow_rate: self.breaker_slow_rate,
            open_for: self.breaker_open_for,
            half_open_calls: self.breaker_half_open_calls.max(1),
        })
    }
}
