//! The KakaoTalk channel: an AlimTalk message to each customer who chose it, on every status
//! change of their order, through a message provider (a KakaoTalk business-message gateway).
//!
//! A message is a row written in the same transaction that accepts the notification (a restart
//! loses none), sent by a loop like the webhooks' one, at least once, with the row's id as the
//! provider's idempotency key (a repeat after a lost answer is not a second message).
//!
//! The provider (`BAEDAL_KAKAO_URL`, `BAEDAL_KAKAO_KEY`, `BAEDAL_KAKAO_SENDER`) takes
//!
//! ```text
//! POST <BAEDAL_KAKAO_URL>
//! Authorization: Bearer <BAEDAL_KAKAO_KEY>
//! Idempotency-Key: <message id>
//! {"sender_key": <BAEDAL_KAKAO_SENDER>, "template_code": "BAEDAL_PICKED_UP",
//!  "recipient": "01012345678", "message": <the template, filled in>,
//!  "variables": {"가게명": …, "주문내역": …, "결제금액": …, "주문상태": …, "도착예정": …},
//!  "fallback": {"type": "SMS", "message": <a short text>}, "message_id": <message id>}
//! ```
//!
//! and answers `{"code", "message", "channel": "alimtalk" | "sms"}`: the gateways' usual shape,
//! with KakaoTalk's business-message result codes. Someone without KakaoTalk (or who blocked
//! the channel) gets the fallback as an SMS, and the answer says so. [`classify`] decides
//! what each answer means: sent, try again later, or give up.

use crate::delivery::{Deliverer, at, jitter, next_wait};
use crate::hooks::now;
use baedal_db::Db;
use baedal_domain::{OrderBrief, OrderStatus};
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Waits before the 2nd, 3rd, … attempt: a status message is worth little after an hour.
pub const SCHEDULE: [Duration; 5] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
];

/// Due messages read per round.
const BATCH: i64 = 128;

/// Where and how to reach the provider.
#[derive(Debug, Clone)]
pub struct KakaoSettings {
    pub url: String,
    pub key: String,
    /// The KakaoTalk channel's sender key (발신 프로필 키).
    pub sender: String,
    pub schedule: Vec<Duration>,
    pub timeout: Duration,
    pub poll: Duration,
    pub max_in_flight: usize,
}

impl KakaoSettings {
    pub fn new(url: String, key: String, sender: String) -> Self {
        Self {
            url,
            key,
            sender,
            schedule: SCHEDULE.to_vec(),
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(250),
            max_in_flight: 64,
        }
    }
}

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

/// A message's id: stable per recipient and status change, the provider's idempotency key.
pub fn message_id(recipient: &str, order_id: &str, seq: u32) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("kakao\n{recipient}\n{order_id}\n{seq}"));
    format!("kmsg_{}", &hex::encode(digest)[..32])
}

/// Owe `recipient` the message about `n`, in the transaction accepting `n`. Answers whether a
/// message is owed now (a status without a template owes none).
pub(crate) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    n: &crate::NotificationRequest,
    recipient: &str,
    phone: &str,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let Some(order) = &n.order else {
        return Ok(false);
    };
    let m = if n.status == REFUNDED_EVENT {
        refunded_message(order)
    } else if let Ok(status) = OrderStatus::from_str(&n.status) {
        message(status, order)
    } else {
        return Ok(false);
    };
    let owed = sqlx::query(
        "INSERT INTO kakao_messages (id, recipient, order_id, seq, phone, template_code,
            variables, text, fallback_text, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $10, $10)
         ON CONFLICT (recipient, order_id, seq) DO NOTHING",
    )
    .bind(message_id(recipient, &n.order_id, n.seq))
    .bind(recipient)
    .bind(&n.order_id)
    .bind(n.seq as i64)
    .bind(phone)
    .bind(m.template_code)
    .bind(serde_json::to_string(&m.variables).expect("variables serialize"))
    .bind(&m.text)
    .bind(&m.fallback)
    .bind(at)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0;
    Ok(owed)
}

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

/// Start sending what `db` owes through the provider, until the process ends.
pub fn spawn(db: Db, settings: KakaoSettings) -> Deliverer {
    let (sender, wake) = Deliverer::new();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .user_agent("baedal-kakao/1")
        .build()
        .expect("a provider client");
    tokio::spawn(run(db, settings, client, wake));
    sender
}

struct Due {
    id: String,
    phone: String,
    template_code: String,
    variables: String,
    text: String,
    fallback: String,
    attempts: u32,
}

async fn run(db: Db, settings: KakaoSettings, client: reqwest::Client, wake: Arc<Notify>) {
    let slots = Arc::new(Semaphore::new(settings.max_in_flight));
    let settings = Arc::new(settings);
    loop {
        // Whether more may be due right now (see the webhooks' loop).
        let mut more = false;
        match due(&db, BATCH).await {
            Ok(batch) => {
                let full = batch.len() as i64 == BATCH;
                let mut chosen = Vec::new();
                for m in batch {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        break;
                    };
                    chosen.push((m, slot));
                }
                let saturated = full && chosen.len() as i64 != BATCH;
                let ids: Vec<&str> = chosen.iter().map(|c| c.0.id.as_str()).collect();
                // Another replica may have taken some; a dead process's lease runs out.
                let leased = match crate::delivery::lease_rows(
                    &db,
                    "kakao_messages",
                    &ids,
                    settings.timeout * 3,
                )
                .await
                {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "leasing KakaoTalk messages");
                        Default::default()
                    }
                };
                more = full && !saturated && !leased.is_empty();
                for (m, slot) in chosen {
                    if !leased.contains(&m.id) {
                        continue;
                    }
                    let (db, client, settings, wake) =
                        (db.clone(), client.clone(), settings.clone(), wake.clone());
                    tokio::spawn(async move {
                        let answer = send(&client, &settings, &m).await;
                        if let Err(e) = record(&db, &m, &answer, &settings).await {
                            tracing::warn!(message = %m.id, error = %e, "recording a KakaoTalk message");
                        }
                        drop(slot);
                        wake.notify_one();
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading due KakaoTalk messages"),
        }
        if !more {
            let _ = tokio::time::timeout(settings.poll, wake.notified()).await;
        }
    }
}

async fn due(db: &Db, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT * FROM kakao_messages WHERE status = 'pending' AND next_attempt_at <= $1
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now())
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Due {
            id: r.get("id"),
            phone: r.get("phone"),
            template_code: r.get("template_code"),
            variables: r.get("variables"),
            text: r.get("text"),
            fallback: r.get("fallback_text"),
            attempts: r.get::<i64, _>("attempts") as u32,
        })
        .collect())
}

async fn send(client: &reqwest::Client, settings: &KakaoSettings, m: &Due) -> Answer {
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
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp
        .json::<serde_json::Value>()
        .await
        .unwrap_or(serde_json::Value::Null);
    classify(http, &body, retry_after)
}

async fn record(
    db: &Db,
    m: &Due,
    answer: &Answer,
    settings: &KakaoSettings,
) -> Result<(), sqlx::Error> {
    let attempts = m.attempts + 1;
    let now = now();
    let sent_at = matches!(answer, Answer::Sent { .. }).then(|| now.clone());
    let (status, channel, code, error, next) = match answer {
        Answer::Sent { channel } => (
            "sent",
            Some(channel.as_str()),
            Some("0000"),
            None,
            now.clone(),
        ),
        Answer::GiveUp { code, error } => {
            tracing::warn!(message = %m.id, %error, "KakaoTalk message given up");
            (
                "failed",
                None,
                Some(code.as_str()),
                Some(error.as_str()),
                now.clone(),
            )
        }
        Answer::Retry {
            code,
            error,
            retry_after,
        } => match next_wait(&settings.schedule, attempts, *retry_after, jitter()) {
            Some(w) => (
                "pending",
                None,
                Some(code.as_str()),
                Some(error.as_str()),
                at(w),
            ),
            None => (
                "failed",
                None,
                Some(code.as_str()),
                Some(error.as_str()),
                now.clone(),
            ),
        },
    };
    sqlx::query(
        "UPDATE kakao_messages SET status = $1, channel = $2, attempts = $3, last_code = $4,
            last_error = $5, next_attempt_at = $6, sent_at = COALESCE($7, sent_at)
         WHERE id = $8",
    )
    .bind(status)
    .bind(channel)
    .bind(attempts as i64)
    .bind(code)
    .bind(error)
    .bind(&next)
    .bind(&sent_at)
    .bind(&m.id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The KakaoTalk messages about an order (for ops and tests: what went out, by which channel).
pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, recipient, seq, template_code, status, channel, attempts, last_code,
                last_error, sent_at
         FROM kakao_messages WHERE order_id = $1 ORDER BY seq, recipient",
    )
    .bind(order_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<String, _>("id"),
                "recipient": r.get::<String, _>("recipient"),
                "seq": r.get::<i64, _>("seq"),
                "template_code": r.get::<String, _>("template_code"),
                "status": r.get::<String, _>("status"),
                "channel": r.get::<Option<String>, _>("channel"),
                "attempts": r.get::<i64, _>("attempts"),
                "last_code": r.get::<Option<String>, _>("last_code"),
                "last_error": r.get::<Option<String>, _>("last_error"),
                "sent_at": r.get::<Option<String>, _>("sent_at"),
            })
        })
        .collect())
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
