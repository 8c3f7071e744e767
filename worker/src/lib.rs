//! The worker: registers `OrderWorkflow` and the order activities on the task queue and runs
//! them until asked to stop.
//!
//! It owns wiring, a graceful shutdown (the SDK's initiate-shutdown, then waiting for `run` to
//! drain), so a SIGTERM does not leave workflow tasks half done, the periodic tasks that
//! run beside the worker (breaker publisher, stuck sweep, rider-position expiry, the read
//! model's pruning to its retention, the refunds-pending gauge), and the SDK's metrics on the
//! process's recorder ([`sdk_metrics`]). The worker
//! role is assembled in one place, [`serve`], which `baedal worker`, `baedal dev` and the tests
//! all call: a deployed worker runs exactly the tasks the tested one does. It must not hold
//! order rules or do I/O of its own: the tasks call into `activities` and `readmodel`.

use baedal_activities::{
    BreakerSettings, NotificationClient, OrderActivities, PaymentBreaker, PaymentClient,
};
use baedal_domain::retention::Retention;
use baedal_readmodel::ReadModel;
use baedal_workflows::{OrderWorkflow, TASK_QUEUE};
use std::future::Future;
use std::time::Duration;
use temporalio_client::Client;
use temporalio_common::WorkerDeploymentVersion;
use temporalio_common::worker::{
    VersioningBehavior, WorkerDeploymentOptions, build_id_from_current_exe,
};
use temporalio_sdk::runtime::{PollerBehavior, RuntimeOptions};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

pub mod sdk_metrics;

/// Tuning knobs, with defaults that suit one worker process on a small machine.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Workflows kept in memory between tasks (sticky cache); evicted ones are replayed.
    pub max_cached_workflows: usize,
    /// Concurrent workflow-task polls (at least 2: sticky and normal queue).
    pub workflow_pollers: usize,
    /// The Worker Deployment version this worker serves; `None`: unversioned.
    pub version: Option<WorkerVersion>,
}

/// A worker's place in Temporal's Worker Deployment Versioning: which deployment, which build.
///
/// A versioned worker receives only the tasks of workflows on its version, and an order is
/// **pinned**: it runs every task, from its first to its last, on the build that started it.
/// Why pinned rather than auto-upgrade: an order lives minutes to a couple of hours, so keeping
/// the previous build's workers until its orders close (Temporal reports the version
/// "drained") is cheap, and then a change to `OrderWorkflow` needs no patch for orders already
/// running — the nondeterminism a rolling update could cause (an old order's task landing on a
/// new build, or a rollback stranding an order that passed a new patch) cannot happen. What an
/// old order calls is still the old build's activities, so activities stay
/// backward-compatible across one release as before. A fix that must reach running orders is
/// the exception: `temporal workflow update-options --versioning-override-behavior
/// auto_upgrade` moves them (deploy/README.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerVersion {
    /// The Worker Deployment's name (one per task queue's set of workers: `baedal-worker`).
    pub deployment: String,
    /// The build: the image tag in a deployment.
    pub build_id: String,
}

impl Default for WorkerSettings {
    /// 500 cached workflows: far more than the orders a worker touches at once at the measured
    /// loads, and 207 MB instead of 310 MB for an all-in-one process with 10,000+ open orders
    /// (BENCHMARKS.md).
    fn default() -> Self {
        Self {
            max_cached_workflows: 500,
            workflow_pollers: 5,
            version: None,
        }
    }
}

/// What the worker role needs besides Temporal and the read model.
#[derive(Debug, Clone)]
pub struct WorkerRole {
    /// The payment and notification services, and the tokens the worker calls them with: the
    /// payment token (which only the worker holds) moves money, the service token notifies.
    pub payment_url: String,
    pub notify_url: String,
    pub service_token: String,
    pub payment_token: String,
    pub breaker: BreakerSettings,
    /// Open orders that have not moved for this long are stuck (alerted once).
    pub stuck_after: Duration,
    /// What the read model keeps, pruned every [`Retention::read_model_every`].
    pub retention: Retention,
    pub settings: WorkerSettings,
}

/// How often a worker deletes riders' positions past their use: well inside the five minutes
/// they may be kept ([`baedal_domain::eta::FIX_FRESH_FOR_SECS`] plus this at most).
pub const POSITION_EXPIRY_EVERY: Duration = Duration::from_secs(60);

/// How often the worker refreshes `baedal_refunds_pending`: a count and a first row of the
/// read model's partial index of pending refunds.
pub const REFUNDS_PENDING_EVERY: Duration = Duration::from_secs(15);

/// How often the worker sweeps for stuck orders: a tenth of the threshold, between 1 s and a
/// minute, so an order is alerted about soon after it becomes stuck.
pub fn sweep_every(stuck_after: Duration) -> Duration {
    (stuck_after / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// The worker role, until `shutdown` resolves: the order worker and every task that runs
/// beside it (the payment breaker's publisher, the stuck-order sweep, the rider-position
/// expiry, the read model's pruning to its retention), started and stopped together. The one assembly of a worker: `baedal worker`,
/// `baedal dev` and the tests call this, so none can run a worker without its tasks.
pub async fn serve(
    client: Client,
    read_model: ReadModel,
    role: WorkerRole,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let payment = PaymentClient::new(role.payment_url, role.payment_token);
    let breaker = PaymentBreaker::new(payment.clone(), &role.breaker);
    let notify = NotificationClient::new(role.notify_url, role.service_token);
    let beside = [
        spawn_breaker_publisher(
            breaker.clone(),
            read_model.clone(),
            process_name(),
            Duration::from_secs(1),
        ),
        spawn_stuck_sweeper(
            read_model.clone(),
            notify.clone(),
            role.stuck_after,
            sweep_every(role.stuck_after),
        ),
        spawn_position_expiry(read_model.clone(), POSITION_EXPIRY_EVERY),
        spawn_pruner(
            read_model.clone(),
            role.retention,
            role.retention.read_model_every(),
        ),
        spawn_refunds_pending(read_model.clone(), REFUNDS_PENDING_EVERY),
    ];
    let activities = OrderActivities::new(payment, notify, breaker, read_model);
    let result = run(client, activities, role.settings, shutdown).await;
    for task in beside {
        task.abort();
    }
    result
}

/// Run the worker on `client` until `shutdown` resolves, then drain and return.
async fn run(
    client: Client,
    activities: OrderActivities,
    settings: WorkerSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .telemetry_options(sdk_metrics::runtime_options())
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;
    let deployment = match &settings.version {
        Some(v) => WorkerDeploymentOptions::new(
            WorkerDeploymentVersion::builder()
                .deployment_name(v.deployment.clone())
                .build_id(v.build_id.clone())
                .build(),
        )
        .use_worker_versioning(true)
        .default_versioning_behavior(VersioningBehavior::Pinned)
        .build(),
        // The SDK's own default: unversioned, named by a hash of this executable.
        None => WorkerDeploymentOptions::from_build_id(build_id_from_current_exe().to_owned()),
    };
    let options = WorkerOptions::new(TASK_QUEUE).deployment_options(deployment);
    let options = options
        .register_workflow::<OrderWorkflow>()?
        .register_activities(activities)
        .max_cached_workflows(settings.max_cached_workflows)
        .workflow_task_poller_behavior(PollerBehavior::SimpleMaximum(
            settings.workflow_pollers.max(2),
        ))
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let stop = worker.shutdown_handle();
    let stopper = tokio::spawn(async move {
        shutdown.await;
        tracing::info!("worker draining");
        stop();
    });
    match &settings.version {
        Some(v) => tracing::info!(
            task_queue = TASK_QUEUE,
            deployment = %v.deployment,
            build_id = %v.build_id,
            "worker polling as a pinned deployment version"
        ),
        None => tracing::info!(task_queue = TASK_QUEUE, "worker polling (unversioned)"),
    }
    let result = worker.run().await;
    stopper.abort();
    result?;
    tracing::info!("worker stopped");
    Ok(())
}

/// Publish this process's payment breaker to the read model under `worker` (one row per
/// process: workers never overwrite each other's), when its state changes and at least every
/// [`baedal_readmodel::BREAKER_HEARTBEAT`], so the api can show every worker's breaker at
/// `/v1/ops/payment`. Looks every `every`; runs until aborted.
fn spawn_breaker_publisher(
    breaker: baedal_activities::PaymentBreaker,
    read_model: baedal_readmodel::ReadModel,
    worker: String,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let last = std::sync::Arc::new(std::sync::Mutex::new(None::<(String, std::time::Instant)>));
    every_tick(every, move || {
        let (breaker, read_model, worker, last) = (
            breaker.clone(),
            read_model.clone(),
            worker.clone(),
            last.clone(),
        );
        async move {
            let snap = breaker.snapshot().await;
            let due = match &*last.lock().expect("publisher state") {
                Some((state, at)) => {
                    *state != snap.state || at.elapsed() >= baedal_readmodel::BREAKER_HEARTBEAT
                }
                None => true,
            };
            if !due {
                return;
            }
            let body = serde_json::to_value(&snap).expect("snapshot serializes");
            let now = chrono::Utc::now();
            let stamp = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            };
            let forget = now
                - chrono::Duration::from_std(baedal_readmodel::BREAKER_FORGOTTEN_AFTER)
                    .unwrap_or_default();
            match read_model
                .publish_breaker(&worker, &body, &stamp(now), &stamp(forget))
                .await
            {
                Ok(()) => {
                    *last.lock().expect("publisher state") =
                        Some((snap.state, std::time::Instant::now()))
                }
                Err(e) => tracing::warn!(error = %e, "could not publish the breaker state"),
            }
        }
    })
}

/// Every `every`, delete riders' positions too old for an arrival estimate
/// ([`baedal_domain::eta::FIX_FRESH_FOR_SECS`]): a rider's whereabouts are personal data, kept
/// only while they are of use. Runs until aborted.
fn spawn_position_expiry(
    read_model: baedal_readmodel::ReadModel,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    every_tick(every, move || {
        let read_model = read_model.clone();
        async move {
            let before = chrono::Utc::now()
                - chrono::Duration::seconds(baedal_domain::eta::FIX_FRESH_FOR_SECS);
            let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            match read_model.forget_rider_locations(&before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(forgotten = n, "riders' old positions deleted"),
                Err(e) => tracing::warn!(error = %e, "could not delete old rider positions"),
            }
        }
    })
}

/// Every `every`, prune the read model to `retention` (see `baedal_readmodel::Horizons`): the
/// change log, closed orders' personal data, idempotency keys and the operational records.
/// Every worker replica runs it; the batches are idempotent, so replicas pruning at once only
/// repeat each other's reads. A failed round is logged and tried again at the next. Runs until
/// aborted.
fn spawn_pruner(
    read_model: ReadModel,
    retention: Retention,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    every_tick(every, move || {
        let read_model = read_model.clone();
        async move {
            let now = chrono::Utc::now();
            let horizons = baedal_readmodel::Horizons::at(now, &retention);
            match read_model.prune(&horizons, now).await {
                Ok(p) if p.total() > 0 => {
                    tracing::info!(rows = p.total(), "read model pruned to its retention")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "pruning the read model failed; trying again next round")
                }
            }
        }
    })
}

/// Every `every`, set `baedal_refunds_pending` (refunds owed and not yet confirmed by the PSP)
/// from the read model. Every worker replica reports the same figure: alert on their `max`.
/// (A refund owed past `BAEDAL_STUCK_AFTER` is alerted by the stuck sweep,
/// `baedal_stuck_refund_alerts_total`.) A failed read leaves the gauge as it was. Runs until
/// aborted.
fn spawn_refunds_pending(read_model: ReadModel, every: Duration) -> tokio::task::JoinHandle<()> {
    every_tick(every, move || {
        let read_model = read_model.clone();
        async move {
            match read_model.refund_health().await {
                Ok(h) => metrics::gauge!("baedal_refunds_pending").set(h.pending as f64),
                Err(e) => tracing::warn!(error = %e, "could not read the pending refunds"),
            }
        }
    })
}

/// This process's name among the workers: host and process id.
pub fn process_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Run `task` every `every` (a missed tick is skipped, not caught up) until aborted.
fn every_tick<F, Fut>(every: std::time::Duration, task: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            task().await;
        }
    })
}

/// Sweep for stuck orders every `every` and alert ops once per stuck status (see
/// `baedal_activities::stuck`). Runs until aborted.
fn spawn_stuck_sweeper(
    read_model: baedal_readmodel::ReadModel,
    notify: NotificationClient,
    stuck_after: std::time::Duration,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if let Err(e) = baedal_activities::stuck::sweep(&read_model, &notify, stuck_after).await
            {
                tracing::warn!(error = %e, "stuck sweep failed; trying again next round");
            }
        }
    })
}
