//! The worker: registers `OrderWorkflow` and the order activities on the task queue and runs
//! them until asked to stop.
//!
//! It owns nothing but wiring and a graceful shutdown (the SDK's initiate-shutdown, then waiting
//! for `run` to drain), so a SIGTERM does not leave workflow tasks half done. It must not hold
//! order rules or do I/O of its own.

use baedal_activities::OrderActivities;
use baedal_workflows::{OrderWorkflow, TASK_QUEUE};
use std::future::Future;
use temporalio_client::Client;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

/// Tuning knobs, with defaults that suit one worker process on a small machine.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Workflows kept in memory between tasks (sticky cache); evicted ones are replayed.
    pub max_cached_workflows: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            max_cached_workflows: 2000,
        }
    }
}

/// Run the worker on `client` until `shutdown` resolves, then drain and return.
pub async fn run(
    client: Client,
    activities: OrderActivities,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_workflow::<OrderWorkflow>()?
        .register_activities(activities)
        .max_cached_workflows(settings.max_cached_workflows)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let stop = worker.shutdown_handle();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("worker draining");
        stop();
    });
    tracing::info!(task_queue = TASK_QUEUE, "worker polling");
    let result = worker.run().await;
    stopper.abort();
    result?;
    tracing::info!("worker stopped");
    Ok(())
}
