//! The HTTP contract's edges: authentication, object-level authorization, and bad input. Every
//! refusal must be a 4xx with the error shape and must change nothing.

use crate::common;

use common::{JWT_SECRET, system, unique};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn assert_error_shape(r: &common::Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{:?}", r.body);
    assert_eq!(r.code(), code, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error message missing: {:?}",
        r.body
    );
}

#[tokio::test]
async fn health_catalog_and_openapi() {
    let s = system();
    let h = s
        .call(&s.api, Method::GET, "/healthz", None, None, None)
        .await;
    assert_eq!(h.status, StatusCode::OK);
    // Ready once its background checks have passed (the first runs as the api starts).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ready = loop {
        let r = s
            .call(&s.api, Method::GET, "/readyz", None, None, None)
            .await;
        if r.status == StatusCode::OK || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(ready.status, StatusCode::OK, "{:?}", ready.body);
    assert_eq!(ready.body["ready"], true);

    let stores = s
        .call(&s.api, Method::GET, "/v1/stores", None, None, None)
        .await;
    let list = stores.body["stores"].as_array().unwrap();
    assert!(list.len() >= 6);
    let regions: std::collections::HashSet<_> =
        list.iter().map(|s| s["region"].as_str().unwrap()).collect();
    assert!(regions.len() >= 3);
    for key in ["id", "name", "region", "address", "lat", "lon"] {
        assert!(!list[0][key].is_null(), "store lacks {key}");
    }
    let mapo = s
        .call(
            &s.api,
            Method::GET,
            "/v1/stores?region=mapo",
            None,
            None,
            None,
        )
        .await;
    assert!(
        mapo.body["stores"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["region"] == "mapo")
    );
    let menu = s
        .call(
            &s.api,
            Method::GET,
            "/v1/stores/st_1/menu",
            None,
            None,
            None,
        )
        .await;
    let item = &menu.body["items"][0];
    assert!(item["price"].as_i64().unwrap() > 0 && item["available"] == true);
    let missing = s
        .call(
            &s.api,
            Method::GET,
            "/v1/stores/st_nope/menu",
            None,
            None,
            None,
        )
        .await;
    assert_error_shape(&missing, StatusCode::NOT_FOUND, "store_not_found");

    let doc = s
        .call(&s.api, Method::GET, "/openapi.json", None, None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["paths"]["/v1/orders"]["post"].is_object());
    assert!(doc.body["paths"]["/v1/rider/deliveries/{id}/claim"]["post"].is_object());

    let nowhere = s
        .call(&s.api, Method::GET, "/v1/nowhere", None, None, None)
        .await;
    assert_error_shape(&nowhere, StatusCode::NOT_FOUND, "route_not_found");
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_401() {
    let s = system();
    let body = Some(s.order_body(1, "tok_ok"));
    let none = s
        .call(
            &s.api,
            Method::POST,
            "/v1/orders",
            None,
            body.clone(),
            Some("k"),
        )
        .await;
    assert_error_shape(&none, StatusCode::UNAUTHORIZED, "unauthorized");

    let forged = baedal_auth::TokenKeys::new("not-the-secret").sign(&baedal_auth::Claims {
        sub: "mallory".into(),
        role: baedal_auth::Role::Ops,
        store_id: None,
        exp: u64::MAX / 2,
    });
    let r = s.get(&forged, "/v1/orders").await;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    let expired = baedal_auth::TokenKeys::new(JWT_SECRET).sign(&baedal_auth::Claims {
        sub: "late".into(),
        role: baedal_auth::Role::Customer,
        store_id: None,
        exp: 1_000,
    });
    let r = s.get(&expired, "/v1/orders").await;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    let elsewhere = baedal_auth::TokenKeys::with_expected(
        JWT_SECRET,
        baedal_auth::Expected {
            issuer: "another-system".into(),
            audience: baedal_auth::DEFAULT_AUDIENCE.into(),
        },
    )
    .sign(&baedal_auth::Claims {
        sub: "stranger".into(),
        role: baedal_auth::Role::Ops,
        store_id: None,
        exp: u64::MAX / 2,
    });
    let r = s.get(&elsewhere, "/v1/orders").await;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("iss/aud")
    );

    let header = jsonwebtoken::Header::default();
    let no_exp = jsonwebtoken::encode(
        &header,
        &json!({"sub": "forever", "role": "customer",
            "iss": baedal_auth::DEFAULT_ISSUER, "aud": baedal_auth::DEFAULT_AUDIENCE}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let r = s.get(&no_exp, "/v1/orders").await;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'exp'")
    );

    let garbage = s.get("garbage", "/v1/orders").await;
    assert_error_shape(&garbage, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn other_parties_orders_are_hidden_or_forbidden() {
    let s = system();
    let alice = s.token("customer", &unique("alice"), None).await;
    let bob = s.token("customer", &unique("bob"), None).await;
    let own_store = s.token("store_owner", &unique("o1"), Some("st_1")).await;
    let other_store = s.token("store_owner", &unique("o2"), Some("st_2")).await;
    let rider = s.token("rider", &unique("r"), None).await;
    let id = s.placed_order_on(&s.api, &alice).await;

    // Another customer: the order does not exist for them.
    assert_error_shape(
        &s.get(&bob, &format!("/v1/orders/{id}")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_error_shape(
        &s.post(&bob, &format!("/v1/orders/{id}/cancel")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert!(
        !s.get(&bob, "/v1/orders")
            .await
            .body
            .to_string()
            .contains(&id)
    );
    // Another store: not found either, and its board does not list it.
    assert_error_shape(
        &s.get(&other_store, &format!("/v1/orders/{id}")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_error_shape(
        &s.post(&other_store, &format!("/v1/store/orders/{id}/accept"))
            .await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert!(
        !s.get(&other_store, "/v1/store/orders")
            .await
            .body
            .to_string()
            .contains(&id)
    );
    // Wrong role for the endpoint: 403.
    assert_error_shape(
        &s.post(&alice, &format!("/v1/store/orders/{id}/accept"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error_shape(
        &s.post(&own_store, &format!("/v1/orders/{id}/cancel")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error_shape(
        &s.get(&alice, "/v1/rider/deliveries?lat=37.5&lon=127&radius_km=3")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error_shape(
        &s.post(&rider, &format!("/v1/store/orders/{id}/accept"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // A rider who is not assigned cannot pick it up or see it.
    assert_error_shape(
        &s.ride(&s.api, &rider, &id, "pickup").await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    assert_error_shape(
        &s.get(&rider, &format!("/v1/orders/{id}")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Nor claim an order that is not on the board, nor learn its status that way.
    let refused = s.ride(&s.api, &rider, &id, "claim").await;
    assert_error_shape(&refused, StatusCode::NOT_FOUND, "order_not_found");
    assert!(!refused.body.to_string().contains("placed"));

    // None of that changed anything.
    let order = s.get(&alice, &format!("/v1/orders/{id}")).await;
    assert_eq!(order.body["status"], "placed");
    assert_eq!(order.body["history"].as_array().unwrap().len(), 1);
    // The owner of the right store may.
    assert_eq!(
        s.post(&own_store, &format!("/v1/store/orders/{id}/accept"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_place_order_input_is_4xx_and_creates_nothing() {
    let s = system();
    let customer_id = unique("cust");
    let cust = s.token("customer", &customer_id, None).await;
    let cust_ref = cust.as_str();
    let raw = |body: &'static str, key: Option<&'static str>| async move {
        let mut req = reqwest::Client::new()
            .post(format!("{}/v1/orders", s.api))
            .bearer_auth(cust_ref)
            .header("content-type", "application/json")
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        common::Resp {
            status,
            body,
            retry_after: None,
        }
    };
    assert_error_shape(
        &raw("{not json", Some("k1")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_error_shape(
        &raw("", Some("k2")).await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_error_shape(
        &raw("{}", Some("k3")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    assert_error_shape(
        &raw(r#"{"store_id": 5}"#, Some("k4")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );

    let big = format!(r#"{{"store_id":"{}"}}"#, "x".repeat(100 * 1024));
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/orders", s.api))
        .bearer_auth(&cust)
        .header("content-type", "application/json")
        .header("Idempotency-Key", "k5")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    let good = s.order_body(1, "tok_ok");
    let missing_key = s
        .call(
            &s.api,
            Method::POST,
            "/v1/orders",
            Some(&cust),
            Some(good.clone()),
            None,
        )
        .await;
    assert_error_shape(
        &missing_key,
        StatusCode::BAD_REQUEST,
        "missing_idempotency_key",
    );

    let variants: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"items": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_items",
        ),
        (
            json!({"items": [{"menu_item_id": "mi_1_1", "quantity": 0}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
        ),
        (
            json!({"items": [{"menu_item_id": "mi_1_1", "quantity": 1000}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_quantity",
        ),
        (
            json!({"items": [{"menu_item_id": "mi_1_1", "quantity": -1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"delivery": {"address": "a", "region": "gangnam", "lat": 200.0, "lon": 127.0}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_coordinates",
        ),
        (
            json!({"delivery": {"address": "", "region": "gangnam", "lat": 37.5, "lon": 127.0}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"payment": {"card_token": ""}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        ),
        (
            json!({"store_id": "st_nope"}),
            StatusCode::NOT_FOUND,
            "store_not_found",
        ),
        (
            json!({"items": [{"menu_item_id": "mi_2_1", "quantity": 1}]}),
            StatusCode::NOT_FOUND,
            "menu_item_not_found",
        ),
    ];
    for (patch, status, code) in variants {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = s
            .place_on(&s.api, &cust, &unique("key"), body.clone())
            .await;
        assert_error_shape(&r, status, code);
    }
    // Nothing was established, nothing was charged.
    assert_eq!(s.get(&cust, "/v1/orders").await.body["orders"], json!([]));
}

#[tokio::test]
async fn bad_queries_and_command_bodies_are_422() {
    let s = system();
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    let cust = s.token("customer", &unique("cust"), None).await;
    assert_error_shape(
        &s.get(&owner, "/v1/store/orders?status=cooked").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_status",
    );
    assert_error_shape(
        &s.get(&rider, "/v1/rider/deliveries?lat=37.5&lon=127&radius_km=0")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_radius",
    );
    assert_error_shape(
        &s.get(&rider, "/v1/rider/deliveries?lat=99&lon=127&radius_km=3")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_coordinates",
    );
    assert_error_shape(
        &s.get(&rider, "/v1/rider/deliveries?lat=abc&lon=127&radius_km=3")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    );
    assert_error_shape(
        &s.get(&rider, "/v1/rider/deliveries").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_query",
    );

    let id = s.placed_order_on(&s.api, &cust).await;
    let no_reason = s
        .call(
            &s.api,
            Method::POST,
            &format!("/v1/store/orders/{id}/reject"),
            Some(&owner),
            Some(json!({"reason": "  "})),
            None,
        )
        .await;
    assert_error_shape(
        &no_reason,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_reason",
    );
    assert_eq!(
        s.get(&cust, &format!("/v1/orders/{id}")).await.body["status"],
        "placed"
    );
    let missing = s.post(&owner, "/v1/store/orders/ord_missing/accept").await;
    assert_error_shape(&missing, StatusCode::NOT_FOUND, "order_not_found");

    let bad_role = s
        .call(
            &s.api,
            Method::POST,
            "/v1/dev/tokens",
            None,
            Some(json!({"role": "admin", "sub": "x"})),
            None,
        )
        .await;
    assert_error_shape(&bad_role, StatusCode::UNPROCESSABLE_ENTITY, "invalid_role");
    let no_store = s
        .call(
            &s.api,
            Method::POST,
            "/v1/dev/tokens",
            None,
            Some(json!({"role": "store_owner", "sub": "x"})),
            None,
        )
        .await;
    assert_error_shape(
        &no_store,
        StatusCode::UNPROCESSABLE_ENTITY,
        "store_id_required",
    );
}

/// A NUL character (`%00`) in a query or a path is a 4xx, never a 500: found by schemathesis on
/// PostgreSQL, which refuses NUL in a bound text (`GET /v1/stores?cursor=%3D%00a` was a 500).
#[tokio::test]
async fn a_nul_in_a_query_or_a_path_is_4xx() {
    let s = system();
    let cust = s.token("customer", &unique("cust"), None).await;
    let rider = s.token("rider", &unique("rider"), None).await;
    for (path, status, code) in [
        ("/v1/stores?cursor=%3D%00a", 422, "invalid_cursor"),
        ("/v1/stores?region=gang%00nam", 422, "invalid_query"),
        (
            "/v1/rider/deliveries?lat=37.5&lon=127&radius_km=3&region=%00",
            422,
            "invalid_query",
        ),
        ("/v1/stores/st%00_1/menu", 404, "route_not_found"),
        ("/v1/orders/ord%00x", 404, "route_not_found"),
    ] {
        let token = if path.starts_with("/v1/rider") {
            &rider
        } else {
            &cust
        };
        assert_error_shape(
            &s.get(token, path).await,
            StatusCode::from_u16(status).unwrap(),
            code,
        );
    }
}

/// Riders see what they need to decide and to deliver, not more: the board has no customer,
/// address, payment or history; only the assigned rider gets the address; other riders get
/// 404 on it and its commands, and a lost claim does not tell the order's status.
#[tokio::test]
async fn riders_see_what_they_need_and_not_more() {
    let s = system();
    let customer_id = unique("private-cust");
    let cust = s.token("customer", &customer_id, None).await;
    let owner = s.token("store_owner", &unique("owner"), Some("st_1")).await;
    let (a_id, b_id) = (unique("rider-a"), unique("rider-b"));
    let a = s.token("rider", &a_id, None).await;
    let b = s.token("rider", &b_id, None).await;
    let id = s.placed_order_on(&s.api, &cust).await;
    s.make_ready(&owner, &id).await;
    let address = s.order_body(1, "tok_ok")["delivery"]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    // Commands answer once projected, so the board already has it.
    let r = s
        .get(
            &a,
            "/v1/rider/deliveries?lat=37.4979&lon=127.0376&radius_km=3",
        )
        .await;
    let board = r.body["deliveries"]
        .as_array()
        .and_then(|d| d.iter().find(|c| c["id"] == id.as_str()).cloned())
        .expect("the ready delivery is on the board");
    for field in ["pickup", "distance_km", "region", "total", "store_id"] {
        assert!(!board[field].is_null(), "the card shows {field}: {board}");
    }
    assert_eq!(
        board["pickup"]["store_name"]
            .as_str()
            .map(|n| !n.is_empty()),
        Some(true)
    );
    let card = board.to_string();
    for secret in [
        customer_id.as_str(),
        address.as_str(),
        "tok_ok",
        "payment",
        "history",
        "customer_id",
    ] {
        assert!(!card.contains(secret), "the board leaks {secret}: {card}");
    }

    // Before a claim the address is nobody's business.
    assert_error_shape(
        &s.get(&a, &format!("/v1/rider/deliveries/{id}")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    let won = s.ride(&s.api, &a, &id, "claim").await;
    assert_eq!(won.status, StatusCode::OK, "{:?}", won.body);
    assert_eq!(won.body["delivery"]["address"], address.as_str());
    assert_eq!(won.body["rider_id"], a_id.as_str());
    let mine = s.get(&a, &format!("/v1/rider/deliveries/{id}")).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["delivery"]["address"], address.as_str());
    assert_eq!(mine.body["status"], "rider_assigned");
    assert!(!mine.body.to_string().contains(&customer_id));
    assert!(mine.body["history"].is_null() && mine.body["payment"].is_null());
    // The winner's retried claim (its answer lost) answers the delivery again, not a conflict.
    let again = s.ride(&s.api, &a, &id, "claim").await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["rider_id"], a_id.as_str());
    assert_eq!(again.body["status"], "rider_assigned");

    // Another rider: 404 on the delivery and its commands; the lost claim says no status.
    assert_error_shape(
        &s.get(&b, &format!("/v1/rider/deliveries/{id}")).await,
        StatusCode::NOT_FOUND,
        "order_not_found",
    );
    for step in ["pickup", "deliver"] {
        assert_error_shape(
            &s.ride(&s.api, &b, &id, step).await,
            StatusCode::NOT_FOUND,
            "order_not_found",
        );
    }
    let lost = s.ride(&s.api, &b, &id, "claim").await;
    assert_error_shape(&lost, StatusCode::CONFLICT, "already_claimed");
    assert!(!lost.body.to_string().contains("rider_assigned"));
    assert_error_shape(
        &s.get(&b, &format!("/v1/orders/{id}")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let picked = s.ride(&s.api, &a, &id, "pickup").await;
    assert_eq!(picked.status, StatusCode::OK, "{:?}", picked.body);
    assert_eq!(picked.body["status"], "picked_up");
    assert!(!picked.body.to_string().contains(&customer_id));
}

/// schemathesis from the project's .venv (scripts/install-test-tools) or the PATH.
fn schemathesis() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/schemathesis");
    if venv.exists() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("schemathesis"))
                .find(|p| p.exists())
        })
        .expect("schemathesis is not installed: run ./scripts/test (it installs it into .venv)")
}

/// The OpenAPI document tells the truth: schemathesis, with every check, finds nothing as any
/// role or with no token — every status an operation answers is documented, every constraint
/// it enforces is stated, and a schema-valid request is never refused for its shape. (Live
/// streams excepted: see the exclusion below.)
#[tokio::test]
async fn the_openapi_document_holds_for_every_role() {
    let s = system();
    // With no token every operation past the door answers 401: a few examples show the
    // document says so; the roles get enough to reach rare characters in every field.
    let mut callers: Vec<(&str, Option<String>, u32)> = vec![("nobody", None, 25)];
    for (role, store) in [
        ("customer", None),
        ("store_owner", Some("st_1")),
        ("rider", None),
        ("ops", None),
    ] {
        callers.push((role, Some(s.token(role, &unique(role), store).await), 120));
    }
    let workdir = std::env::temp_dir().join(format!("baedal-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    for (role, token, examples) in callers {
        let mut cmd = tokio::process::Command::new(schemathesis());
        cmd.current_dir(&workdir)
            .args(["run", &format!("{}/openapi.json", s.api)])
            .args([
                "--checks",
                "all",
                // Enough to reach rare characters in every text field (one U+0085 once told
                // the schema and the server apart); a few minutes for the whole run.
                "--max-examples",
                &examples.to_string(),
                "--seed",
                "20261125",
            ])
            .args(["--no-color", "--generation-database", ":memory:"])
            // A live stream answers 200 and never ends, which a request-response fuzzer
            // cannot wait out: the streams' contract (authorization, Last-Event-ID, 422s) is
            // tested in tests/live.rs.
            .args(["--exclude-path-regex", "/events$"]);
        if let Some(t) = &token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        let out = cmd.output().await.expect("schemathesis runs");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {role} found the document and the api apart:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&workdir);
}
