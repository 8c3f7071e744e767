//! `/readyz` answered from what background checks last saw, never from a call made for the
//! probe.
//!
//! Why: the kubelet probes every replica every few seconds, and at scale that is several
//! requests a second on whatever the probe touches. A probe that queries a dependency turns
//! the dependency's slowness into every replica's unreadiness at once (the review's outage: a
//! visibility COUNT that grew past the probe timeout emptied the target group), and loads the
//! dependency with calls that serve no user. So each role names its checks once; each runs on
//! its own timer (every [`ReadinessSettings::every`], bounded by
//! [`ReadinessSettings::timeout`]) whatever the probe rate, and `/readyz` only reads the time
//! each last passed. A check is up while its last pass is within [`ReadinessSettings::grace`],
//! so one slow answer does not take a replica out of rotation and a dependency that stays
//! away does, within `grace` plus one round.
//!
//! Metrics: `baedal_ready{check}` (1 up, 0 down) and `baedal_readiness_changes_total{check}`
//! (each flip: the readiness-flap alert).

use axum::Json;
use axum::http::StatusCode;
use serde_json::json;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// One check: answers `true` when what it checks is there. Called on a timer, never per probe.
pub type Probe = Box<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// How often checks run and how long a pass counts.
#[derive(Debug, Clone, Copy)]
pub struct ReadinessSettings {
    /// Time between the start of one round of a check and the next.
    pub every: Duration,
    /// A check that has not answered by then failed.
    pub timeout: Duration,
    /// A check is up while its last pass is at most this old.
    pub grace: Duration,
}

impl Default for ReadinessSettings {
    /// Every 2 s, 2 s to answer, up for 10 s after a pass: a dependency gone for about ten
    /// seconds takes the replica out (the kubelet's own failure threshold comes on top), one
    /// lost answer does not.
    fn default() -> Self {
        Self {
            every: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            grace: Duration::from_secs(10),
        }
    }
}

struct Check {
    name: &'static str,
    last_pass: Mutex<Option<Instant>>,
}

impl Check {
    fn up(&self, grace: Duration) -> bool {
        self.last_pass
            .lock()
            .expect("readiness lock")
            .is_some_and(|t| t.elapsed() <= grace)
    }
}

/// A role's readiness: its checks and what they last saw. Cheap to clone; the background
/// checks stop when the last clone is dropped.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<Check>>,
    settings: ReadinessSettings,
}

impl Readiness {
    /// Start running `checks` in the background (needs a tokio runtime). Until a check's first
    /// pass the role is not ready.
    pub fn watch(checks: Vec<(&'static str, Probe)>, settings: ReadinessSettings) -> Self {
        let (names, probes): (Vec<_>, Vec<_>) = checks.into_iter().unzip();
        let checks = Arc::new(
            names
                .into_iter()
                .map(|name| Check {
                    name,
                    last_pass: Mutex::new(None),
                })
                .collect::<Vec<_>>(),
        );
        for (i, probe) in probes.into_iter().enumerate() {
            tokio::spawn(run(Arc::downgrade(&checks), i, probe, settings));
        }
        Self { checks, settings }
    }

    /// Whether every check is up now.
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.up(self.settings.grace))
    }

    /// The `/readyz` answer: 200 when every check is up, else 503; the body names each check,
    /// so an operator sees which dependency keeps the pod out of rotation. No I/O.
    pub fn answer(&self) -> (StatusCode, Json<serde_json::Value>) {
        let checks: Vec<(&str, bool)> = self
            .checks
            .iter()
            .map(|c| (c.name, c.up(self.settings.grace)))
            .collect();
        answer_of(&checks)
    }
}

/// The `/readyz` answer of `checks`: 200 when every check passed, else 503; the body names
/// each check, so an operator sees which dependency keeps the pod out of rotation. A role
/// lists only what it cannot serve without (a probe on anything else turns another part's
/// outage into this one's).
fn answer_of(checks: &[(&str, bool)]) -> (StatusCode, Json<serde_json::Value>) {
    let ready = checks.iter().all(|(_, ok)| *ok);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let by_name: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|(name, ok)| ((*name).to_owned(), json!(ok)))
        .collect();
    (code, Json(json!({"ready": ready, "checks": by_name})))
}

async fn run(checks: Weak<Vec<Check>>, i: usize, probe: Probe, settings: ReadinessSettings) {
    let mut was_up: Option<bool> = None;
    loop {
        let started = Instant::now();
        let passed = tokio::time::timeout(settings.timeout, probe())
            .await
            .unwrap_or(false);
        let Some(checks) = checks.upgrade() else {
            return;
        };
        let check = &checks[i];
        // What `/readyz` said while this probe was out, before its answer counts: a probe that
        // hung past the grace and then passed (the dependency came back) still saw the check
        // down, and the flap is counted both ways.
        if was_up.is_some() {
            record(check, &mut was_up, check.up(settings.grace), settings.grace);
        }
        if passed {
            *check.last_pass.lock().expect("readiness lock") = Some(Instant::now());
        }
        record(check, &mut was_up, check.up(settings.grace), settings.grace);
        drop(checks);
        tokio::time::sleep(settings.every.saturating_sub(started.elapsed())).await;
    }
}

/// Publish `up` as the check's gauge, and count and log a change from `was_up`.
fn record(check: &Check, was_up: &mut Option<bool>, up: bool, grace: Duration) {
    metrics::gauge!("baedal_ready", "check" => check.name).set(if up { 1.0 } else { 0.0 });
    if was_up.is_some_and(|w| w != up) {
        metrics::counter!("baedal_readiness_changes_total", "check" => check.name).increment(1);
        if up {
            tracing::info!(check = check.name, "readiness check up again");
        } else {
            tracing::warn!(
                check = check.name,
                grace = ?grace,
                "readiness check down: no pass within the grace; the replica leaves rotation"
            );
        }
    }
    *was_up = Some(up);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn settings() -> ReadinessSettings {
        ReadinessSettings {
            every: Duration::from_millis(50),
            timeout: Duration::from_millis(50),
            grace: Duration::from_millis(300),
        }
    }

    /// Probes as many as a busy kubelet and ALB would send cost no check: the checks run on
    /// their own timer only.
    #[tokio::test]
    async fn answering_runs_no_check() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let probe: Probe = Box::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { true })
        });
        let r = Readiness::watch(vec![("dep", probe)], settings());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let before = calls.load(Ordering::SeqCst);
        for _ in 0..10_000 {
            assert_eq!(r.answer().0, StatusCode::OK);
        }
        assert!(calls.load(Ordering::SeqCst) <= before + 1);
    }

    /// A dependency that hangs keeps the replica ready through the grace, then takes it out;
    /// it comes back on the first pass.
    #[tokio::test]
    async fn a_hanging_check_goes_down_after_the_grace_and_up_on_a_pass() {
        let hang = Arc::new(AtomicBool::new(false));
        let h = hang.clone();
        let probe: Probe = Box::new(move || {
            let h = h.clone();
            Box::pin(async move {
                if h.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                true
            })
        });
        let r = Readiness::watch(vec![("dep", probe)], settings());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(r.ready());
        hang.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(r.ready(), "one slow answer does not take the replica out");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (code, body) = r.answer();
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body.0["checks"]["dep"], false);
        hang.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(r.ready());
    }

    /// Not ready before a check has passed once.
    #[tokio::test]
    async fn not_ready_before_a_first_pass() {
        let probe: Probe = Box::new(|| Box::pin(async { false }));
        let r = Readiness::watch(vec![("dep", probe)], settings());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!r.ready());
    }
}
