//! The KakaoTalk channel: an AlimTalk message to each customer who chose it, on every status
//! change of their order, through a message provider (a KakaoTalk business-message gateway).
//!
//! A message is a row written in the same transaction that accepts the notification (a restart
//! loses none), sent by the delivery engine ([`crate::engine`]) as webhooks are, at least
//! once, with the row's id as the provider's idempotency key (a repeat after a lost answer is
//! not a second message). The templates and their text are in the `message` module.
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

mod message;
mod provider;

pub use message::{
    Message, REFUNDED, REFUNDED_EVENT, Template, message, refunded_message, status_label, template,
    won,
};
pub use provider::{Answer, classify};

use crate::engine::{self, Channel, Deliverer, Limits, back_off, now};
use baedal_db::Db;
use baedal_domain::OrderStatus;
use baedal_notification_client::KakaoMessage;
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

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
    /// How the codes that prove a customer's number are sent and tried (`crate::phones`).
    pub verify: crate::phones::PhoneSettings,
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
            verify: crate::phones::PhoneSettings::default(),
        }
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
    dialect: baedal_db::Dialect,
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
    // Due at once by the database's clock, which decides what is due.
    let owed = sqlx::query(&format!(
        "INSERT INTO kakao_messages (id, recipient, order_id, seq, phone, template_code,
            variables, text, fallback_text, status, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, {}, $10)
         ON CONFLICT (recipient, order_id, seq) DO NOTHING",
        engine::sql_now(dialect)
    ))
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

/// Start sending what `db` owes through the provider, until the process ends.
pub fn spawn(db: Db, settings: KakaoSettings) -> Deliverer {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .user_agent("baedal-kakao/1")
        .build()
        .expect("a provider client");
    let limits = Limits {
        batch: BATCH,
        max_in_flight: settings.max_in_flight,
        // Messages have no group (`Channel::group` is `None`): the overall limit only.
        per_group: 0,
        lease: settings.timeout * 3,
        poll: settings.poll,
    };
    engine::spawn(db, Kakao { client, settings }, limits)
}

/// The KakaoTalk channel of the delivery engine.
struct Kakao {
    client: reqwest::Client,
    settings: KakaoSettings,
}

impl Channel for Kakao {
    type Item = Due;
    type Outcome = Answer;
    const TABLE: &'static str = "kakao_messages";
    const WHAT: &'static str = "KakaoTalk messages";

    fn id(m: &Due) -> &str {
        &m.id
    }

    async fn due(&self, db: &Db, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
        let rows = sqlx::query(&due_sql(db.dialect))
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

    async fn send(&self, m: &Due) -> Answer {
        provider::send(&self.client, &self.settings, m).await
    }

    async fn record(
        &self,
        db: &Db,
        m: &Due,
        lease: &str,
        answer: &Answer,
    ) -> Result<bool, sqlx::Error> {
        let settings = &self.settings;
        let attempts = m.attempts + 1;
        let sent_at = matches!(answer, Answer::Sent { .. }).then(now);
        let (status, channel, code, error, wait) = match answer {
            Answer::Sent { channel } => (
                "sent",
                Some(channel.as_str()),
                Some("0000"),
                None,
                Duration::ZERO,
            ),
            Answer::GiveUp { code, error } => {
                tracing::warn!(message = %m.id, %error, "KakaoTalk message given up");
                (
                    "failed",
                    None,
                    Some(code.as_str()),
                    Some(error.as_str()),
                    Duration::ZERO,
                )
            }
            Answer::Retry {
                code,
                error,
                retry_after,
            } => {
                let (status, wait) = back_off(&settings.schedule, attempts, *retry_after);
                (
                    status,
                    None,
                    Some(code.as_str()),
                    Some(error.as_str()),
                    wait,
                )
            }
        };
        // Fenced: only the attempt that holds the lease writes its outcome.
        let applied = sqlx::query(&format!(
            "UPDATE kakao_messages SET status = $1, channel = $2, attempts = attempts + 1,
                last_code = $3, last_error = $4, next_attempt_at = {next},
                sent_at = COALESCE($6, sent_at), lease_token = NULL
             WHERE id = $7 AND lease_token = $8",
            next = engine::sql_after(db.dialect, "$5"),
        ))
        .bind(status)
        .bind(channel)
        .bind(code)
        .bind(error)
        .bind(engine::millis(wait))
        .bind(&sent_at)
        .bind(&m.id)
        .bind(lease)
        .execute(&db.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(applied)
    }
}

/// The due scan of KakaoTalk messages: pending and due now by the database's clock, the
/// longest due first. One range of `kakao_messages_due (status, next_attempt_at)`: only
/// pending rows are read, never the sent and failed history. Messages have no per-recipient
/// fairness to keep: the provider is one endpoint, and its answer time is everyone's.
pub(crate) fn due_sql(dialect: baedal_db::Dialect) -> String {
    format!(
        "SELECT * FROM kakao_messages WHERE status = 'pending' AND next_attempt_at <= {}
         ORDER BY next_attempt_at LIMIT $1",
        engine::sql_now(dialect)
    )
}

/// A message due, as its row holds it.
struct Due {
    id: String,
    phone: String,
    template_code: String,
    variables: String,
    text: String,
    fallback: String,
    attempts: u32,
}

/// The KakaoTalk messages about an order (for ops and tests: what went out, by which channel).
pub async fn of_order(db: &Db, order_id: &str) -> Result<Vec<KakaoMessage>, sqlx::Error> {
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
        .map(|r| KakaoMessage {
            id: r.get("id"),
            recipient: r.get("recipient"),
            seq: r.get("seq"),
            template_code: r.get("template_code"),
            status: r.get("status"),
            channel: r.get("channel"),
            attempts: r.get("attempts"),
            last_code: r.get("last_code"),
            last_error: r.get("last_error"),
            sent_at: r.get("sent_at"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{lease_rows, new_token};

    #[tokio::test]
    async fn a_late_outcome_never_undoes_a_sent_message() {
        let db = baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &crate::migrations(),
        )
        .await
        .unwrap();
        let n = crate::NotificationRequest {
            order_id: "ord_1".into(),
            seq: 2,
            recipients: vec!["customer:c1".into()],
            status: "accepted".into(),
            message: "accepted".into(),
            store_id: Some("st_1".into()),
            order: Some(baedal_domain::OrderBrief {
                store_name: "성수 김밥".into(),
                summary: "참치김밥 2개".into(),
                total: 9000,
                eta_minutes: None,
            }),
        };
        let mut tx = db.pool.begin().await.unwrap();
        let at = now();
        let owed = enqueue(&mut tx, db.dialect, &n, "customer:c1", "+821012345678", &at);
        assert!(owed.await.unwrap());
        tx.commit().await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kakao = Kakao {
            client: reqwest::Client::new(),
            settings: KakaoSettings::new("http://127.0.0.1:9".into(), "k".into(), "s".into()),
        };
        let due = kakao.due(&db, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        let m = &due[0];
        let lease = |token: String, for_: Duration| {
            let db = db.clone();
            let id = m.id.clone();
            async move {
                let taken = lease_rows(&db, "kakao_messages", &[&id], &token, for_).await;
                assert!(taken.unwrap().contains(&id));
                token
            }
        };
        // Attempt A's lease runs out (at once, here); attempt B takes the message and sends it.
        let a = lease(new_token(), Duration::ZERO).await;
        let b = lease(new_token(), Duration::from_secs(60)).await;
        assert!(kakao.due(&db, 10).await.unwrap().is_empty());
        let sent = Answer::Sent {
            channel: "alimtalk".into(),
        };
        assert!(kakao.record(&db, m, &b, &sent).await.unwrap());
        // A's late "the provider failed, try again": nothing changes.
        let retry = Answer::Retry {
            code: "9999".into(),
            error: "timed out".into(),
            retry_after: None,
        };
        assert!(!kakao.record(&db, m, &a, &retry).await.unwrap());
        let after = of_order(&db, "ord_1").await.unwrap();
        assert_eq!(after[0].status, "sent");
        assert_eq!(after[0].attempts, 1);
        assert_eq!(after[0].last_error, None);
        assert!(
            kakao.due(&db, 10).await.unwrap().is_empty(),
            "not owed again"
        );
    }
}
