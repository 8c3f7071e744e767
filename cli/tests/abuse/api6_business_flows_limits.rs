//! OWASP API6:2023 Unrestricted Access to Sensitive Business Flows. Probed: one customer tried
//! 40 card tokens in 2 s (40 × 402, no lockout: a card-testing oracle) and ran 20
//! place→cancel refund cycles in 1.1 s.

use crate::common::unique;
use crate::limited::{LIMITS, place, send, system};
use reqwest::Method;

#[tokio::test]
async fn forty_card_tokens_are_locked_out_after_the_declines_limit() {
    let sys = system();
    let customer = sys.token("customer", &unique("carder"), None).await;
    let declines = LIMITS.card_declines.count.get() as usize;
    let paced = LIMITS.place_orders.count.get() as usize;
    let mut answers = Vec::new();
    for n in 0..40 {
        // Every attempt another card: the declined test card, or tokens the PSP never issued.
        let card = if n % 2 == 0 {
            "tok_declined".to_owned()
        } else {
            format!("tok_declined_{n}")
        };
        answers.push(place(&customer, &card).await);
    }
    let declined = answers.iter().filter(|a| a.status == 402).count();
    assert_eq!(
        declined, declines,
        "declines reached the PSP past the lockout"
    );
    for a in &answers[..declines] {
        assert_eq!(a.code(), "payment_declined", "{:?}", a.body);
    }
    // Locked out from the next attempt on, for about the window (15 min), before the place
    // limit would have refused them.
    for a in &answers[declines..paced] {
        a.assert_refused("too_many_declines", 15 * 60);
        assert!(a.header("retry-after").parse::<u64>().unwrap() > 10 * 60);
    }
    for a in &answers[paced..] {
        assert_eq!(a.status, 429, "{:?}", a.body);
    }
    // A good card is not tried either while the lockout lasts: the account is what is locked.
    let other = sys.token("customer", &unique("buyer"), None).await;
    assert_eq!(place(&other, "tok_ok").await.status, 201);
    let locked_again = sys.token("customer", &unique("carder2"), None).await;
    for _ in 0..declines {
        assert_eq!(place(&locked_again, "tok_declined").await.status, 402);
    }
    place(&locked_again, "tok_ok")
        .await
        .assert_refused("too_many_declines", 15 * 60);
}

#[tokio::test]
async fn place_and_cancel_refund_cycles_are_limited() {
    let sys = system();
    let customer = sys.token("customer", &unique("cycler"), None).await;
    let mut cycles = 0;
    let mut refused = None;
    for _ in 0..20 {
        let placed = place(&customer, "tok_ok").await;
        if placed.status == 429 {
            refused = Some(placed);
            break;
        }
        assert_eq!(placed.status, 201, "{:?}", placed.body);
        let id = placed.body["id"].as_str().unwrap().to_owned();
        let canceled = send(
            Method::POST,
            &format!("/v1/orders/{id}/cancel"),
            Some(&customer),
            None,
            None,
            None,
        )
        .await;
        if canceled.status == 429 {
            refused = Some(canceled);
            break;
        }
        assert_eq!(canceled.status, 200, "{:?}", canceled.body);
        cycles += 1;
    }
    let refused = refused.expect("20 refund cycles ran unchecked");
    refused.assert_refused("rate_limited", 60);
    // The tighter of the two limits (commands, here) stopped the cycles.
    let bound = LIMITS
        .commands
        .count
        .get()
        .min(LIMITS.place_orders.count.get()) as usize;
    assert!((bound..=bound + 2).contains(&cycles), "{cycles} cycles");
}

/// The lockout counts cards tried, not requests: retrying one declined attempt (same key and
/// body) is answered from that attempt and tries no card.
#[tokio::test]
async fn retrying_one_declined_attempt_is_not_another_card_tried() {
    let sys = system();
    let customer = sys.token("customer", &unique("retrier"), None).await;
    let key = unique("key");
    let body = sys.order_body(1, "tok_declined");
    for _ in 0..LIMITS.card_declines.count.get() + 2 {
        let a = send(
            Method::POST,
            "/v1/orders",
            Some(&customer),
            None,
            Some(body.clone()),
            Some(&key),
        )
        .await;
        assert_eq!(a.status, 402, "{:?}", a.body);
    }
    // Still one decline: another card may be tried.
    assert_eq!(place(&customer, "tok_declined").await.status, 402);
}

/// Probed in review: ten cards sent at once all reached the PSP (10 × 402 against a limit of
/// 5), as each passed the lockout check before any decline was counted. Taken in turn, no
/// more declines than the limit reach the PSP however the attempts are sent.
#[tokio::test]
async fn cards_sent_together_are_locked_out_at_the_declines_limit() {
    let sys = system();
    let customer = sys
        .token("customer", &unique("parallel-carder"), None)
        .await;
    let declines = LIMITS.card_declines.count.get() as usize;
    let attempts = (0..declines + 3).map(|n| {
        let customer = customer.clone();
        async move { place(&customer, &format!("tok_declined_{n}")).await }
    });
    let answers = futures::future::join_all(attempts).await;
    let declined = answers.iter().filter(|a| a.status == 402).count();
    assert_eq!(
        declined, declines,
        "declines past the lockout reached the PSP"
    );
    for a in answers.iter().filter(|a| a.status != 402) {
        assert_eq!(a.status, 429, "{:?}", a.body);
    }
}
