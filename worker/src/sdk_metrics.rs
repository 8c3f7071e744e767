//! The Temporal SDK's own metrics on the process's `/metrics`, beside baedal's.
//!
//! Core (the SDK's engine) reports through a [`CoreMeter`]; [`SdkMeter`] is one that records
//! into the `metrics` facade, so the SDK's families are rendered by the same Prometheus
//! recorder as baedal's own, on the same `BAEDAL_METRICS_ADDR`, in the same scrape. Chosen over
//! core's own Prometheus exporter (`start_prometheus_metric_exporter`), which binds a listener
//! of its own and keeps its registry private: merging its text into one `/metrics` is not
//! possible without scraping ourselves, and a second port per pod would be a second
//! ServiceMonitor endpoint and a second thing to keep off the public port.
//!
//! Names follow Prometheus' conventions, as core's exporter does with `counters_total_suffix`,
//! `unit_suffix` and `use_seconds_for_durations` on: every name starts `temporal_`, counters
//! end in `_total`, durations are histograms in seconds ending in `_seconds` with core's own
//! buckets ([`histogram_buckets`]), gauges are as named. Two meters feed it: the worker's
//! runtime ([`runtime_options`]: task slots, pollers, schedule-to-start and execution
//! latencies, the sticky cache, workflow task failures with their `failure_reason`, such as
//! a nondeterminism error) and every Temporal connection ([`client_meter`]: each gRPC call and
//! long poll, its failures and latency, by `operation`).

use std::sync::Arc;
use std::time::Duration;
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, CounterBase, Gauge, GaugeBase, GaugeF64, GaugeF64Base, Histogram,
    HistogramBase, HistogramDuration, HistogramDurationBase, HistogramF64, HistogramF64Base,
    MetricAttributable, MetricAttributes, MetricParameters, NewAttributes, OrderedPromLabelSet,
    TemporalMeter, UpDownCounter, UpDownCounterBase, default_buckets_for,
};
use temporalio_common::telemetry::{METRIC_PREFIX, TaskQueueLabelStrategy, TelemetryOptions};

/// A [`CoreMeter`] recording into the process's `metrics` recorder; see the module.
#[derive(Debug, Clone, Default)]
pub struct SdkMeter {
    /// Put before every name: empty for the runtime (core adds `temporal_` itself), `temporal_`
    /// for a connection's meter (which gets the meter as it is).
    prefix: &'static str,
}

type BoxError = Box<dyn std::error::Error>;

impl SdkMeter {
    fn name(&self, params: &MetricParameters, suffix: &str) -> String {
        let mut name = format!("{}{}", self.prefix, params.name);
        if !name.ends_with(suffix) {
            name.push_str(suffix);
        }
        name
    }

    fn instrument(&self, params: &MetricParameters, suffix: &str, kind: Kind) -> Arc<Instrument> {
        let name = self.name(params, suffix);
        let help = params.description.to_string();
        match kind {
            Kind::Counter => metrics::describe_counter!(name.clone(), help),
            Kind::Histogram => metrics::describe_histogram!(name.clone(), help),
            Kind::Gauge => metrics::describe_gauge!(name.clone(), help),
        }
        Arc::new(Instrument { name })
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Histogram,
    Gauge,
}

/// The attributes as `metrics` labels, in a stable order.
fn labels(attributes: &MetricAttributes) -> Vec<metrics::Label> {
    match attributes {
        MetricAttributes::Prometheus { labels } => {
            let values = labels.as_prom_labels();
            labels
                .keys_ordered()
                .filter_map(|k| {
                    values
                        .get(k)
                        .map(|v| metrics::Label::new(k.to_owned(), v.clone()))
                })
                .collect()
        }
        MetricAttributes::NoOp(map) => {
            let mut l: Vec<_> = map
                .iter()
                .map(|(k, v)| metrics::Label::new(k.replace('-', "_"), v.clone()))
                .collect();
            l.sort_by(|a, b| a.key().cmp(b.key()));
            l
        }
        _ => Vec::new(),
    }
}

impl CoreMeter for SdkMeter {
    fn new_attributes(&self, attribs: NewAttributes) -> MetricAttributes {
        MetricAttributes::Prometheus {
            labels: Arc::new(OrderedPromLabelSet::from(attribs)),
        }
    }

    fn extend_attributes(
        &self,
        existing: MetricAttributes,
        attribs: NewAttributes,
    ) -> MetricAttributes {
        let mut all = match existing {
            MetricAttributes::Prometheus { labels } => Arc::unwrap_or_clone(labels),
            _ => OrderedPromLabelSet::new(),
        };
        for kv in attribs.attributes {
            all.add_kv(kv);
        }
        MetricAttributes::Prometheus {
            labels: Arc::new(all),
        }
    }

    fn counter(&self, params: MetricParameters) -> Counter {
        Counter::new(self.instrument(&params, "_total", Kind::Counter))
    }

    fn histogram(&self, params: MetricParameters) -> Histogram {
        Histogram::new(self.instrument(&params, "", Kind::Histogram))
    }

    fn histogram_f64(&self, params: MetricParameters) -> HistogramF64 {
        HistogramF64::new(self.instrument(&params, "", Kind::Histogram))
    }

    fn histogram_duration(&self, params: MetricParameters) -> HistogramDuration {
        HistogramDuration::new(self.instrument(&params, "_seconds", Kind::Histogram))
    }

    fn gauge(&self, params: MetricParameters) -> Gauge {
        Gauge::new(self.instrument(&params, "", Kind::Gauge))
    }

    fn gauge_f64(&self, params: MetricParameters) -> GaugeF64 {
        GaugeF64::new(self.instrument(&params, "", Kind::Gauge))
    }

    fn up_down_counter(&self, params: MetricParameters) -> UpDownCounter {
        UpDownCounter::new(self.instrument(&params, "", Kind::Gauge))
    }
}

/// One of core's instruments: its full name; bound to attributes, a `metrics` handle.
#[derive(Debug)]
struct Instrument {
    name: String,
}

struct Bound<T>(T);

impl CounterBase for Bound<metrics::Counter> {
    fn adds(&self, value: u64) {
        self.0.increment(value);
    }
}

impl HistogramBase for Bound<metrics::Histogram> {
    fn records(&self, value: u64) {
        self.0.record(value as f64);
    }
}

impl HistogramF64Base for Bound<metrics::Histogram> {
    fn records(&self, value: f64) {
        self.0.record(value);
    }
}

impl HistogramDurationBase for Bound<metrics::Histogram> {
    fn records(&self, value: Duration) {
        self.0.record(value.as_secs_f64());
    }
}

impl GaugeBase for Bound<metrics::Gauge> {
    fn records(&self, value: u64) {
        self.0.set(value as f64);
    }
}

impl GaugeF64Base for Bound<metrics::Gauge> {
    fn records(&self, value: f64) {
        self.0.set(value);
    }
}

impl UpDownCounterBase for Bound<metrics::Gauge> {
    fn adds(&self, value: i64) {
        self.0.increment(value as f64);
    }
}

impl MetricAttributable<Box<dyn CounterBase>> for Instrument {
    fn with_attributes(&self, a: &MetricAttributes) -> Result<Box<dyn CounterBase>, BoxError> {
        Ok(Box::new(Bound(metrics::counter!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn HistogramBase>> for Instrument {
    fn with_attributes(&self, a: &MetricAttributes) -> Result<Box<dyn HistogramBase>, BoxError> {
        Ok(Box::new(Bound(metrics::histogram!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn HistogramF64Base>> for Instrument {
    fn with_attributes(&self, a: &MetricAttributes) -> Result<Box<dyn HistogramF64Base>, BoxError> {
        Ok(Box::new(Bound(metrics::histogram!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn HistogramDurationBase>> for Instrument {
    fn with_attributes(
        &self,
        a: &MetricAttributes,
    ) -> Result<Box<dyn HistogramDurationBase>, BoxError> {
        Ok(Box::new(Bound(metrics::histogram!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn GaugeBase>> for Instrument {
    fn with_attributes(&self, a: &MetricAttributes) -> Result<Box<dyn GaugeBase>, BoxError> {
        Ok(Box::new(Bound(metrics::gauge!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn GaugeF64Base>> for Instrument {
    fn with_attributes(&self, a: &MetricAttributes) -> Result<Box<dyn GaugeF64Base>, BoxError> {
        Ok(Box::new(Bound(metrics::gauge!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

impl MetricAttributable<Box<dyn UpDownCounterBase>> for Instrument {
    fn with_attributes(
        &self,
        a: &MetricAttributes,
    ) -> Result<Box<dyn UpDownCounterBase>, BoxError> {
        Ok(Box::new(Bound(metrics::gauge!(
            self.name.clone(),
            labels(a)
        ))))
    }
}

/// The SDK runtime's telemetry: its metrics into this process's recorder (core adds the
/// `temporal_` prefix), without the constant `service_name` label (the scrape's labels say
/// which pod), and core's logs left to the process's own subscriber.
pub fn runtime_options() -> TelemetryOptions {
    TelemetryOptions::builder()
        .metrics(Arc::new(SdkMeter::default()) as Arc<dyn CoreMeter>)
        .attach_service_name(false)
        .build()
}

/// The meter for a Temporal connection's own metrics (`ConnectionOptions::metrics_meter`):
/// `temporal_request_total`, `temporal_long_request_total` (the workers' polls), their
/// `_failure_total` and latencies.
pub fn client_meter() -> TemporalMeter {
    TemporalMeter::new(
        Arc::new(SdkMeter {
            prefix: METRIC_PREFIX,
        }),
        NewAttributes::default(),
        TaskQueueLabelStrategy::UseNormal,
    )
}

/// The SDK's duration histograms (full names, as on `/metrics`) with core's own buckets in
/// seconds, for the Prometheus recorder's bucket settings; any other `temporal_` histogram
/// takes [`default_sdk_buckets`].
pub fn histogram_buckets() -> Vec<(String, Vec<f64>)> {
    [
        "workflow_endtoend_latency",
        "workflow_task_schedule_to_start_latency",
        "workflow_task_replay_latency",
        "workflow_task_execution_latency",
        "activity_schedule_to_start_latency",
        "activity_execution_latency",
    ]
    .into_iter()
    .map(|name| {
        (
            format!("{METRIC_PREFIX}{name}_seconds"),
            default_buckets_for(name, true).to_vec(),
        )
    })
    .collect()
}

/// Core's default buckets in seconds, for its other histograms.
pub fn default_sdk_buckets() -> Vec<f64> {
    default_buckets_for("", true).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::telemetry::metrics::MetricKeyValue;

    #[test]
    fn core_instruments_land_in_the_recorder_with_prometheus_names() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let meter = client_meter();
            let attrs = meter.new_attributes(NewAttributes::new(vec![
                MetricKeyValue::new("task-queue", "orders"),
                MetricKeyValue::new("operation", "PollWorkflowTaskQueue"),
            ]));
            meter.counter("long_request".into()).add(2, &attrs);
            meter
                .histogram_duration("long_request_latency".into())
                .record(Duration::from_millis(1500), &attrs);
            let slots = meter.gauge("worker_task_slots_available".into());
            slots.record(7, &attrs);
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"temporal_long_request_total{operation="PollWorkflowTaskQueue",task_queue="orders"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"temporal_long_request_latency_seconds_sum{operation="PollWorkflowTaskQueue",task_queue="orders"} 1.5"#),
            "{text}"
        );
        assert!(
            text.contains(r#"temporal_worker_task_slots_available{operation="PollWorkflowTaskQueue",task_queue="orders"} 7"#),
            "{text}"
        );
    }
}
