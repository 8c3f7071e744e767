//! The service calls behind the activities, kept apart from the Temporal plumbing: the
//! requests are the services' own types (their client crates), and this module judges what an
//! answer means for the order (is this the order's money? is a refund owed?).

use crate::{ChargeInput, ChargeOutcome, NotifyInput, RefundInput};
use baedal_domain::PaymentInfo;
use baedal_notification_client::NotificationClient;
use baedal_payment_client::{ChargeRequest, PaymentClient, PaymentRecord, RefundRequest};

pub use baedal_payment_client::{
    CallError, IDEMPOTENCY_KEY_MISMATCH, NO_SUCCEEDED_CHARGE, Refusal,
};

/// What a refund request settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundAnswer {
    Refunded(PaymentInfo),
    /// The PSP holds no succeeded charge for the order: nothing is owed.
    NothingCharged,
}

/// What a ledger line says of the payment, for the order's view. The line's `kind`,
/// `order_id` and `refunded_amount` are read first, so an answer is taken only for the money
/// that was asked about.
fn payment_info(r: PaymentRecord) -> PaymentInfo {
    PaymentInfo {
        id: r.id,
        status: r.status,
        amount: r.amount,
    }
}

pub async fn charge(
    payment: &PaymentClient,
    input: &ChargeInput,
) -> Result<ChargeOutcome, CallError> {
    let req = ChargeRequest {
        idempotency_key: input.order_id.clone(),
        order_id: input.order_id.clone(),
        amount: input.amount,
        card_token: input.card_token.clone(),
    };
    let rec = match payment.charge(&req).await {
        Ok(rec) => rec,
        Err(e) if Refusal::of(&e) == Some(Refusal::IdempotencyKeyMismatch) => {
            return Err(CallError::Refused {
                service: "payment",
                code: Refusal::IdempotencyKeyMismatch.as_str().to_owned(),
                message: format!(
                    "charge key {} was already used with another amount or card",
                    input.order_id
                ),
            });
        }
        Err(e) => return Err(e),
    };
    judge_charge(input, rec)
}

/// What a charge answer means for this order. A replayed key answers the charge as it stands
/// now, so `succeeded` alone is not enough: only a charge of exactly this order's amount, for
/// this order, with nothing refunded, establishes it. A refunded or voided charge, or a line
/// for other money, is a permanent refusal (never approved: the money is not held), and a
/// decline (or a failed charge) is the PSP's answer "no".
fn judge_charge(input: &ChargeInput, rec: PaymentRecord) -> Result<ChargeOutcome, CallError> {
    let refused = |code: &str, message: String| CallError::Refused {
        service: "payment",
        code: code.to_owned(),
        message,
    };
    if rec.kind != "charge" || rec.order_id != input.order_id || rec.amount != input.amount {
        return Err(refused(
            "charge_mismatch",
            format!(
                "the PSP answered charge key {} with a {} of {} won for order {}, not a charge \
                 of {} won for order {}: not this order's money",
                input.order_id, rec.kind, rec.amount, rec.order_id, input.amount, input.order_id
            ),
        ));
    }
    match rec.status.as_str() {
        "succeeded" if rec.refunded_amount.unwrap_or(0) == 0 => Ok(ChargeOutcome::Approved {
            payment: payment_info(rec),
        }),
        "declined" | "failed" => Ok(ChargeOutcome::Declined {
            payment: payment_info(rec),
        }),
        "succeeded" | "refunded" => Err(refused(
            "charge_refunded",
            format!(
                "the charge of order {} was refunded ({} of {} won): it no longer pays for \
                 the order",
                input.order_id,
                rec.refunded_amount.unwrap_or(rec.amount),
                rec.amount
            ),
        )),
        "voided" => Err(refused(
            "charge_voided",
            format!(
                "the charge key of order {} was voided by a refund that found nothing charged: \
                 this charge moves no money",
                input.order_id
            ),
        )),
        other => Err(refused(
            "charge_unknown_status",
            format!(
                "the PSP answered the charge of order {} with status {other}",
                input.order_id
            ),
        )),
    }
}

/// Ask for the order's refund. Only the PSP's "no succeeded charge" settles it without money
/// moving; any other refusal is an error (retried by the caller, never recorded as done).
/// `void_charge_key` (the charge key, the order id) makes "nothing charged" final: a charge
/// still in flight with that key is voided instead of taking money nobody will give back.
/// A 2xx answer counts only when it is this refund: kind `refund`, `succeeded`, this order,
/// the amount owed.
pub async fn refund(
    payment: &PaymentClient,
    input: &RefundInput,
) -> Result<RefundAnswer, CallError> {
    let req = RefundRequest {
        idempotency_key: format!("{}:refund", input.order_id),
        order_id: input.order_id.clone(),
        amount: input.amount,
        void_charge_key: Some(input.order_id.clone()),
    };
    match payment.refund(&req).await {
        Ok(rec)
            if rec.kind == "refund"
                && rec.status == "succeeded"
                && rec.order_id == input.order_id
                && rec.amount == input.amount =>
        {
            Ok(RefundAnswer::Refunded(payment_info(rec)))
        }
        Ok(rec) => Err(CallError::Unexpected {
            service: "payment",
            code: "refund_mismatch",
            message: format!(
                "the refund of {} won for order {} was answered with a {} {} of {} won for \
                 order {}: not counted as refunded",
                input.amount, input.order_id, rec.status, rec.kind, rec.amount, rec.order_id
            ),
        }),
        Err(e) if Refusal::of(&e) == Some(Refusal::NoSucceededCharge) => {
            Ok(RefundAnswer::NothingCharged)
        }
        Err(e) => Err(e),
    }
}

/// Send one notification; a repeat of its `(order_id, seq)` is accepted as well.
pub async fn notify(notify: &NotificationClient, input: &NotifyInput) -> Result<(), CallError> {
    notify.notify(input).await.map(drop)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use baedal_payment::PaymentState;

    /// The real payment service on a free port, and a client for it (its service token is
    /// `svc`; the breaker's tests borrow it).
    pub(crate) async fn payment_service() -> (PaymentClient, PaymentState) {
        let state = PaymentState::open(
            "sqlite::memory:",
            "svc",
            baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt")),
        )
        .await
        .unwrap()
        .with_fault_injection(true);
        let app = baedal_payment::router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (PaymentClient::new(url, "svc"), state)
    }

    fn refund_of(order_id: &str, amount: i64) -> RefundInput {
        RefundInput {
            order_id: order_id.into(),
            amount,
        }
    }

    #[tokio::test]
    async fn only_no_succeeded_charge_settles_a_refund_without_money() {
        let (client, state) = payment_service().await;
        assert_eq!(
            refund(&client, &refund_of("ord_none", 5000)).await.unwrap(),
            RefundAnswer::NothingCharged
        );
        let charge = ChargeRequest {
            idempotency_key: "ord_a".into(),
            order_id: "ord_a".into(),
            amount: 5000,
            card_token: "tok_ok".into(),
        };
        state.ledger().charge(&charge, true).await.unwrap().unwrap();
        // Asking for more than was charged is a refusal, not "nothing owed".
        let err = refund(&client, &refund_of("ord_a", 9000))
            .await
            .expect_err("a refund above the charge is an error to retry and alert");
        assert_eq!(err.code(), Some("refund_exceeds_charge"));
        assert!(!err.is_permanent(), "retried: ops may fix the ledger");
        assert!(matches!(
            refund(&client, &refund_of("ord_a", 5000)).await.unwrap(),
            RefundAnswer::Refunded(p) if p.status == "succeeded" && p.amount == 5000
        ));
    }

    fn charge_of(order_id: &str, amount: i64, card: &str) -> ChargeInput {
        ChargeInput {
            order_id: order_id.into(),
            amount,
            card_token: card.into(),
        }
    }

    #[tokio::test]
    async fn a_charge_is_approved_only_for_exactly_this_orders_money() {
        let (client, _state) = payment_service().await;
        let input = charge_of("ord_ok", 5000, "tok_ok");
        let first = charge(&client, &input).await.unwrap();
        assert!(matches!(&first, ChargeOutcome::Approved { payment } if payment.amount == 5000));
        assert_eq!(charge(&client, &input).await.unwrap(), first, "a replay");
        assert!(matches!(
            charge(&client, &charge_of("ord_no", 5000, "tok_declined")).await,
            Ok(ChargeOutcome::Declined { .. })
        ));
        for reused in [
            charge_of("ord_ok", 6000, "tok_ok"),
            charge_of("ord_ok", 5000, "tok_declined"),
        ] {
            let err = charge(&client, &reused).await.unwrap_err();
            assert_eq!(err.code(), Some(IDEMPOTENCY_KEY_MISMATCH), "{err}");
            assert!(err.is_permanent(), "the same key gets the same refusal");
        }
        // A PSP answering with a line for other money (say, one that does not check keys).
        let line = |order_id: &str, amount| PaymentRecord {
            id: "pay_1".into(),
            order_id: order_id.into(),
            kind: "charge".into(),
            amount,
            status: "succeeded".into(),
            refunded_amount: None,
            created_at: "2025-01-01T00:00:00.000Z".into(),
        };
        let wanted = charge_of("ord_ok", 5000, "tok_ok");
        for other in [line("ord_ok", 4999), line("ord_elsewhere", 5000)] {
            let err = judge_charge(&wanted, other).unwrap_err();
            assert_eq!(err.code(), Some("charge_mismatch"));
            assert!(err.is_permanent() && err.to_string().contains("not this order's money"));
        }
        let refund_line = PaymentRecord {
            kind: "refund".into(),
            ..line("ord_ok", 5000)
        };
        assert!(judge_charge(&wanted, refund_line).is_err());
        let partly_refunded = PaymentRecord {
            refunded_amount: Some(1000),
            ..line("ord_ok", 5000)
        };
        assert_eq!(
            judge_charge(&wanted, partly_refunded).unwrap_err().code(),
            Some("charge_refunded")
        );
        assert!(judge_charge(&wanted, line("ord_ok", 5000)).is_ok());
    }

    #[tokio::test]
    async fn a_refunded_or_voided_charge_replayed_is_a_permanent_error() {
        let (client, state) = payment_service().await;
        let paid = charge_of("ord_back", 5000, "tok_ok");
        charge(&client, &paid).await.unwrap();
        assert!(matches!(
            refund(&client, &refund_of("ord_back", 5000)).await.unwrap(),
            RefundAnswer::Refunded(_)
        ));
        let err = charge(&client, &paid).await.unwrap_err();
        assert_eq!(err.code(), Some("charge_refunded"), "{err}");
        assert!(err.is_permanent());

        // The refund comes first: it voids the charge key, and the late charge takes nothing.
        assert_eq!(
            refund(&client, &refund_of("ord_late", 5000)).await.unwrap(),
            RefundAnswer::NothingCharged
        );
        let err = charge(&client, &charge_of("ord_late", 5000, "tok_ok"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("charge_voided"), "{err}");
        assert!(err.is_permanent());
        let lines = state.ledger().list(Some("ord_late")).await.unwrap();
        assert!(
            lines.iter().all(|l| l.status == "voided"),
            "no money moved: {lines:?}"
        );
    }

    #[tokio::test]
    async fn a_refund_answered_with_another_amount_is_not_a_refund() {
        let (client, state) = payment_service().await;
        charge(&client, &charge_of("ord_part", 5000, "tok_ok"))
            .await
            .unwrap();
        // Someone refunded part of it under the worker's key.
        state
            .ledger()
            .refund(&baedal_payment::RefundRequest {
                idempotency_key: "ord_part:refund".into(),
                order_id: "ord_part".into(),
                amount: 3000,
                void_charge_key: None,
            })
            .await
            .unwrap()
            .unwrap();
        let err = refund(&client, &refund_of("ord_part", 5000))
            .await
            .expect_err("3000 back is not the 5000 owed");
        // The PSP refuses its key for another amount (a PSP that answered with the first
        // record instead would get `refund_mismatch`): not counted as refunded either way.
        assert_eq!(err.code(), Some("idempotency_key_mismatch"));
        assert!(!err.is_permanent(), "retried until the ledger is fixed");
        assert!(err.to_string().contains("3000"), "{err}");
    }

    /// Refusals are answers from a working PSP: however many, the breaker stays closed, and
    /// the activity failure is non-retryable.
    #[tokio::test]
    async fn refused_charges_neither_trip_the_breaker_nor_retry() {
        let (client, _state) = payment_service().await;
        let breaker = crate::PaymentBreaker::new(
            client.clone(),
            &crate::BreakerSettings {
                min_calls: 2,
                ..Default::default()
            },
        );
        for i in 0..4 {
            let order = format!("ord_void_{i}");
            refund(&client, &refund_of(&order, 5000)).await.unwrap();
            let err = breaker
                .charge(charge_of(&order, 5000, "tok_ok"))
                .await
                .unwrap_err();
            assert!(matches!(
                &err,
                crate::breaker::ChargeError::Call(CallError::Refused { .. })
            ));
            match err.into_activity_error() {
                temporalio_sdk::activities::ActivityError::Application(f) => {
                    assert!(f.is_non_retryable());
                    assert_eq!(f.type_name(), Some(crate::NON_RETRYABLE));
                }
                other => panic!("expected an application failure, got {other:?}"),
            }
        }
        let snap = breaker.snapshot().await;
        assert_eq!((snap.state.as_str(), snap.failures), ("closed", 0));
    }
}
