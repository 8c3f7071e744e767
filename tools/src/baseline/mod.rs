//! `baedal-bench loadgen --baseline`: drives the engine baseline (`workflow`, `activity`) with
//! an in-process worker against the same Temporal server and reports its lifecycles/s and
//! latencies beside baedal's.

mod activity;
mod workflow;

pub use workflow::BaselineInput;

use baedal::system::connect_temporal;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowIdConflictPolicy, WorkflowUpdateWithStartOptions,
};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use workflow::{BaselineWorkflow, STEPS, TASK_QUEUE};

#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    pub concurrency: usize,
    /// Each step upserted a search attribute (`--baseline-upserts`).
    pub search_attribute_upserts: bool,
    pub duration_secs: f64,
    pub completed: u64,
    pub errors: u64,
    pub lifecycles_per_sec: f64,
    pub place_p50_ms: f64,
    pub place_p99_ms: f64,
    pub command_p50_ms: f64,
    pub command_p99_ms: f64,
}

impl std::fmt::Display for BaselineReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "engine baseline{}: concurrency {}, {:.1}s",
            if self.search_attribute_upserts {
                " with a search-attribute upsert per step"
            } else {
                ""
            },
            self.concurrency,
            self.duration_secs
        )?;
        writeln!(
            f,
            "  lifecycles         {} ({:.2}/s), {} errors",
            self.completed, self.lifecycles_per_sec, self.errors
        )?;
        writeln!(
            f,
            "  update-with-start  p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.place_p50_ms, self.place_p99_ms
        )?;
        write!(
            f,
            "  updates            p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.command_p50_ms, self.command_p99_ms
        )
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    (h.value_at_quantile(q) as f64 / 100.0).round() / 10.0
}

/// Run the baseline against the Temporal at `address` for `duration` at `concurrency`.
pub async fn run(
    address: &str,
    namespace: &str,
    concurrency: usize,
    duration: Duration,
    input: BaselineInput,
) -> anyhow::Result<BaselineReport> {
    let client = connect_temporal(address, namespace, Duration::from_secs(10), None).await?;
    let worker_client = client.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::task::spawn_blocking(move || {
        tokio::runtime::Handle::current().block_on(run_worker(worker_client, async move {
            let _ = stop_rx.await;
        }))
    });

    let hist = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("static bounds");
    let place = Arc::new(Mutex::new(hist()));
    let update = Arc::new(Mutex::new(hist()));
    let (done, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, place, update, done, errors) = (
            client.clone(),
            place.clone(),
            update.clone(),
            done.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let id = format!("baseline_{}", uuid::Uuid::new_v4());
                let t = Instant::now();
                let opts = WorkflowUpdateWithStartOptions::new(
                    TASK_QUEUE,
                    id.clone(),
                    WorkflowIdConflictPolicy::UseExisting,
                )
                .build();
                let r = client
                    .execute_update_with_start_workflow(
                        BaselineWorkflow::run,
                        input,
                        BaselineWorkflow::place,
                        (),
                        opts,
                    )
                    .await;
                if r.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let _ = place
                    .lock()
                    .expect("histogram")
                    .record(t.elapsed().as_micros().max(1) as u64);
                let handle = client.get_workflow_handle::<BaselineWorkflow>(id);
                let mut ok = true;
                for _ in 0..STEPS {
                    let t = Instant::now();
                    let r = handle
                        .execute_update(
                            BaselineWorkflow::step,
                            (),
                            WorkflowExecuteUpdateOptions::default(),
                        )
                        .await;
                    if r.is_err() {
                        ok = false;
                        break;
                    }
                    let _ = update
                        .lock()
                        .expect("histogram")
                        .record(t.elapsed().as_micros().max(1) as u64);
                }
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    worker.await??;
    let completed = done.load(Ordering::Relaxed);
    let (p, u) = (
        place.lock().expect("histogram"),
        update.lock().expect("histogram"),
    );
    Ok(BaselineReport {
        concurrency,
        search_attribute_upserts: input.upsert_search_attributes,
        duration_secs: (elapsed * 10.0).round() / 10.0,
        completed,
        errors: errors.load(Ordering::Relaxed),
        lifecycles_per_sec: ((completed as f64 / elapsed) * 100.0).round() / 100.0,
        place_p50_ms: ms(&p, 0.5),
        place_p99_ms: ms(&p, 0.99),
        command_p50_ms: ms(&u, 0.5),
        command_p99_ms: ms(&u, 0.99),
    })
}

/// The baseline's worker on `client` until `shutdown`: its workflow and its one activity on
/// their own task queue.
async fn run_worker(
    client: temporalio_client::Client,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let options = WorkerOptions::new(TASK_QUEUE)
        .register_workflow::<BaselineWorkflow>()?
        .register_activities(activity::BaselineActivities)
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let stop = worker.shutdown_handle();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        stop();
    });
    let result = worker.run().await;
    stopper.abort();
    Ok(result?)
}
