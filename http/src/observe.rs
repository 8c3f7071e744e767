//! What every HTTP door reports about each request: the RED metrics and, when the process
//! traces, a server span whose parent is the caller's `traceparent`.
//!
//! - `baedal_http_requests_total{route,method,status}` (counter) and
//!   `baedal_http_request_duration_seconds{route,method}` (histogram): `route` is the matched
//!   path template (`/v1/orders/{id}`), never the raw path, and `unmatched` for a request no
//!   route took, so the label's values are the routes' own and cannot grow with traffic;
//!   `method` is one of the standard methods or `other`. The duration is until the answer's
//!   head is ready (a live stream counts its opening, not its life).
//! - A span `"{method} {route}"` of kind server, with the semantic-convention attributes
//!   (`http.request.method`, `http.route`, `url.path`, `http.response.status_code`), the
//!   handler running inside it: whatever the handler calls (a Temporal update, the
//!   notification service) continues the trace. A 5xx marks the span as an error. An internal
//!   service ([`observe`]) continues its caller's trace (`traceparent`); the public api
//!   ([`observe_public`]) starts a new one for every request: a `traceparent` from the
//!   internet would let anyone choose trace ids and force sampling.
//!
//! Install with `router.layer(axum::middleware::from_fn(observe))` after the routes (axum
//! applies a router's layers per route, so the route's template is known here).

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::KeyValue;
use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt};
use std::time::Instant;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The method label: the standard methods as they are, anything else `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The middleware of an internal service: see the module.
pub async fn observe(req: Request, next: Next) -> Response {
    observed(req, next, true).await
}

/// The middleware of the public api (a new trace per request): see the module.
pub async fn observe_public(req: Request, next: Next) -> Response {
    observed(req, next, false).await
}

async fn observed(req: Request, next: Next, continue_caller: bool) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let method = method_label(req.method());
    let parent = if continue_caller {
        baedal_telemetry::extract(req.headers())
    } else {
        opentelemetry::Context::new()
    };
    let span = baedal_telemetry::start_span(
        &parent,
        format!("{method} {route}"),
        SpanKind::Server,
        vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route.clone()),
            KeyValue::new("url.path", req.uri().path().to_owned()),
        ],
    );
    let resp = match &span {
        Some(cx) => next.run(req).with_context(cx.clone()).await,
        None => next.run(req).await,
    };
    let status = resp.status().as_u16();
    if let Some(cx) = span {
        let span = cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        if status >= 500 {
            span.set_status(Status::error(""));
        }
        span.end();
    }
    metrics::counter!(
        "baedal_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status.to_string(),
    )
    .increment(1);
    metrics::histogram!(
        "baedal_http_request_duration_seconds",
        "route" => route,
        "method" => method,
    )
    .record(started.elapsed().as_secs_f64());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test(flavor = "current_thread")]
    async fn routes_are_counted_by_their_template_and_strangers_as_unmatched() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _local = metrics::set_default_local_recorder(&recorder);
        let app = Router::new()
            .route("/v1/orders/{id}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(observe));
        for uri in ["/v1/orders/a", "/v1/orders/b", "/nowhere/c"] {
            let req = axum::http::Request::get(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(req).await.unwrap();
        }
        let req = axum::http::Request::builder()
            .method(Method::from_bytes(b"BREW").unwrap())
            .uri("/v1/orders/c")
            .body(Body::empty())
            .unwrap();
        app.clone().oneshot(req).await.unwrap();
        let text = handle.render();
        assert!(
            text.contains(
                r#"baedal_http_requests_total{route="/v1/orders/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"baedal_http_requests_total{route="unmatched",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"method="other",status="405"} 1"#), "{text}");
        assert!(!text.contains("/v1/orders/a"), "never the raw path: {text}");
        assert!(
            text.contains(
                r#"baedal_http_request_duration_seconds_count{route="/v1/orders/{id}",method="GET"} 2"#
            ),
            "{text}"
        );
    }
}
