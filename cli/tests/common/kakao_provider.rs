//! A local stand-in for a KakaoTalk business-message gateway (the one thing of the KakaoTalk
//! channel that cannot run here): it checks the API key and sender key as a gateway would,
//! keeps every request it gets, and answers by recipient number the way the real ones do:
//!
//! - `01000000001` has no KakaoTalk: the fallback goes out as an SMS (`"channel": "sms"`);
//! - `01000000002` is not a valid number: code `3008`;
//! - `01000000003`: the gateway fails (503) the first time it sees a message, then sends it;
//! - any other number: sent as AlimTalk.
//!
//! `01000000002` stands for a number cancelled after its owner proved it: a one-time code
//! (template `BAEDAL_PHONE_VERIFY`) still reaches it, the status messages after it do not.
//!
//! A repeated `Idempotency-Key` is answered as the first time and not sent again, as gateways
//! that take one do. `GET /requests` lists what it got (for tests on another runtime);
//! `PUT /down` with `true` makes it answer 503 to everything until `false`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const KEY: &str = "test-kakao-key";
pub const SENDER: &str = "test-sender-key";
pub const NO_KAKAO: &str = "01000000001";
pub const INVALID: &str = "01000000002";
pub const FLAKY: &str = "01000000003";
/// The template of the one-time codes that prove a number.
pub const VERIFY_TEMPLATE: &str = "BAEDAL_PHONE_VERIFY";

/// The last one-time code the gateway at `base` got for `number` (any common spelling), as
/// its owner reads it off their phone.
pub async fn code_for(base: &str, number: &str) -> Option<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix("82") {
        Some(rest) if number.trim_start().starts_with('+') => format!("0{rest}"),
        _ => digits,
    };
    let all: Vec<Value> = reqwest::get(format!("{base}/requests"))
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    all.iter()
        .rev()
        .find(|r| {
            r["body"]["template_code"] == VERIFY_TEMPLATE && r["body"]["recipient"] == national
        })
        .and_then(|r| {
            r["body"]["variables"]["인증번호"]
                .as_str()
                .map(str::to_owned)
        })
}

#[derive(Default)]
struct Seen {
    /// Every request: `{"idempotency_key", "authorization", "body"}`.
    requests: Vec<Value>,
    /// Answers by idempotency key (what a repeat gets).
    answered: HashMap<String, (u16, Value)>,
    down: bool,
}

type Shared = Arc<Mutex<Seen>>;

/// Serve the fake gateway on `listener`; its send URL is `<base>/v2/alimtalk/send`.
pub async fn serve(listener: tokio::net::TcpListener) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/v2/alimtalk/send", post(send))
        .route("/requests", get(requests))
        .route("/down", axum::routing::put(set_down))
        .with_state(seen);
    axum::serve(listener, app).await.unwrap();
}

async fn set_down(State(seen): State<Shared>, Json(down): Json<bool>) -> StatusCode {
    seen.lock().unwrap().down = down;
    StatusCode::NO_CONTENT
}

async fn requests(State(seen): State<Shared>) -> Json<Value> {
    Json(Value::Array(seen.lock().unwrap().requests.clone()))
}

async fn send(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let key = header("idempotency-key");
    let mut seen = seen.lock().unwrap();
    let first_time = !seen.requests.iter().any(|r| r["idempotency_key"] == key);
    seen.requests.push(json!({
        "idempotency_key": key,
        "authorization": header("authorization"),
        "body": body,
    }));
    if header("authorization") != format!("Bearer {KEY}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": "1001", "message": "invalid api key"})),
        );
    }
    if seen.down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"code": "9999", "message": "down"})),
        );
    }
    if let Some((code, answer)) = seen.answered.get(&key) {
        return (StatusCode::from_u16(*code).unwrap(), Json(answer.clone()));
    }
    let to = body["recipient"].as_str().unwrap_or_default();
    let (code, answer) = if body["sender_key"] != SENDER {
        (400, json!({"code": "1003", "message": "InvalidSenderKey"}))
    } else if to == INVALID && body["template_code"] != VERIFY_TEMPLATE {
        (
            200,
            json!({"code": "3008", "message": "InvalidPhoneNumber"}),
        )
    } else if to == FLAKY && first_time {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"code": "9999", "message": "try again"})),
        );
    } else if to == NO_KAKAO {
        (
            200,
            json!({"code": "0000", "message": "sent by SMS", "channel": "sms"}),
        )
    } else {
        (
            200,
            json!({"code": "0000", "message": "sent", "channel": "alimtalk"}),
        )
    };
    seen.answered.insert(key, (code, answer.clone()));
    (StatusCode::from_u16(code).unwrap(), Json(answer))
}
