//! What `observe` costs a request, with tracing off (the default) and on: a trivial route
//! served through the router in-process, many times, with a Prometheus recorder installed.
//! A benchmark, not a test (figures in BENCHMARKS.md):
//! `cargo bench -p baedal-http --bench observe`.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use std::time::Instant;
use tower::ServiceExt;

const N: u32 = 200_000;

async fn per_request(app: &Router) -> f64 {
    // Warm up, then time.
    for _ in 0..10_000 {
        let req = axum::http::Request::get("/v1/orders/ord_1")
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(req).await.unwrap();
    }
    let started = Instant::now();
    for _ in 0..N {
        let req = axum::http::Request::get("/v1/orders/ord_1")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(req).await.unwrap();
    }
    started.elapsed().as_nanos() as f64 / f64::from(N)
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(observe_costs());
}

async fn observe_costs() {
    let _ = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder();
    let bare = Router::new().route("/v1/orders/{id}", get(|| async { "ok" }));
    let observed = bare
        .clone()
        .layer(axum::middleware::from_fn(baedal_http::observe::observe));
    let base = per_request(&bare).await;
    let off = per_request(&observed).await;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    opentelemetry::global::set_tracer_provider(provider);
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    baedal_telemetry::enable();
    let on = per_request(&observed).await;
    println!(
        "per request: bare router {base:.0} ns; observe, tracing off {off:.0} ns (+{:.0}); \
         tracing on, spans not exported {on:.0} ns (+{:.0})",
        off - base,
        on - base
    );
}
