//! The remote codec server of Temporal's Web UI and CLI: `POST /encode` and `POST /decode` with
//! `{"payloads": [{"metadata": {k: base64}, "data": base64}]}` (the proto3 JSON of `Payloads`),
//! answered in the same shape. Whoever can reach it can read decoded payloads, so it binds to
//! loopback by default and is meant to run beside the person holding the key.

use crate::EncryptionCodec;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// One payload as the codec protocol writes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct JsonPayload {
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub data: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct JsonPayloads {
    #[serde(default)]
    pub payloads: Vec<JsonPayload>,
}

fn bad(message: impl Into<String>) -> Response {
    let body =
        serde_json::json!({"error": {"code": "invalid_payloads", "message": message.into()}});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

fn from_json(p: JsonPayload) -> Result<Payload, String> {
    let b64 = |s: &str| STANDARD.decode(s).map_err(|e| format!("not base64: {e}"));
    let mut metadata = HashMap::new();
    for (k, v) in p.metadata {
        metadata.insert(k, b64(&v)?);
    }
    Ok(Payload {
        metadata,
        data: b64(&p.data)?,
        ..Default::default()
    })
}

fn to_json(p: Payload) -> JsonPayload {
    JsonPayload {
        metadata: p
            .metadata
            .into_iter()
            .map(|(k, v)| (k, STANDARD.encode(v)))
            .collect(),
        data: STANDARD.encode(p.data),
    }
}

fn convert(
    body: JsonPayloads,
    f: impl Fn(Payload) -> Result<Payload, crate::CodecError>,
) -> Response {
    let mut out = Vec::with_capacity(body.payloads.len());
    for p in body.payloads {
        let payload = match from_json(p) {
            Ok(p) => p,
            Err(e) => return bad(e),
        };
        match f(payload) {
            Ok(p) => out.push(to_json(p)),
            Err(e) => return bad(e.to_string()),
        }
    }
    Json(JsonPayloads { payloads: out }).into_response()
}

async fn encode(State(codec): State<EncryptionCodec>, Json(body): Json<JsonPayloads>) -> Response {
    convert(body, |p| codec.seal(&p))
}

async fn decode(State(codec): State<EncryptionCodec>, Json(body): Json<JsonPayloads>) -> Response {
    convert(body, |p| codec.open(p))
}

/// The codec server's routes; a browser showing the Web UI at `web_ui` may call it (at
/// either spelling of a loopback address: `127.0.0.1` and `localhost`).
pub fn router(codec: EncryptionCodec, web_ui: Option<&str>) -> Router {
    let app = Router::new()
        .route("/encode", post(encode))
        .route("/decode", post(decode))
        .with_state(codec);
    let origins: Vec<HeaderValue> = web_ui
        .map(origins_of)
        .unwrap_or_default()
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    match origins.is_empty() {
        false => app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::POST, Method::OPTIONS])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::HeaderName::from_static("x-namespace"),
                ])
                .allow_credentials(true),
        ),
        true => app,
    }
}

/// The origins a browser may call from for the Web UI at `url`.
fn origins_of(url: &str) -> Vec<String> {
    let origin = url.trim_end_matches('/').to_owned();
    let twin = if origin.contains("://127.0.0.1") {
        Some(origin.replacen("://127.0.0.1", "://localhost", 1))
    } else if origin.contains("://localhost") {
        Some(origin.replacen("://localhost", "://127.0.0.1", 1))
    } else {
        None
    };
    std::iter::once(origin).chain(twin).collect()
}
