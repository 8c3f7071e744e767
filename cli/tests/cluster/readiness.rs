//! Readiness says only what it should, and costs nothing per probe: with Temporal hung (its
//! process stopped, sockets open, nothing answered), every `/readyz` still answers at once,
//! from what the background checks last saw; the replica stays in rotation through the grace
//! and leaves it after, and comes back when Temporal does. A probe that queried Temporal (the
//! visibility COUNT it once ran) would hang here with every replica's probes.

use crate::procs;

use procs::{Cluster, Part};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

/// `/readyz` of `base`, which must answer well inside a probe's timeout.
async fn readyz(base: &str) -> (StatusCode, Value) {
    let started = Instant::now();
    let r = reqwest::Client::new()
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{base}/readyz did not answer: {e}"));
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{base}/readyz took {:?}: it must not wait on a dependency",
        started.elapsed()
    );
    (status, body)
}

async fn until(base: &str, want: StatusCode, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, body) = readyz(base).await;
        if s == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{base}/readyz not {want} after {secs}s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_answers_at_once_with_temporal_hung_and_leaves_rotation_only_after_the_grace() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("readiness");
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
    assert_eq!(code, 0, "{out}");
    for p in [Part::Temporal, Part::Worker, Part::OrderApi] {
        c.start(p);
    }
    let doors = [c.order_api.clone(), c.worker_admin.clone()];
    for d in &doors {
        c.wait_healthy(d, 90).await;
        until(d, StatusCode::OK, 30).await;
    }

    c.pause(Part::Temporal);
    let hung = Instant::now();
    // Within the grace (10 s) every probe still answers 200, at once.
    while hung.elapsed() < Duration::from_secs(6) {
        for d in &doors {
            let (s, body) = readyz(d).await;
            assert_eq!(
                s,
                StatusCode::OK,
                "{d} left rotation within the grace: {body}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Past it, out of rotation, naming Temporal and not the read model; still at once.
    for d in &doors {
        let body = until(d, StatusCode::SERVICE_UNAVAILABLE, 15).await;
        assert_eq!(body["checks"]["temporal"], false, "{d}: {body}");
        assert_eq!(body["checks"]["read_model"], true, "{d}: {body}");
    }
    c.resume(Part::Temporal);
    for d in &doors {
        until(d, StatusCode::OK, 30).await;
    }
    // The flaps are counted, for the readiness-flap alert.
    let metrics = reqwest::get(format!("{}/metrics", c.worker_admin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let flips = metrics
        .lines()
        .find(|l| l.starts_with("baedal_readiness_changes_total{check=\"temporal\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(flips.is_some_and(|n| n >= 2.0), "{metrics}");
    assert!(
        metrics.contains("baedal_ready{check=\"temporal\"} 1"),
        "{metrics}"
    );
}
