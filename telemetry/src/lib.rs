//! W3C trace context across baedal's HTTP hops: whether this process traces at all
//! ([`enabled`]), and carrying the current OpenTelemetry context in and out of HTTP headers
//! (`traceparent`, `tracestate`, `baggage`) with the process's propagator.
//!
//! A process turns tracing on by installing a tracer provider and propagator (the `baedal`
//! binary does, from the standard `OTEL_*` variables, only when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! is set) and then calling [`enable`]. Until then every helper here is a no-op that costs one
//! relaxed atomic load, so a process without tracing pays nothing per request.
//!
//! Used by the HTTP doors (`baedal-http`: server spans whose parent is the caller's
//! `traceparent`) and by the service clients (`baedal-service-client`: client spans and the
//! `traceparent` they send). Temporal's own hops (client → workflow → activity) are the
//! SDK's `OpenTelemetryPlugin`'s, not this crate's. It must not build exporters or read
//! settings (the binary does), and must not depend on a web framework or on Temporal.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, global};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The instrumentation scope of baedal's own spans (the SDK's are `temporalio-sdk`).
pub const SCOPE: &str = "baedal";

/// Whether this process exports traces: a tracer provider was installed and [`enable`]d.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Say that a tracer provider and a propagator are installed (`opentelemetry::global`): from
/// now on the doors start server spans and the clients send `traceparent`.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Write `cx` into `headers` (`traceparent` and friends). Nothing when tracing is off.
pub fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    if !enabled() {
        return;
    }
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}

/// The caller's context from `headers` (its `traceparent`), or an empty one (a new trace).
pub fn extract(headers: &http::HeaderMap) -> Context {
    if !enabled() {
        return Context::new();
    }
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Start a span named `name` of `kind` under `parent`, with `attributes`, and answer the
/// context that holds it (run the work under it with `FutureExt::with_context`; end it with
/// `cx.span().end()`). `None` when tracing is off.
pub fn start_span(
    parent: &Context,
    name: String,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
) -> Option<Context> {
    if !enabled() {
        return None;
    }
    let tracer = global::tracer(SCOPE);
    let span = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_attributes(attributes)
        .start_with_context(&tracer, parent);
    Some(parent.with_span(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// One test, as the switch is the process's: off, nothing is read or written; on, the
    /// caller's trace is the parent and the context goes out as it came in.
    #[test]
    fn nothing_until_enabled_then_the_callers_trace_goes_through() {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", http::HeaderValue::from_static(PARENT));
        assert!(!enabled());
        let cx = extract(&headers);
        assert!(!cx.span().span_context().is_valid());
        let mut out = http::HeaderMap::new();
        inject(&cx, &mut out);
        assert!(out.is_empty());
        assert!(start_span(&cx, "x".into(), SpanKind::Server, vec![]).is_none());

        global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        enable();
        let cx = extract(&headers);
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut out = http::HeaderMap::new();
        inject(&cx, &mut out);
        assert_eq!(out["traceparent"], PARENT);
    }
}
