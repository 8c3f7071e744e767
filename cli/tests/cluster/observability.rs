//! What operators see of an order, with the parts as the Deployments run them: one trace from
//! the api's request through Temporal into the activities and the payment and notification
//! services, exported by OTLP to a receiver of the test's own; and every role's `/metrics`
//! with the families the dashboards and alerts read (docs/metrics.md).

use crate::procs;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use procs::{Cluster, Part, token};
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    name: String,
    /// OTLP's `SpanKind`: 2 server, 3 client.
    kind: i32,
    trace: String,
    id: String,
    parent: String,
    attrs: HashMap<String, String>,
}

/// The trace id a caller of the public api claims (and does not get).
const FOREIGN_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

/// What a span of the chain must be called.
type NameIs = dyn Fn(&str) -> bool;

const SERVER: i32 = 2;
const CLIENT: i32 = 3;

fn text(kv: &[KeyValue]) -> HashMap<String, String> {
    kv.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                _ => String::new(),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf) keeping every span it is sent; its base
/// URL is the `OTEL_EXPORTER_OTLP_ENDPOINT` of the parts.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Got>>>) {
    let spans: Arc<Mutex<Vec<Got>>> = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                let req = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                let mut kept = kept.lock().unwrap();
                for rs in req.resource_spans {
                    let service = rs
                        .resource
                        .as_ref()
                        .map(|r| text(&r.attributes))
                        .and_then(|a| a.get("service.name").cloned())
                        .unwrap_or_default();
                    for ss in rs.scope_spans {
                        for s in ss.spans {
                            kept.push(Got {
                                service: service.clone(),
                                name: s.name,
                                kind: s.kind,
                                trace: hex(&s.trace_id),
                                id: hex(&s.span_id),
                                parent: hex(&s.parent_span_id),
                                attrs: text(&s.attributes),
                            });
                        }
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

/// The spans of `trace`, one a line, for a failure message.
fn tree(spans: &[Got], trace: &str) -> String {
    spans
        .iter()
        .filter(|s| s.trace == trace)
        .map(|s| format!("{} {} [{}] parent {}", s.id, s.name, s.service, s.parent))
        .collect::<Vec<_>>()
        .join("\n")
}

fn order_body() -> Value {
    json!({
        "store_id": "st_1",
        "items": [{"menu_item_id": "mi_1_1", "quantity": 1}],
        "delivery": {"address": "서울 강남구 테헤란로 1", "region": "gangnam", "lat": 37.4990, "lon": 127.0300},
        "payment": {"card_token": "tok_ok"}
    })
}

async fn post(base: &str, tok: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(tok)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Migrate, then start `parts` and wait until the HTTP ones answer.
async fn start(c: &mut Cluster, parts: &[Part]) {
    let (code, out) = c.run(&["migrate", "--seed-demo"]);
    assert_eq!(code, 0, "{out}");
    for p in parts {
        c.start(*p);
    }
    for url in [&c.order_api, &c.payment, &c.notify, &c.worker_admin] {
        c.wait_healthy(url, 90).await;
    }
}

/// An order placed over HTTP and paid, then canceled (so its workflow closes and its run span
/// is exported): one trace holds the api's request span (a new trace, whatever `traceparent`
/// the caller sent), the update-with-start client span,
/// the workflow's run span, the charge's activity spans, the worker's call to the payment
/// service and the payment service's own span, each the parent of the next; the notification
/// service's span of the order's first notice is in it too, under the same run span. The
/// cancel, a request of its own, is a trace of its own down to its update's handler. The
/// trace context travels sealed in Temporal's headers (the worker refuses unsealed payloads
/// outside dev and says so in its log: it must not).
#[tokio::test]
async fn one_orders_spans_form_one_trace_from_the_api_to_the_payment_service() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let (endpoint, spans) = otlp_receiver().await;
    let mut c = Cluster::new("traces");
    c.set_env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    c.set_env("OTEL_BSP_SCHEDULE_DELAY", "200");
    start(
        &mut c,
        &[
            Part::Temporal,
            Part::Payment,
            Part::Notify,
            Part::Worker,
            Part::OrderApi,
        ],
    )
    .await;

    let cust = token("customer", "trace-cust", None);
    // A trace context from outside is not the public api's to continue.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/orders", c.order_api))
        .bearer_auth(&cust)
        .header("Idempotency-Key", "trace-1")
        .header(
            "traceparent",
            format!("00-{FOREIGN_TRACE}-b7ad6b7169203331-01"),
        )
        .json(&order_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let (s, canceled) = post(
        &c.order_api,
        &cust,
        &format!("/v1/orders/{id}/cancel"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{canceled}");

    // The run span is exported when the workflow closes (after the refund).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (got, run) = loop {
        let got = spans.lock().unwrap().clone();
        let run = got.iter().find(|s| {
            s.name == "RunWorkflow:OrderWorkflow" && s.attrs.get("temporalWorkflowID") == Some(&id)
        });
        let charged = run.is_some_and(|run| {
            got.iter()
                .any(|s| s.trace == run.trace && s.name == "POST /v1/charges")
        });
        if let (true, Some(run)) = (charged, run) {
            break (got.clone(), run.clone());
        }
        assert!(
            Instant::now() < deadline,
            "no run span of {id} with its charge after 60 s; got:\n{}",
            got.iter()
                .map(|s| format!("{} [{}] trace {}", s.name, s.service, s.trace))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let trace = run.trace.clone();
    let by_id: HashMap<&str, &Got> = got
        .iter()
        .filter(|s| s.trace == trace)
        .map(|s| (s.id.as_str(), s))
        .collect();
    let show = || tree(&got, &trace);

    // From the payment service's span up to the api's request, parent by parent.
    let pay = got
        .iter()
        .find(|s| s.trace == trace && s.name == "POST /v1/charges")
        .unwrap();
    let expected: [(&NameIs, &str, i32); 7] = [
        (&|n| n == "POST /v1/charges", "baedal-payment", SERVER),
        (&|n| n == "POST payment", "baedal-worker", CLIENT),
        (
            &|n| n.starts_with("RunActivity:") && n.ends_with("charge"),
            "baedal-worker",
            SERVER,
        ),
        (
            &|n| n.starts_with("StartActivity:") && n.ends_with("charge"),
            "baedal-worker",
            CLIENT,
        ),
        (
            &|n| n == "RunWorkflow:OrderWorkflow",
            "baedal-worker",
            SERVER,
        ),
        (
            &|n| n == "UpdateWithStartWorkflow:OrderWorkflow",
            "baedal-api-order",
            CLIENT,
        ),
        (&|n| n == "POST /v1/orders", "baedal-api-order", SERVER),
    ];
    let mut at = pay;
    for (i, (name, service, kind)) in expected.iter().enumerate() {
        assert!(
            name(&at.name) && at.service == *service && at.kind == *kind,
            "link {i} of the chain is {} [{}] kind {}; the trace:\n{}",
            at.name,
            at.service,
            at.kind,
            show()
        );
        if i + 1 < expected.len() {
            at = by_id.get(at.parent.as_str()).unwrap_or_else(|| {
                panic!(
                    "{} has no parent in the trace (parent {}):\n{}",
                    at.name,
                    at.parent,
                    show()
                )
            });
        }
    }
    assert!(at.parent.is_empty(), "the api's request span is the root");
    assert_ne!(trace, FOREIGN_TRACE, "the caller's traceparent is ignored");
    assert_eq!(
        at.attrs.get("http.route").map(String::as_str),
        Some("/v1/orders")
    );
    assert_eq!(
        at.attrs
            .get("http.response.status_code")
            .map(String::as_str),
        Some("201")
    );
    assert_eq!(
        pay.attrs
            .get("http.response.status_code")
            .map(String::as_str),
        Some("201")
    );

    // The notification service's span of the order's notices hangs under the same run.
    let notified = got
        .iter()
        .filter(|s| s.trace == trace && s.name == "POST /v1/notifications")
        .find(|s| {
            let mut up = Some(*s);
            while let Some(span) = up {
                if span.id == run.id {
                    return true;
                }
                up = by_id.get(span.parent.as_str()).copied();
            }
            false
        });
    let notified =
        notified.unwrap_or_else(|| panic!("no notification span under the run span:\n{}", show()));
    assert_eq!(notified.service, "baedal-notification");
    assert_eq!(notified.kind, SERVER);

    // The cancel is a request, and a trace, of its own: its update's handler in the worker is
    // the child of the api's update call.
    let cancel = got
        .iter()
        .find(|s| s.name == "POST /v1/orders/{id}/cancel" && s.service == "baedal-api-order")
        .expect("the cancel request's span");
    let update = got
        .iter()
        .find(|s| s.parent == cancel.id && s.name == "StartWorkflowUpdate:cancel")
        .expect("the cancel's update call under its request");
    let handled = got
        .iter()
        .find(|s| s.name == "HandleUpdate:cancel")
        .expect("the cancel's handler span");
    assert_eq!(
        (
            handled.trace.as_str(),
            handled.parent.as_str(),
            handled.service.as_str()
        ),
        (cancel.trace.as_str(), update.id.as_str(), "baedal-worker"),
        "the handler continues the cancel's trace"
    );

    if let Some(version) = std::env::var_os("BAEDAL_RECORD_HISTORIES") {
        record(
            &c,
            &id,
            &format!("canceled_traced-{}", version.to_string_lossy()),
        )
        .await;
    }

    let log = std::fs::read_to_string(c.dir.join("worker.log")).unwrap_or_default();
    assert!(
        !log.contains("unsealed payload"),
        "the worker refused a header as unsealed:\n{log}"
    );
}

/// Save order `id`'s history, as the server holds it, as
/// `workflows/tests/histories/<name>.json` for the replay test.
async fn record(c: &Cluster, id: &str, name: &str) {
    let port = c.setting("BAEDAL_TEMPORAL_PORT").unwrap();
    let client = baedal::system::connect_temporal(
        &format!("http://127.0.0.1:{port}"),
        "default",
        Duration::from_secs(10),
        None,
    )
    .await
    .unwrap();
    let json = client
        .get_workflow_handle::<baedal_workflows::OrderWorkflow>(id.to_owned())
        .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .unwrap();
    let path = format!(
        "{}/../workflows/tests/histories/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::write(&path, json).unwrap();
}

async fn metrics_of(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .unwrap()
}

/// After one order, each role's `/metrics` carries its families: the worker the SDK's own
/// (`temporal_*`: slots, pollers, schedule-to-start, the sticky cache, its polls) beside
/// baedal's; every HTTP role the RED metrics with the route's template as `route` (never an
/// order id); the notification service its webhook backlog; the api its Temporal client's
/// calls.
#[tokio::test]
async fn every_roles_metrics_carry_their_families_after_an_order() {
    baedal_activities::install_crypto_provider();
    let _turn = crate::ONE_CLUSTER_AT_A_TIME.lock().await;
    let mut c = Cluster::new("metrics");
    let mut admin = HashMap::new();
    for part in [Part::OrderApi, Part::Payment, Part::Notify] {
        let addr = format!("127.0.0.1:{}", baedal::devserver::free_local_port());
        c.set_part_env(part, "BAEDAL_METRICS_ADDR", &addr);
        admin.insert(part, format!("http://{addr}"));
    }
    start(
        &mut c,
        &[
            Part::Temporal,
            Part::Payment,
            Part::Notify,
            Part::Worker,
            Part::OrderApi,
        ],
    )
    .await;

    let cust = token("customer", "metrics-cust", None);
    let (s, order) = post(&c.order_api, &cust, "/v1/orders", Some(order_body())).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .get(format!("{}/v1/orders/{id}", c.order_api))
        .bearer_auth(&cust)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let expect = |role: &str, text: &str, families: &[&str]| {
        for f in families {
            assert!(
                text.contains(f),
                "{role}: {f} missing from /metrics:\n{text}"
            );
        }
    };
    // The notices of the order reach the notification service soon after its answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    let notify = loop {
        let text = metrics_of(&admin[&Part::Notify]).await;
        if text.contains(r#"route="/v1/notifications",method="POST",status="201""#)
            || Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    expect(
        "notification",
        &notify,
        &[
            r#"baedal_http_requests_total{route="/v1/notifications",method="POST",status="201"}"#,
            r#"baedal_http_request_duration_seconds_bucket{route="/v1/notifications",method="POST",le="0.005"}"#,
            "baedal_webhook_deliveries_owed ",
            "baedal_webhook_oldest_owed_seconds ",
        ],
    );
    let worker = metrics_of(&c.worker_admin).await;
    expect(
        "worker",
        &worker,
        &[
            r#"temporal_worker_task_slots_available{namespace="default",task_queue="baedal-orders",worker_type="WorkflowWorker"}"#,
            "temporal_worker_task_slots_used{",
            "temporal_num_pollers{",
            "temporal_sticky_cache_size{",
            "temporal_workflow_task_schedule_to_start_latency_seconds_bucket{",
            "temporal_workflow_task_execution_latency_seconds_bucket{",
            "temporal_long_request_total{",
            "temporal_request_total{",
            "temporal_local_activity_execution_latency_seconds_bucket{",
            "baedal_payment_charges_total{",
            "baedal_projection_lag_seconds_bucket{",
            "baedal_refunds_pending ",
        ],
    );
    let api = metrics_of(&admin[&Part::OrderApi]).await;
    expect(
        "api",
        &api,
        &[
            r#"baedal_http_requests_total{route="/v1/orders",method="POST",status="201"} 1"#,
            r#"baedal_http_requests_total{route="/v1/orders/{id}",method="GET",status="200"} 1"#,
            r#"baedal_http_request_duration_seconds_bucket{route="/v1/orders",method="POST",le="+Inf"} 1"#,
            "baedal_place_order_total{",
            "temporal_request_total{",
        ],
    );
    assert!(!api.contains(&id), "an order id in a label:\n{api}");
    let payment = metrics_of(&admin[&Part::Payment]).await;
    expect(
        "payment",
        &payment,
        &[r#"baedal_http_requests_total{route="/v1/charges",method="POST",status="201"}"#],
    );
    for (role, text) in [
        ("api", &api),
        ("payment", &payment),
        ("notification", &notify),
    ] {
        assert!(
            !text.contains("temporal_worker_task_slots"),
            "{role} runs no worker:\n{text}"
        );
    }
}
