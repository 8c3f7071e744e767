//! `/healthz` and `/readyz`: served by every role. `/metrics` is not here: it is served on the
//! metrics address only (BAEDAL_METRICS_ADDR), never on the public api port.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use temporalio_client::WorkflowCountOptions;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "process up")))]
async fn healthz() -> Json<Value> {
    baedal_http::healthz().await
}

/// Ready when what the api cannot serve without answers: Temporal and the read model. Not the
/// payment or notification services: orders are taken while notifications are down (they are
/// delivered later), and a payment outage is the breaker's and the door's to answer (503 with
/// Retry-After on place-order), not a reason to take every api replica out of rotation.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.read_model.ping().await.is_ok();
    let temporal = temporal_answers(&state.temporal).await;
    baedal_http::readiness(&[("read_model", db), ("temporal", temporal)])
}

/// Whether Temporal answers a cheap visibility call in this client's namespace (the worker's
/// readiness uses it too).
pub async fn temporal_answers(temporal: &temporalio_client::Client) -> bool {
    temporal
        .count_workflows(
            "WorkflowType = 'OrderWorkflow'",
            WorkflowCountOptions::default(),
        )
        .await
        .is_ok()
}
