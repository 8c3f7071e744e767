//! What one run measured, and its human summary.

use serde::Serialize;
use std::collections::BTreeMap;

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub concurrency: usize,
    pub duration_secs: f64,
    /// Lifecycles that ended as the path meant (completed, canceled, rejected or declined).
    pub completed: u64,
    pub completed_by_path: BTreeMap<String, u64>,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests lost in flight (connection broken, 502/504 from a gateway whose upstream died,
    /// 503 `request_timeout`) and sent again; their lifecycles went on and are not errors.
    pub lost_in_flight: u64,
    pub lifecycles_per_sec: f64,
    pub place_p50_ms: f64,
    pub place_p99_ms: f64,
    pub command_p50_ms: f64,
    pub command_p99_ms: f64,
    pub status_read_p50_ms: f64,
    pub status_read_p99_ms: f64,
    /// The same reads through a Temporal query (0 unless `--query-reads`).
    pub query_read_p50_ms: f64,
    pub query_read_p99_ms: f64,
    /// Riders' position reports, sent before each claim, pickup and deliver.
    pub location_report_p50_ms: f64,
    pub location_report_p99_ms: f64,
    pub requests: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "baedal loadgen: concurrency {}, {:.1}s",
            self.concurrency, self.duration_secs
        )?;
        writeln!(
            f,
            "  lifecycles   {} ({:.2}/s) {:?}",
            self.completed, self.lifecycles_per_sec, self.completed_by_path
        )?;
        writeln!(
            f,
            "  errors       {} {:?}",
            self.errors, self.errors_by_kind
        )?;
        if self.lost_in_flight > 0 {
            writeln!(
                f,
                "  lost in flight and sent again: {} requests",
                self.lost_in_flight
            )?;
        }
        writeln!(
            f,
            "  place-order  p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.place_p50_ms, self.place_p99_ms
        )?;
        writeln!(
            f,
            "  commands     p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.command_p50_ms, self.command_p99_ms
        )?;
        writeln!(
            f,
            "  status reads p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.status_read_p50_ms, self.status_read_p99_ms
        )?;
        writeln!(
            f,
            "  positions    p50 {:>7.1} ms   p99 {:>7.1} ms",
            self.location_report_p50_ms, self.location_report_p99_ms
        )?;
        write!(f, "  requests     {}", self.requests)
    }
}
