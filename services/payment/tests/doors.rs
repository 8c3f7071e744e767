//! Who may do what at the payment service: money moves only with the service token; an ops
//! person may read the ledger and flip the fault switch, not charge or refund.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baedal_auth::{Claims, Identity, Role, TokenKeys};
use baedal_payment::{PaymentState, router};
use tower::ServiceExt;

const SERVICE: &str = "the-service-token-of-at-least-32-bytes";
const SECRET: &str = "the-jwt-secret-of-at-least-32-bytes!!";

fn person(role: Role) -> String {
    TokenKeys::new(SECRET).sign(&Claims {
        sub: "someone".into(),
        role,
        store_id: None,
        exp: jsonwebtoken_now() + 600,
    })
}

fn jsonwebtoken_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn call(
    state: &PaymentState,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    router(state.clone()).oneshot(req).await.unwrap().status()
}

async fn payment() -> PaymentState {
    PaymentState::open(
        &baedal_db::scratch_url().await,
        SERVICE,
        Identity::new(TokenKeys::new(SECRET)),
    )
    .await
    .unwrap()
    .with_fault_injection(true)
}

const CHARGE: &str =
    r#"{"idempotency_key":"ord_1","order_id":"ord_1","amount":9000,"card_token":"tok_ok"}"#;
const REFUND: &str = r#"{"idempotency_key":"ord_1:refund","order_id":"ord_1","amount":9000}"#;
const FAULTS: &str = r#"{"unavailable":false,"latency_ms":0,"error_rate":0}"#;

#[tokio::test]
async fn an_ops_person_reads_and_switches_but_cannot_move_money() {
    let s = payment().await;
    let ops = person(Role::Ops);
    assert_eq!(
        call(&s, "POST", "/v1/charges", &ops, CHARGE).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s, "POST", "/v1/refunds", &ops, REFUND).await,
        StatusCode::FORBIDDEN
    );
    assert!(
        s.ledger().list(Some("ord_1")).await.unwrap().is_empty(),
        "nothing moved"
    );
    assert_eq!(
        call(&s, "GET", "/v1/payments", &ops, "").await,
        StatusCode::OK
    );
    assert_eq!(
        call(&s, "PUT", "/v1/admin/faults", &ops, FAULTS).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_service_token_moves_money_and_other_people_get_nothing() {
    let s = payment().await;
    assert_eq!(
        call(&s, "POST", "/v1/charges", SERVICE, CHARGE).await,
        StatusCode::CREATED
    );
    assert_eq!(
        call(&s, "POST", "/v1/refunds", SERVICE, REFUND).await,
        StatusCode::CREATED
    );
    let customer = person(Role::Customer);
    assert_eq!(
        call(&s, "GET", "/v1/payments", &customer, "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s, "PUT", "/v1/admin/faults", &customer, FAULTS).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&s, "POST", "/v1/charges", "guess", CHARGE).await,
        StatusCode::UNAUTHORIZED
    );
}
