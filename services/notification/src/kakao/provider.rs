//! The message provider's side of the KakaoTalk channel: one request per message, and what
//! each answer means ([`classify`]: sent, try again later, or give up).

use super::{Due, KakaoSettings};
use crate::engine;
use serde_json::json;
use std::time::Duration;

/// What the provider's answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Delivered, by `channel` (`alimtalk`, or `sms` for the fallback).
    Sent { channel: String },
    /// Worth another attempt (the provider or the network failed, or it asked us to slow down).
    Retry {
        code: String,
        error: String,
        retry_after: Option<Duration>,
    },
    /// Another attempt would fail the same way: a bad number, template or sender key.
    GiveUp { code: String, error: String },
}

/// Classify the provider's answer: its HTTP status and body (`{"code", "message", "channel"}`).
///
/// KakaoTalk business-message codes: `0000` sent; `3008` invalid phone number, `3016`
/// template mismatch, `3018` cannot be sent (no KakaoTalk, or the channel is blocked, and no
/// SMS either), `1003` invalid sender key, `1021`..`1024` the channel blocked or deleted: give
/// up. `9999` (the provider's own failure), HTTP 429 and 5xx: try again, not before
/// `Retry-After`. A refused key (401/403) is given up too: every message would fail until an
/// operator fixes `BAEDAL_KAKAO_KEY`, and status messages are stale by then.
pub fn classify(http: u16, body: &serde_json::Value, retry_after: Option<Duration>) -> Answer {
    let code = body["code"].as_str().unwrap_or_default().to_owned();
    let said = body["message"].as_str().unwrap_or_default();
    let error = |what: &str| format!("{what} (HTTP {http}, code {code:?}: {said})");
    if http == 429 || http >= 500 || code == "9999" {
        return Answer::Retry {
            error: error("the provider failed or is busy"),
            code,
            retry_after,
        };
    }
    if (200..300).contains(&http) && code == "0000" {
        return Answer::Sent {
            channel: body["channel"].as_str().unwrap_or("alimtalk").to_owned(),
        };
    }
    let why = match code.as_str() {
        "3008" => "not a valid phone number",
        "3016" => "the template does not match the approved one",
        "3018" => "the recipient can receive neither KakaoTalk nor SMS",
        "1003" => "the sender key is invalid: check BAEDAL_KAKAO_SENDER",
        "1021" | "1022" | "1023" | "1024" => "the KakaoTalk channel is blocked or deleted",
        _ if http == 401 || http == 403 => "the provider refused the key: check BAEDAL_KAKAO_KEY",
        _ if (400..500).contains(&http) => "the provider refused the request",
        _ => {
            return Answer::Retry {
                error: error("an answer the adapter does not know"),
                code,
                retry_after,
            };
        }
    };
    Answer::GiveUp {
        error: error(why),
        code,
    }
}

/// One attempt at sending `m` through the provider.
pub(super) async fn send(client: &reqwest::Client, settings: &KakaoSettings, m: &Due) -> Answer {
    let variables: serde_json::Value =
        serde_json::from_str(&m.variables).unwrap_or_else(|_| json!({}));
    let body = json!({
        "sender_key": settings.sender,
        "template_code": m.template_code,
        "recipient": crate::channels::national(&m.phone).replace('-', ""),
        "message": m.text,
        "variables": variables,
        "fallback": {"type": "SMS", "message": m.fallback},
        "message_id": m.id,
    });
    let sent = client
        .post(&settings.url)
        .bearer_auth(&settings.key)
        .header("Idempotency-Key", &m.id)
        .json(&body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            return Answer::Retry {
                code: String::new(),
                error: format!("could not reach the provider: {e}"),
                retry_after: None,
            };
        }
    };
    let http = resp.status().as_u16();
    let retry_after = engine::retry_after(resp.headers());
    let body = resp
        .json::<serde_json::Value>()
        .await
        .unwrap_or(serde_json::Value::Null);
    classify(http, &body, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_answers_map_to_sent_retry_or_give_up() {
        let body = |code: &str| json!({"code": code, "message": "m", "channel": "sms"});
        assert_eq!(
            classify(200, &body("0000"), None),
            Answer::Sent {
                channel: "sms".into()
            }
        );
        for (http, code) in [
            (200, "3008"),
            (200, "3016"),
            (200, "3018"),
            (400, "1003"),
            (200, "1022"),
            (401, ""),
            (400, ""),
        ] {
            assert!(
                matches!(classify(http, &body(code), None), Answer::GiveUp { .. }),
                "{http} {code}"
            );
        }
        let ra = Some(Duration::from_secs(7));
        for (http, code) in [
            (500, ""),
            (503, "9999"),
            (429, ""),
            (200, "9999"),
            (200, "7777"),
        ] {
            match classify(http, &body(code), ra) {
                Answer::Retry { retry_after, .. } => assert_eq!(retry_after, ra),
                other => panic!("{http} {code}: {other:?}"),
            }
        }
    }
}
