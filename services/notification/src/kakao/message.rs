//! What a KakaoTalk message says: the approved AlimTalk template of each status change (and
//! of "the refund has arrived"), its variables filled in from the order, and the short SMS
//! that goes out instead when KakaoTalk cannot deliver. Pure text: no I/O.

use baedal_domain::{OrderBrief, OrderStatus};
use std::collections::BTreeMap;

/// An approved AlimTalk template: its code and its text, `#{변수}` where a variable goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub code: &'static str,
    pub text: &'static str,
}

/// The template for a status change. Every customer-facing status has one (AlimTalk sends
/// only approved templates, so the text is fixed and only the variables change).
pub fn template(status: OrderStatus) -> Template {
    use OrderStatus as S;
    let (code, text) = match status {
        S::Placed => (
            "BAEDAL_PLACED",
            "[baedal] #{가게명} 주문이 접수되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 결제 금액: #{결제금액}\n■ 주문 상태: #{주문상태}\n\n가게에서 주문을 확인하면 다시 알려드릴게요.",
        ),
        S::Accepted => (
            "BAEDAL_ACCEPTED",
            "[baedal] #{가게명}에서 주문을 수락했습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n곧 조리를 시작합니다.",
        ),
        S::Cooking => (
            "BAEDAL_COOKING",
            "[baedal] #{가게명}에서 조리를 시작했습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}",
        ),
        S::ReadyForPickup => (
            "BAEDAL_READY",
            "[baedal] #{가게명} 조리가 끝났습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n라이더를 배정하고 있어요.",
        ),
        S::RiderAssigned => (
            "BAEDAL_RIDER_ASSIGNED",
            "[baedal] #{가게명} 주문에 라이더가 배정되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n라이더가 음식을 픽업하면 도착 예정 시간을 알려드릴게요.",
        ),
        S::PickedUp => (
            "BAEDAL_PICKED_UP",
            "[baedal] 라이더가 #{가게명}에서 음식을 픽업했습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n■ 도착 예정: 약 #{도착예정}분 후",
        ),
        S::Delivered => (
            "BAEDAL_DELIVERED",
            "[baedal] #{가게명} 주문의 배달이 완료되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n맛있게 드세요!",
        ),
        S::Completed => (
            "BAEDAL_COMPLETED",
            "[baedal] #{가게명} 주문이 완료되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 결제 금액: #{결제금액}\n\n이용해 주셔서 감사합니다.",
        ),
        S::Rejected => (
            "BAEDAL_REJECTED",
            "[baedal] 가게 사정으로 #{가게명} 주문이 거절되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n결제하신 #{결제금액}은 전액 환불을 진행하고 있으며, 환불이 완료되면 다시 알려드릴게요.",
        ),
        S::Canceled => (
            "BAEDAL_CANCELED",
            "[baedal] #{가게명} 주문이 취소되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 주문 상태: #{주문상태}\n\n결제하신 #{결제금액}은 전액 환불을 진행하고 있으며, 환불이 완료되면 다시 알려드릴게요.",
        ),
        S::PaymentFailed => (
            "BAEDAL_PAYMENT_FAILED",
            "[baedal] #{가게명} 주문의 결제에 실패했습니다.\n\n■ 주문 내역: #{주문내역}\n■ 결제 금액: #{결제금액}\n\n결제 수단을 확인하고 다시 주문해 주세요.",
        ),
    };
    Template { code, text }
}

/// The notification `status` of "the refund has arrived" (not an order status: the order
/// stays rejected or canceled).
pub const REFUNDED_EVENT: &str = "refunded";

/// The template of "the refund has arrived", sent once the PSP confirms the money moved (the
/// cancel's and the reject's messages say the refund is in progress).
pub const REFUNDED: Template = Template {
    code: "BAEDAL_REFUNDED",
    text: "[baedal] #{가게명} 주문의 환불이 완료되었습니다.\n\n■ 주문 내역: #{주문내역}\n■ 환불 금액: #{환불금액}\n\n카드사에 따라 실제 환불까지 영업일 기준 3~5일이 걸릴 수 있어요.",
};

/// The message that `order`'s refund (of `order.total`) has arrived.
pub fn refunded_message(order: &OrderBrief) -> Message {
    let t = REFUNDED;
    let variables = BTreeMap::from([
        ("가게명", order.store_name.clone()),
        ("주문내역", order.summary.clone()),
        ("환불금액", won(order.total)),
    ]);
    let mut text = t.text.to_owned();
    for (k, v) in &variables {
        text = text.replace(&format!("#{{{k}}}"), v);
    }
    let fallback = format!(
        "[baedal] {} 환불 완료: {}",
        order.store_name,
        won(order.total)
    );
    Message {
        template_code: t.code,
        variables,
        text,
        fallback,
    }
}

/// How the customer reads a status.
pub fn status_label(status: OrderStatus) -> &'static str {
    use OrderStatus as S;
    match status {
        S::Placed => "주문 접수",
        S::Accepted => "주문 수락",
        S::Cooking => "조리 중",
        S::ReadyForPickup => "조리 완료",
        S::RiderAssigned => "라이더 배정",
        S::PickedUp => "배달 중",
        S::Delivered => "배달 완료",
        S::Completed => "주문 완료",
        S::Rejected => "주문 거절",
        S::Canceled => "주문 취소",
        S::PaymentFailed => "결제 실패",
    }
}

/// `12000` as `12,000원`.
pub fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out}원", if amount < 0 { "-" } else { "" })
}

/// One message, ready for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub template_code: &'static str,
    pub variables: BTreeMap<&'static str, String>,
    /// The template with its variables filled in (AlimTalk checks it against the template).
    pub text: String,
    /// What goes out as an SMS when KakaoTalk cannot deliver: short, the essentials.
    pub fallback: String,
}

/// The message about `order` reaching `status`.
pub fn message(status: OrderStatus, order: &OrderBrief) -> Message {
    let t = template(status);
    let mut variables = BTreeMap::from([
        ("가게명", order.store_name.clone()),
        ("주문내역", order.summary.clone()),
        ("결제금액", won(order.total)),
        ("주문상태", status_label(status).to_owned()),
    ]);
    if let Some(eta) = order.eta_minutes {
        variables.insert("도착예정", eta.to_string());
    } else if t.text.contains("#{도착예정}") {
        variables.insert("도착예정", "-".to_owned());
    }
    let mut text = t.text.to_owned();
    for (k, v) in &variables {
        text = text.replace(&format!("#{{{k}}}"), v);
    }
    let eta = order
        .eta_minutes
        .map(|m| format!(", 약 {m}분 후 도착"))
        .unwrap_or_default();
    let fallback = format!(
        "[baedal] {} {}: {}{eta}",
        order.store_name,
        status_label(status),
        order.summary
    );
    Message {
        template_code: t.code,
        variables,
        text,
        fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brief(eta: Option<u32>) -> OrderBrief {
        OrderBrief {
            store_name: "성수 김밥".into(),
            summary: "참치김밥 2개 외 1건".into(),
            total: 12500,
            eta_minutes: eta,
        }
    }

    #[test]
    fn every_status_has_its_own_template_and_every_variable_is_filled() {
        let mut codes = std::collections::HashSet::new();
        for s in OrderStatus::ALL {
            let t = template(s);
            assert!(codes.insert(t.code), "{} twice", t.code);
            let m = message(s, &brief(Some(21)));
            assert!(!m.text.contains("#{"), "{s}: {}", m.text);
            assert!(m.text.contains("성수 김밥"), "{s}");
            assert!(m.fallback.contains(status_label(s)), "{s}");
        }
        let m = message(OrderStatus::PickedUp, &brief(Some(21)));
        assert!(m.text.contains("약 21분 후"), "{}", m.text);
        assert_eq!(m.variables["도착예정"], "21");
        assert!(m.fallback.ends_with("약 21분 후 도착"), "{}", m.fallback);
        let m = message(OrderStatus::Rejected, &brief(None));
        assert!(m.text.contains("12,500원은 전액 환불을 진행"), "{}", m.text);
        assert!(!m.variables.contains_key("도착예정"));
    }

    #[test]
    fn the_refund_has_its_own_template_once_the_money_moved() {
        let m = refunded_message(&brief(None));
        assert_eq!(m.template_code, "BAEDAL_REFUNDED");
        assert!(
            OrderStatus::ALL
                .iter()
                .all(|s| template(*s).code != m.template_code),
            "not a status template"
        );
        assert!(m.text.contains("환불이 완료"), "{}", m.text);
        assert!(m.text.contains("12,500원"), "{}", m.text);
        assert!(!m.text.contains("#{"), "{}", m.text);
        assert!(m.fallback.contains("환불 완료"), "{}", m.fallback);
    }

    #[test]
    fn won_groups_thousands() {
        assert_eq!(won(0), "0원");
        assert_eq!(won(900), "900원");
        assert_eq!(won(12000), "12,000원");
        assert_eq!(won(1234567), "1,234,567원");
    }
}
