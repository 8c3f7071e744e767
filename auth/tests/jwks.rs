//! RS256/ES256 tokens verified against a real JWKS server on a local port: keys chosen by `kid`,
//! cached, refetched when the provider rotates, never used for the wrong algorithm.

use axum::Router;
use axum::routing::get;
use baedal_auth::{AuthError, Claims, Expected, Identity, Jwks, Role, TokenKeys};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn jwk(name: &str) -> Value {
    let path = format!("{}/tests/keys/{name}.jwk.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/keys/{name}.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A token as the identity provider would sign it.
fn provider_token(alg: Algorithm, key: &str, kid: &str, aud: &str) -> String {
    let enc = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem(key)).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem(key)).unwrap(),
        other => panic!("{other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    let claims = json!({
        "sub": "idp-user-1", "role": "ops",
        "exp": jsonwebtoken::get_current_timestamp() + 600,
        "iss": "https://idp.example", "aud": aud,
    });
    jsonwebtoken::encode(&header, &claims, &enc).unwrap()
}

struct Provider {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn provider(keys: Vec<Value>) -> Provider {
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (k, f) = (keys.clone(), fetches.clone());
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            f.fetch_add(1, Ordering::SeqCst);
            let body = json!({"keys": *k.lock().unwrap()});
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { url, keys, fetches }
}

fn identity(url: &str) -> Identity {
    let expected = Expected {
        issuer: "https://idp.example".into(),
        audience: "baedal-api".into(),
    };
    Identity::new(TokenKeys::with_expected(
        "a-shared-secret-of-at-least-32-bytes!!",
        expected,
    ))
    .with_jwks(Jwks::new(url).min_refresh(Duration::ZERO))
}

#[tokio::test]
async fn provider_tokens_verify_by_kid_and_the_set_is_cached() {
    let idp = provider(vec![jwk("rsa-a"), jwk("ec-c")]).await;
    let id = identity(&idp.url);

    let rs = provider_token(Algorithm::RS256, "rsa-a", "key-a", "baedal-api");
    let claims = id.verify(&rs).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.role),
        ("idp-user-1", Role::Ops)
    );
    let es = provider_token(Algorithm::ES256, "ec-c", "key-c", "baedal-api");
    assert_eq!(id.verify(&es).await.unwrap().role, Role::Ops);
    for _ in 0..5 {
        id.verify(&rs).await.unwrap();
    }
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        1,
        "one fetch serves every token"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_its_first_token_and_the_old_one_dropped() {
    let idp = provider(vec![jwk("rsa-a")]).await;
    let id = identity(&idp.url);
    let old = provider_token(Algorithm::RS256, "rsa-a", "key-a", "baedal-api");
    id.verify(&old).await.unwrap();

    *idp.keys.lock().unwrap() = vec![jwk("rsa-b")];
    let new = provider_token(Algorithm::RS256, "rsa-b", "key-b", "baedal-api");
    assert_eq!(id.verify(&new).await.unwrap().sub, "idp-user-1");
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        id.verify(&old).await,
        Err(AuthError::UnknownKey("key-a".into()))
    );
}

#[tokio::test]
async fn unknown_kids_do_not_flood_the_provider() {
    let idp = provider(vec![jwk("rsa-a")]).await;
    let expected = Expected {
        issuer: "https://idp.example".into(),
        audience: "baedal-api".into(),
    };
    let id = Identity::new(TokenKeys::with_expected("s", expected)).with_jwks(Jwks::new(&idp.url));
    for i in 0..20 {
        let made_up = provider_token(
            Algorithm::RS256,
            "rsa-a",
            &format!("made-up-{i}"),
            "baedal-api",
        );
        assert!(matches!(
            id.verify(&made_up).await,
            Err(AuthError::UnknownKey(_))
        ));
    }
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn provider_tokens_are_held_to_algorithm_issuer_and_audience() {
    let idp = provider(vec![jwk("rsa-a"), jwk("ec-c")]).await;
    let id = identity(&idp.url);
    // An ES256 signature presented under the RSA key's kid.
    let confused = provider_token(Algorithm::ES256, "ec-c", "key-a", "baedal-api");
    assert_eq!(id.verify(&confused).await, Err(AuthError::Invalid));
    // Signed by the right key, meant for someone else.
    let elsewhere = provider_token(Algorithm::RS256, "rsa-a", "key-a", "another-api");
    assert_eq!(id.verify(&elsewhere).await, Err(AuthError::WrongAudience));
    // A provider token without a kid.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = None;
    let no_kid = jsonwebtoken::encode(
        &header,
        &json!({"sub": "x", "role": "ops", "exp": u64::MAX / 2}),
        &EncodingKey::from_rsa_pem(&pem("rsa-a")).unwrap(),
    )
    .unwrap();
    assert_eq!(id.verify(&no_kid).await, Err(AuthError::MissingKid));
}

#[tokio::test]
async fn without_a_jwks_url_provider_tokens_are_refused_and_hs256_still_works() {
    let keys = TokenKeys::new("a-shared-secret-of-at-least-32-bytes!!");
    let id = Identity::new(keys.clone());
    let rs = provider_token(Algorithm::RS256, "rsa-a", "key-a", "baedal-api");
    assert_eq!(id.verify(&rs).await, Err(AuthError::NoProviderKeys));
    let hs = keys.sign(&Claims {
        sub: "u".into(),
        role: Role::Customer,
        store_id: None,
        exp: jsonwebtoken::get_current_timestamp() + 60,
    });
    assert_eq!(id.verify(&hs).await.unwrap().sub, "u");
}

#[tokio::test]
async fn an_unreachable_provider_is_an_outage_not_a_bad_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let id = identity(&url);
    let rs = provider_token(Algorithm::RS256, "rsa-a", "key-a", "baedal-api");
    let e = id.verify(&rs).await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
}

/// A provider whose JWKS answer carries `Cache-Control: max-age=<max_age>`.
async fn provider_with_max_age(keys: Vec<Value>, max_age: u64) -> Provider {
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (k, f) = (keys.clone(), fetches.clone());
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            f.fetch_add(1, Ordering::SeqCst);
            let body = json!({"keys": *k.lock().unwrap()});
            async move {
                (
                    [("cache-control", format!("public, max-age={max_age}"))],
                    axum::Json(body),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { url, keys, fetches }
}

#[tokio::test]
async fn a_withdrawn_key_stops_being_trusted_once_the_set_expires() {
    let idp = provider_with_max_age(vec![jwk("rsa-a")], 1).await;
    let id = identity(&idp.url);
    let token = provider_token(Algorithm::RS256, "rsa-a", "key-a", "baedal-api");
    id.verify(&token).await.unwrap();
    // The provider withdraws the key; no token with an unknown kid comes along.
    *idp.keys.lock().unwrap() = vec![jwk("rsa-b")];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match id.verify(&token).await {
            Err(AuthError::UnknownKey(kid)) => {
                assert_eq!(kid, "key-a");
                break;
            }
            Ok(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("withdrawn key still trusted after max-age: {other:?}"),
        }
    }
    assert!(idp.fetches.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn with_a_provider_shared_secret_tokens_are_refused() {
    let idp = provider(vec![jwk("rsa-a")]).await;
    let id = identity(&idp.url);
    let forged_ops = id.keys().sign(&Claims {
        sub: "mallory".into(),
        role: Role::Ops,
        store_id: None,
        exp: jsonwebtoken::get_current_timestamp() + 60,
    });
    assert_eq!(
        id.verify(&forged_ops).await,
        Err(AuthError::SharedSecretRefused)
    );
}

#[tokio::test]
async fn tokens_living_longer_than_the_maximum_are_refused() {
    let idp = provider(vec![jwk("rsa-a")]).await;
    let id = identity(&idp.url);
    let enc = EncodingKey::from_rsa_pem(&pem("rsa-a")).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("key-a".into());
    let now = jsonwebtoken::get_current_timestamp();
    let year = 365 * 24 * 3600;
    let token = |claims: Value| jsonwebtoken::encode(&header, &claims, &enc).unwrap();
    let base =
        json!({"sub": "u", "role": "ops", "iss": "https://idp.example", "aud": "baedal-api"});
    let with = |extra: Value| {
        let mut v = base.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        token(v)
    };
    // Ten years, with and without iat.
    for t in [
        with(json!({"iat": now, "exp": now + 10 * year})),
        with(json!({"exp": now + 10 * year})),
    ] {
        assert!(matches!(
            id.verify(&t).await,
            Err(AuthError::LivesTooLong(_))
        ));
    }
    // An hour is fine.
    let hour = with(json!({"iat": now, "exp": now + 3600}));
    assert!(id.verify(&hour).await.is_ok());
}
