//! The codec server speaks Temporal's remote codec protocol: what it encodes it decodes, what
//! it decodes is the original, and the Web UI's origin (only) may call it from a browser.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baedal_codec::{EncryptionCodec, PayloadKeys, server};
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const UI: &str = "http://localhost:8233";

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    let app = server::router(
        EncryptionCodec::new(PayloadKeys::parse(KEY).unwrap()),
        Some(UI),
    );
    let req = Request::post(path)
        .header("content-type", "application/json")
        .header("x-namespace", "default")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn encode_then_decode_gives_back_the_payload() {
    let original = json!({"payloads": [{
        "metadata": {"encoding": b64("json/plain")},
        "data": b64(r#"{"card_token":"tok_ok"}"#),
    }]});
    let (status, sealed) = post("/encode", original.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let p = &sealed["payloads"][0];
    assert_eq!(p["metadata"]["encoding"], b64("binary/encrypted"));
    assert_eq!(p["metadata"]["encryption-key-id"], b64("k1"));
    assert!(!p["data"].as_str().unwrap().contains(&b64("tok_ok")[..6]));
    let (status, opened) = post("/decode", sealed).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(opened, original);
}

#[tokio::test]
async fn garbage_is_a_clear_422() {
    let (status, body) = post(
        "/decode",
        json!({"payloads": [{"metadata": {"encoding": "%%%"}, "data": ""}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_payloads");
}

#[tokio::test]
async fn the_web_ui_may_call_it_from_the_browser_and_others_may_not() {
    let app = server::router(
        EncryptionCodec::new(PayloadKeys::parse(KEY).unwrap()),
        Some(UI),
    );
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/decode")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-namespace")
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.clone().oneshot(preflight(UI)).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], UI);
    let twin = "http://127.0.0.1:8233";
    let ok = app.clone().oneshot(preflight(twin)).await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], twin);
    let other = app.oneshot(preflight("http://evil.example")).await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
