//! API7:2023 Server Side Request Forgery. Probed: a hook at a 6to4, Teredo or NAT64 address
//! (which tunnel or translate to any IPv4 address, private ones included) was accepted. The
//! ranges themselves are unit-tested in `services/notification/src/ssrf.rs`; here, the
//! notification service's door refuses them, without naming what a name resolved to.

use crate::prod::{http, prod};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn register(url: &str) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}/v1/hooks", prod().notify))
        .bearer_auth(crate::prod::SERVICE_TOKEN)
        .header("x-baedal-owner", "store:st_1")
        .json(&json!({"url": url, "events": ["*"]}))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn hooks_at_transition_ranges_are_refused() {
    for (url, range) in [
        // 6to4 of 10.0.0.1, Teredo, NAT64 of 10.0.0.1 and of a public address, local NAT64.
        ("https://[2002:a00:1::1]/hook", "6to4"),
        (
            "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook",
            "Teredo",
        ),
        ("https://[64:ff9b::a00:1]/hook", "NAT64"),
        ("https://[64:ff9b::808:808]/hook", "NAT64"),
        ("https://[64:ff9b:1::a00:1]/hook", "NAT64"),
    ] {
        let (status, body) = register(url).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        assert_eq!(body["error"]["code"], "invalid_hook_url", "{url}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(range),
            "{url}: {body}"
        );
    }
}

/// A refused name reads the same whether it resolved to an internal address or not at all:
/// neither the address nor that the name exists inside is told (probed in review: the two
/// answers told internal names apart, about ten a minute).
#[tokio::test]
async fn a_refusal_does_not_name_the_internal_address_a_name_resolved_to() {
    let (status, body) = register("https://localhost/hook").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("::1"),
        "{message}"
    );
    let (status, body) = register("https://no-such-host.invalid/hook").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let unresolved = body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message.replace("localhost", "HOST"),
        unresolved.replace("no-such-host.invalid", "HOST")
    );
}
