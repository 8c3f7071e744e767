//! Traces out of the process, by OTLP, when the deployment asks for them with the standard
//! OpenTelemetry variables; nothing otherwise.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set and
//! `OTEL_SDK_DISABLED` not `true`, [`init`] installs a tracer provider exporting OTLP over
//! HTTP/protobuf (port 4318 of a collector; `/v1/traces` is appended to the general endpoint)
//! in batches (`OTEL_BSP_*`), sampled per `OTEL_TRACES_SAMPLER` (default: parent-based, always
//! on), named `OTEL_SERVICE_NAME` or else after the role (`baedal-api-order`, `baedal-worker`,
//! `baedal-payment`, `baedal-notification`, `baedal-dev`), with `OTEL_RESOURCE_ATTRIBUTES`; and
//! the W3C trace-context and baggage propagators. Then `baedal_telemetry::enable` turns on the
//! doors' server spans and the service clients' client spans, and [`temporal_plugins`] the
//! Temporal SDK's `OpenTelemetryPlugin` (trace context in the `_tracer-data` header of each
//! start, update, signal and query; workflow, update-handler and activity spans on the worker).
//!
//! Without the endpoint nothing is installed: the doors and clients skip their spans after one
//! atomic load, no Temporal plugin is registered, no header is written.
//!
//! The tracer provider uses the SDK's `WorkflowIdGenerator`, so workflow spans get the same
//! ids when a workflow is replayed (the plugin records no span during replay). A workflow's run
//! span ends when the workflow does, and is exported then; one evicted from the worker's
//! cache before that (a restart, a full cache) is never exported, while its activity spans are.

use anyhow::Context as _;
use opentelemetry::global;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;

/// The tracer provider this process installed; [`Traces::shutdown`] exports what is buffered.
pub struct Traces {
    provider: SdkTracerProvider,
}

fn set(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// Whether the environment asks for traces (see the module).
pub fn requested() -> bool {
    let disabled = set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some())
}

/// Start exporting traces as `default_service_name` (unless `OTEL_SERVICE_NAME` names the
/// process) when [`requested`]; `None` when not.
pub fn init(default_service_name: &str) -> anyhow::Result<Option<Traces>> {
    if !requested() {
        return Ok(None);
    }
    for key in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ] {
        if let Some(p) = set(key).filter(|p| p != "http/protobuf") {
            tracing::warn!(
                "{key}={p}: baedal exports OTLP over HTTP/protobuf only (a collector's port 4318)"
            );
        }
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("building the OTLP span exporter (OTEL_EXPORTER_OTLP_*)")?;
    let mut resource = Resource::builder();
    if set("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(default_service_name.to_owned());
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(temporalio_sdk::opentelemetry::WorkflowIdGenerator::default())
        .with_resource(resource.build())
        .build();
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    global::set_tracer_provider(provider.clone());
    baedal_telemetry::enable();
    tracing::info!(service = default_service_name, "exporting traces by OTLP");
    Ok(Some(Traces { provider }))
}

impl Traces {
    /// Export the spans still buffered and stop the exporter (the end of the process's run).
    pub async fn shutdown(self) {
        let provider = self.provider;
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "flushing the last traces failed");
        }
    }
}

/// Run `run`, then stop `traces`, if any (exporting the last spans), and answer what `run` did.
pub async fn flushed<T>(traces: Option<Traces>, run: impl std::future::Future<Output = T>) -> T {
    let done = run.await;
    if let Some(t) = traces {
        t.shutdown().await;
    }
    done
}

/// The Temporal client plugins of a process that traces, in the order they must apply: the
/// SDK's `OpenTelemetryPlugin` (it writes `_tracer-data`), then, with the payload `codec`, a
/// plugin sealing the headers it wrote (`baedal_codec::SealHeaders`: the worker opens every
/// header and refuses plaintext ones). Empty when the process does not trace.
pub fn temporal_plugins(
    codec: Option<&baedal_codec::EncryptionCodec>,
) -> Vec<temporalio_sdk::SimplePlugin> {
    if !baedal_telemetry::enabled() {
        return Vec::new();
    }
    let mut plugins = vec![temporalio_sdk::opentelemetry::OpenTelemetryPlugin::builder().build()];
    if let Some(codec) = codec {
        plugins.push(
            temporalio_sdk::SimplePlugin::builder("baedal-sealed-headers")
                .client_interceptors(vec![Arc::new(baedal_codec::SealHeaders(codec.clone()))
                    as Arc<dyn temporalio_client::ClientInterceptor>])
                .build(),
        );
    }
    plugins
}
