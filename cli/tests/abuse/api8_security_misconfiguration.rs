//! API8:2023 Security Misconfiguration. Probed: no security headers; a caller-chosen
//! `x-request-id` echoed and logged; error bodies naming the JWKS URL and internal addresses;
//! a half-sent request holding a connection for 45 s; `/metrics` on the public api port; the
//! production `/openapi.json` documenting `/v1/dev/tokens`.

use crate::prod::{self, HEADER_READ_TIMEOUT, http, prod};
use reqwest::StatusCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn security_headers_on_every_answer_and_no_store_on_personal_ones() {
    let p = prod();
    let public = http()
        .get(format!("{}/v1/stores", p.api))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.headers()["x-content-type-options"], "nosniff");
    assert!(public.headers().get("strict-transport-security").is_none());

    let customer = prod::token("customer", &prod::unique("cust"), None);
    let personal = http()
        .get(format!("{}/v1/orders", p.api))
        .bearer_auth(&customer)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(personal.status(), StatusCode::OK);
    assert_eq!(personal.headers()["cache-control"], "no-store");
    assert_eq!(personal.headers()["x-content-type-options"], "nosniff");
    assert!(
        personal.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    // Errors too, and the services' answers.
    let missing = http()
        .get(format!("{}/v1/orders/nope", p.api))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.headers()["cache-control"], "no-store");
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
    let service = http()
        .get(format!("{}/v1/payments?order_id=x", p.payment))
        .bearer_auth(prod::SERVICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(service.headers()["cache-control"], "no-store");
    assert_eq!(service.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn only_plain_request_ids_are_echoed() {
    let p = prod();
    let echo = |id: String| async move {
        let r = http()
            .get(format!("{}/v1/stores", p.api))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        r.headers()["x-request-id"].to_str().unwrap().to_owned()
    };
    assert_eq!(echo("trace-1.a_B".into()).await, "trace-1.a_B");
    for bad in [
        "<script>alert(1)</script>".to_owned(),
        "a b".to_owned(),
        "x".repeat(65),
        "id\" level=ERROR msg=\"forged".to_owned(),
    ] {
        let got = echo(bad.clone()).await;
        assert_ne!(got, bad);
        assert!(
            !got.is_empty()
                && got.len() <= 64
                && got
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{got}"
        );
    }
}

#[tokio::test]
async fn a_half_sent_request_is_dropped_within_the_header_read_timeout() {
    let p = prod();
    let addr = p.api.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"GET /v1/stores HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The server closes the connection (EOF, or a reset) once the timeout passes.
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(HEADER_READ_TIMEOUT + Duration::from_secs(5), async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a half-sent request still holds its connection"
    );
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let r = http()
        .get(format!("{}/v1/stores", prod().api))
        .header("x-padding", "a".repeat(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[tokio::test]
async fn metrics_are_on_the_metrics_address_only() {
    let p = prod();
    let on_api = http()
        .get(format!("{}/metrics", p.api))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let on_metrics = http()
        .get(format!("{}/metrics", p.metrics))
        .send()
        .await
        .unwrap();
    assert_eq!(on_metrics.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_production_document_lists_no_dev_routes_and_they_are_not_served() {
    let p = prod();
    let doc: serde_json::Value = http()
        .get(format!("{}/openapi.json", p.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/v1/orders"].is_object());
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(!paths.iter().any(|p| p.starts_with("/v1/dev")), "{paths:?}");
    let r = http()
        .post(format!("{}/v1/dev/tokens", p.api))
        .json(&serde_json::json!({"role": "ops", "sub": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors_do_not_name_the_identity_provider_or_internal_addresses() {
    let p = prod();
    // A token under a key the provider does not publish makes the api ask the provider.
    let now = jsonwebtoken::get_current_timestamp();
    let t = prod::idp_token(
        "rsa-b",
        "key-unknown",
        serde_json::json!({"sub": "x", "role": "ops", "iat": now, "exp": now + 60}),
    );
    let r = http()
        .get(format!("{}/v1/ops/payment", p.api))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body = r.text().await.unwrap();
    let idp_host = p
        .idp_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap();
    assert!(!body.contains(idp_host) && !body.contains("jwks"), "{body}");
}
