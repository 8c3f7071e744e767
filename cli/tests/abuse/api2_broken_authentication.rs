//! API2:2023 Broken Authentication. Probed: with a JWKS configured, an ops token signed with
//! the shared secret (HS256) got 200; a key the provider withdrew stayed trusted; a 10-year
//! token was accepted; the JWKS could be fetched over plain http.

use crate::prod::{self, http, idp_token, prod};
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

async fn ops_read(token: &str) -> (StatusCode, serde_json::Value) {
    let r = http()
        .get(format!("{}/v1/ops/payment", prod().api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn with_a_jwks_a_shared_secret_ops_token_is_refused() {
    let p = prod();
    // The provider's own ops token works.
    let (status, _) = ops_read(&prod::token("ops", "op-1", None)).await;
    assert_eq!(status, StatusCode::OK);
    // An ops token forged with the shared secret every api and service pod holds.
    let forged = baedal_auth::TokenKeys::with_expected(
        prod::JWT_SECRET,
        baedal_auth::Expected {
            issuer: prod::ISSUER.into(),
            audience: prod::AUDIENCE.into(),
        },
    )
    .sign(&baedal_auth::Claims {
        sub: "mallory".into(),
        role: baedal_auth::Role::Ops,
        store_id: None,
        exp: jsonwebtoken::get_current_timestamp() + 600,
    });
    let (status, body) = ops_read(&forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    // The services refuse it too.
    let r = http()
        .get(format!("{}/v1/payments?order_id=x", p.payment))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_key_the_provider_withdraws_stops_being_trusted_after_max_age() {
    let p = prod();
    p.idp_keys.lock().unwrap().push(prod::jwk("rsa-b"));
    let now = jsonwebtoken::get_current_timestamp();
    let signed_b = idp_token(
        "rsa-b",
        "key-b",
        json!({"sub": "op-b", "role": "ops", "iat": now, "exp": now + 3600}),
    );
    // Trusted while published (the set may need a moment to be refetched).
    let deadline = Instant::now() + Duration::from_secs(10);
    while ops_read(&signed_b).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "key-b never trusted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Withdrawn: no token with an unknown kid comes along, yet within max-age (1 s) and a
    // margin the key is no longer trusted.
    p.idp_keys.lock().unwrap().retain(|k| k["kid"] != "key-b");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = ops_read(&signed_b).await;
        if status == StatusCode::UNAUTHORIZED {
            assert!(!body.to_string().contains(&p.idp_url), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a withdrawn key is still trusted 10 s after a max-age of 1 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_ten_year_token_is_refused() {
    let now = jsonwebtoken::get_current_timestamp();
    let ten_years = 10 * 365 * 24 * 3600;
    for claims in [
        json!({"sub": "c-10y", "role": "customer", "iat": now, "exp": now + ten_years}),
        // Without iat, judged by what is left of it.
        json!({"sub": "c-10y", "role": "customer", "exp": now + ten_years}),
        // Probed in review: an hour's token "issued" ten years from now.
        json!({"sub": "c-10y", "role": "customer", "iat": now + ten_years, "exp": now + ten_years + 3600}),
    ] {
        let t = idp_token("rsa-a", "key-a", claims);
        let r = http()
            .get(format!("{}/v1/orders", prod().api))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("lives longer"),
            "{body}"
        );
    }
}

/// Outside `baedal dev`, a role refuses to start when the identity provider, the KakaoTalk
/// gateway or the PSP would be reached over plain http; the error names the setting.
#[test]
fn plain_http_identity_provider_gateway_and_psp_are_refused_at_start() {
    let good = "s".repeat(40);
    let key = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let cases: [(&str, (&str, &str)); 3] = [
        (
            "api",
            (
                "BAEDAL_JWT_JWKS_URL",
                "http://idp.example/.well-known/jwks.json",
            ),
        ),
        (
            "notify",
            ("BAEDAL_KAKAO_URL", "http://kakao.example/v2/send"),
        ),
        ("worker", ("BAEDAL_PAYMENT_URL", "http://psp.example.com")),
    ];
    for (role, (name, url)) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_baedal"))
            .env("BAEDAL_JWT_SECRET", &good)
            .env("BAEDAL_SERVICE_TOKEN", &good)
            .env("BAEDAL_PAYMENT_TOKEN", "p".repeat(40))
            .env("BAEDAL_PAYLOAD_KEY", key)
            .env("BAEDAL_KAKAO_KEY", "k")
            .env("BAEDAL_KAKAO_SENDER", "s")
            .env(
                "BAEDAL_DATA_DIR",
                std::env::temp_dir().join("baedal-https-test"),
            )
            .env(name, url)
            .arg(role)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{role} started with {name}={url}");
        assert!(
            stderr.contains(name) && stderr.contains("https"),
            "{role}: the error should say {name} must be https: {stderr}"
        );
    }
}
