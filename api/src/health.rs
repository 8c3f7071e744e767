//! `/healthz` and `/readyz`: served by every role. `/metrics` is not here: it is served on the
//! metrics address only (BAEDAL_METRICS_ADDR), never on the public api port.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use baedal_http::readiness::{Probe, Readiness, ReadinessSettings};
use serde_json::Value;
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

/// Ready when what the api cannot serve without answered lately: Temporal and the read model
/// (checked in the background, [`watch`]; answering makes no call). Not the payment or
/// notification services: orders are taken while notifications are down (they are delivered
/// later), and a payment outage is the breaker's and the door's to answer (503 with
/// Retry-After on place-order), not a reason to take every api replica out of rotation.
#[utoipa::path(get, path = "/readyz", responses((status = 200), (status = 503)))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    state.readiness.answer()
}

/// The readiness of a role that serves from the read model and Temporal (the apis and the
/// worker): the read model answers a ping, and Temporal's frontend answers `GetSystemInfo`,
/// which it serves from memory. Never a visibility query: a COUNT over every retained order is
/// a sequential scan on Temporal's SQL visibility store, which grows with the retention until
/// it passes the probe's timeout on every replica at once.
pub fn watch(
    read_model: &baedal_readmodel::ReadModel,
    temporal: &temporalio_client::Client,
) -> Readiness {
    let rm = read_model.clone();
    let read_model: Probe = Box::new(move || {
        let rm = rm.clone();
        Box::pin(async move { rm.ping().await.is_ok() })
    });
    let t = temporal.clone();
    let temporal: Probe = Box::new(move || {
        let t = t.clone();
        Box::pin(async move { temporal_answers(&t).await })
    });
    Readiness::watch(
        vec![("read_model", read_model), ("temporal", temporal)],
        ReadinessSettings::default(),
    )
}

/// Whether Temporal's frontend answers `GetSystemInfo` on this client's connection.
async fn temporal_answers(temporal: &temporalio_client::Client) -> bool {
    use temporalio_client::tonic::Request;
    use temporalio_protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
    temporal
        .connection()
        .workflow_service()
        .get_system_info(Request::new(GetSystemInfoRequest::default()))
        .await
        .is_ok()
}
