//! Proving a phone number before KakaoTalk messages go to it. Any number used to be taken, so
//! every status of every order could be sent to a stranger's phone. Now a customer asks for a
//! one-time code sent to the number through the same KakaoTalk gateway that carries the
//! messages ([`Phones::send_code`]), and proves the number by giving the code back
//! ([`Phones::confirm`]); only a proven number can have KakaoTalk switched on
//! (`crate::channels::set`), and a number on file that was never proven is treated as off
//! when messages are owed (`crate::channels::get`).
//!
//! The code is six random digits, kept only as an HMAC keyed from the service token (a copy of
//! the database alone does not give the codes away: six digits hashed without a key are found
//! by trying a million), valid for [`PhoneSettings::code_ttl`], tried at most
//! [`PhoneSettings::attempts`] times (each try counted before it is checked, in one guarded
//! update, so concurrent guesses cannot exceed it). Codes sent are limited per customer and
//! per number ([`PhoneSettings::sends`] per [`PhoneSettings::sends_window`]): the gateway costs
//! money per message and a stranger's phone must not be flooded. The limit is read, then
//! counted, without a lock: concurrent sends of one customer may pass it by as many as run at
//! once, which bounds nothing that matters (the per-request limits of the api come first).
//!
//! One row per customer and number (`phone_verifications`); the unproven ones go a day after
//! their last code (`crate::retention`).

use crate::channels;
use crate::engine;
use crate::kakao::{Answer, KakaoSettings, classify};
use baedal_db::Db;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::time::Duration;

/// The template the code goes out with (approved with the gateway as the status ones are).
pub const TEMPLATE: &str = "BAEDAL_PHONE_VERIFY";

/// How codes are sent and tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneSettings {
    /// How long a code is valid (`BAEDAL_PHONE_CODE_TTL`, 5 minutes).
    pub code_ttl: Duration,
    /// Tries per code (`BAEDAL_PHONE_CODE_ATTEMPTS`, 5).
    pub attempts: u32,
    /// Codes sent per customer, and per number, within `sends_window`
    /// (`BAEDAL_PHONE_CODE_SENDS`, 3).
    pub sends: u32,
    /// `BAEDAL_PHONE_CODE_SENDS_WINDOW` (15 minutes).
    pub sends_window: Duration,
}

impl Default for PhoneSettings {
    fn default() -> Self {
        Self {
            code_ttl: Duration::from_secs(5 * 60),
            attempts: 5,
            sends: 3,
            sends_window: Duration::from_secs(15 * 60),
        }
    }
}

/// A code sent: to which number (national form), valid for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSent {
    pub phone: String,
    pub expires_in: Duration,
}

/// Why no code was sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("phone must be a Korean mobile number, such as 010-1234-5678 or +82 10-1234-5678")]
    InvalidPhone,
    #[error(
        "the KakaoTalk gateway refused the number as not a mobile number that can receive messages; check it"
    )]
    NumberRefused,
    #[error("too many codes were sent {0} in the last {1} minutes; ask again after Retry-After")]
    TooManySends(&'static str, u64, Duration),
    #[error("the KakaoTalk gateway did not take the code: {0}")]
    Gateway(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Why a code did not prove the number.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the code is six digits, as the KakaoTalk message showed it")]
    Malformed,
    #[error("no code is waiting: ask for one with POST /v1/me/phone/verify")]
    NoCode,
    #[error("the code has expired: ask for a new one with POST /v1/me/phone/verify")]
    Expired,
    #[error("this code was tried too many times: ask for a new one with POST /v1/me/phone/verify")]
    TooManyAttempts,
    #[error("wrong code: {0} tries left before a new code is needed")]
    Wrong(u32),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Sending and checking codes through the KakaoTalk gateway.
#[derive(Clone)]
pub struct Phones {
    db: Db,
    client: reqwest::Client,
    kakao: KakaoSettings,
    settings: PhoneSettings,
    /// The HMAC key of the codes.
    key: [u8; 32],
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or_default()
}

fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t - chrono::Duration::from_std(d).unwrap_or_default()
}

impl Phones {
    /// Codes through the gateway of `kakao`, their HMAC keyed from `service_token` (a secret
    /// every replica of the service holds, so any replica checks a code another sent).
    pub fn new(db: Db, kakao: KakaoSettings, service_token: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(kakao.timeout)
            .user_agent("baedal-kakao/1")
            .build()
            .expect("a provider client");
        Self {
            db,
            client,
            settings: kakao.verify.clone(),
            kakao,
            key: code_key(service_token),
        }
    }

    fn mac(&self, recipient: &str, phone: &str) -> Hmac<Sha256> {
        code_mac(&self.key, recipient, phone)
    }

    fn hash(&self, recipient: &str, phone: &str, code: &str) -> String {
        code_hash(&self.key, recipient, phone, code)
    }

    /// Codes sent since `since` to `recipient` (or to `phone`), and when the first of them
    /// leaves the window.
    async fn sent_since(
        &self,
        column: &str,
        value: &str,
        since: &str,
    ) -> Result<(u32, Option<String>), sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT CAST(COALESCE(SUM(sends), 0) AS BIGINT) AS sends, MIN(window_start) AS first
             FROM phone_verifications WHERE {column} = $1 AND window_start > $2"
        ))
        .bind(value)
        .bind(since)
        .fetch_one(&self.db.pool)
        .await?;
        Ok((
            row.try_get::<i64, _>("sends")?.max(0) as u32,
            row.try_get::<Option<String>, _>("first")?,
        ))
    }

    /// Send `recipient` a new code for `phone` (any common spelling of a Korean mobile
    /// number); the code sent before for that number stops working.
    pub async fn send_code(&self, recipient: &str, phone: &str) -> Result<CodeSent, SendError> {
        let phone = channels::korean_mobile(phone).ok_or(SendError::InvalidPhone)?;
        let now = Utc::now();
        let window = self.settings.sends_window;
        let since = stamp(before(now, window));
        for (column, value, whose) in [
            ("recipient", recipient, "to you"),
            ("phone", phone.as_str(), "to this number"),
        ] {
            let (sent, first) = self.sent_since(column, value, &since).await?;
            if sent >= self.settings.sends {
                let free_at = first
                    .and_then(|f| DateTime::parse_from_rfc3339(&f).ok())
                    .map(|f| after(f.with_timezone(&Utc), window))
                    .unwrap_or(after(now, window));
                let wait = (free_at - now).to_std().unwrap_or_default();
                return Err(SendError::TooManySends(
                    whose,
                    window.as_secs() / 60,
                    wait.max(Duration::from_secs(1)),
                ));
            }
        }
        // Six digits from the system's random source (a v4 UUID's 122 random bits: the modulo
        // bias is below 10^-30).
        let code = format!("{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000);
        let expires = after(now, self.settings.code_ttl);
        sqlx::query(
            "INSERT INTO phone_verifications (recipient, phone, code_hash, expires_at, attempts,
                sends, window_start, sent_at, verified_at)
             VALUES ($1, $2, $3, $4, 0, 1, $5, $5, NULL)
             ON CONFLICT (recipient, phone) DO UPDATE SET code_hash = $3, expires_at = $4,
                attempts = 0, sent_at = $5,
                sends = CASE WHEN phone_verifications.window_start > $6
                    THEN phone_verifications.sends + 1 ELSE 1 END,
                window_start = CASE WHEN phone_verifications.window_start > $6
                    THEN phone_verifications.window_start ELSE $5 END",
        )
        .bind(recipient)
        .bind(&phone)
        .bind(self.hash(recipient, &phone, &code))
        .bind(stamp(expires))
        .bind(stamp(now))
        .bind(&since)
        .execute(&self.db.pool)
        .await?;
        match self.deliver(&phone, &code).await {
            Answer::Sent { .. } => Ok(CodeSent {
                phone: channels::national(&phone),
                expires_in: self.settings.code_ttl,
            }),
            Answer::GiveUp { code, .. } if code == "3008" || code == "3018" => {
                Err(SendError::NumberRefused)
            }
            Answer::GiveUp { error, .. } | Answer::Retry { error, .. } => {
                tracing::warn!(%error, "a phone verification code was not sent");
                Err(SendError::Gateway(
                    "try again shortly; if it keeps failing, the operator must check the \
                     KakaoTalk gateway"
                        .into(),
                ))
            }
        }
    }

    /// Send `code` to `phone` (E.164) at once, not through the delivery loop: a code is worth
    /// nothing minutes later, and the customer waits for it. A gateway that failed or was busy
    /// is tried once more (with the same idempotency key: never a second message).
    async fn deliver(&self, phone: &str, code: &str) -> Answer {
        let id = format!("kver_{}", uuid::Uuid::new_v4().simple());
        match self.attempt(&id, phone, code).await {
            Answer::Retry { retry_after, .. }
                if retry_after.is_none_or(|r| r <= Duration::from_secs(1)) =>
            {
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_millis(200))).await;
                self.attempt(&id, phone, code).await
            }
            answer => answer,
        }
    }

    /// One attempt at sending `code` as message `id`.
    async fn attempt(&self, id: &str, phone: &str, code: &str) -> Answer {
        let minutes = self.settings.code_ttl.as_secs().div_ceil(60);
        let text = format!(
            "[배달] 인증번호 {code}\n{minutes}분 안에 앱에 입력해 주세요. 요청하지 않았다면 이 메시지를 무시하세요."
        );
        let body = json!({
            "sender_key": self.kakao.sender,
            "template_code": TEMPLATE,
            "recipient": channels::national(phone).replace('-', ""),
            "message": text,
            "variables": {"인증번호": code, "유효시간": format!("{minutes}분")},
            "fallback": {"type": "SMS", "message": format!("[배달] 인증번호 {code}")},
            "message_id": id,
        });
        let sent = self
            .client
            .post(&self.kakao.url)
            .bearer_auth(&self.kakao.key)
            .header("Idempotency-Key", id)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let http = resp.status().as_u16();
                let retry_after = engine::retry_after(resp.headers());
                let body = resp.json().await.unwrap_or(serde_json::Value::Null);
                classify(http, &body, retry_after)
            }
            Err(e) => Answer::Retry {
                code: String::new(),
                error: format!("could not reach the provider: {e}"),
                retry_after: None,
            },
        }
    }

    /// Prove the number of `recipient`'s latest code with `code`: the number becomes the one
    /// on file (E.164 answered), proven; a number proven before stops being so.
    pub async fn confirm(&self, recipient: &str, code: &str) -> Result<String, ConfirmError> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfirmError::Malformed);
        }
        let row = sqlx::query(
            "SELECT phone, code_hash, expires_at, attempts FROM phone_verifications
             WHERE recipient = $1 AND code_hash IS NOT NULL ORDER BY sent_at DESC LIMIT 1",
        )
        .bind(recipient)
        .fetch_optional(&self.db.pool)
        .await?
        .ok_or(ConfirmError::NoCode)?;
        let phone: String = row.get("phone");
        let hash: String = row.get("code_hash");
        let expires: String = row.get("expires_at");
        let now = stamp(Utc::now());
        if expires <= now {
            return Err(ConfirmError::Expired);
        }
        let max = i64::from(self.settings.attempts);
        // Counted before it is checked, and only while tries are left.
        let counted = sqlx::query(
            "UPDATE phone_verifications SET attempts = attempts + 1
             WHERE recipient = $1 AND phone = $2 AND code_hash = $3 AND attempts < $4",
        )
        .bind(recipient)
        .bind(&phone)
        .bind(&hash)
        .bind(max)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        if !counted {
            return Err(ConfirmError::TooManyAttempts);
        }
        let mut mac = self.mac(recipient, &phone);
        mac.update(code.as_bytes());
        let expected = hex::decode(&hash).unwrap_or_default();
        if mac.verify_slice(&expected).is_err() {
            let used = row.get::<i64, _>("attempts") + 1;
            return Err(ConfirmError::Wrong((max - used).max(0) as u32));
        }
        let mut tx = self.db.pool.begin().await?;
        sqlx::query(
            "UPDATE phone_verifications SET verified_at = NULL
             WHERE recipient = $1 AND phone <> $2 AND verified_at IS NOT NULL",
        )
        .bind(recipient)
        .bind(&phone)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE phone_verifications SET verified_at = $3, code_hash = NULL
             WHERE recipient = $1 AND phone = $2",
        )
        .bind(recipient)
        .bind(&phone)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        // The proven number is the one on file; the channels chosen stay as they were.
        sqlx::query(
            "INSERT INTO channel_prefs (recipient, kakao, inbox, phone, updated_at)
             VALUES ($1, 0, 1, $2, $3)
             ON CONFLICT (recipient) DO UPDATE SET phone = $2, updated_at = $3",
        )
        .bind(recipient)
        .bind(&phone)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(phone)
    }
}

/// The HMAC key of the codes, from the service token.
fn code_key(service_token: &str) -> [u8; 32] {
    Sha256::digest(format!("baedal phone verification codes\n{service_token}")).into()
}

/// The HMAC of a code, bound to its customer and number, before the code is added.
fn code_mac(key: &[u8; 32], recipient: &str, phone: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(recipient.as_bytes());
    mac.update(b"\n");
    mac.update(phone.as_bytes());
    mac.update(b"\n");
    mac
}

/// A code as it is kept (hex).
fn code_hash(key: &[u8; 32], recipient: &str, phone: &str, code: &str) -> String {
    let mut mac = code_mac(key, recipient, phone);
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `recipient` proved `phone` (E.164) and it is still their proven number.
pub async fn is_verified<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    recipient: &str,
    phone: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM phone_verifications
         WHERE recipient = $1 AND phone = $2 AND verified_at IS NOT NULL",
    )
    .bind(recipient)
    .bind(phone)
    .fetch_optional(ex)
    .await?
    .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A gateway that takes every message and keeps the last code it carried.
    async fn gateway() -> (String, Arc<Mutex<Option<String>>>) {
        let last: Arc<Mutex<Option<String>>> = Arc::default();
        let kept = last.clone();
        let app = axum::Router::new().route(
            "/send",
            axum::routing::post(move |axum::Json(b): axum::Json<serde_json::Value>| {
                let kept = kept.clone();
                async move {
                    *kept.lock().unwrap() = b["variables"]["인증번호"].as_str().map(str::to_owned);
                    axum::Json(json!({"code": "0000", "message": "sent", "channel": "alimtalk"}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, last)
    }

    /// On both dialects: tries and sends are counted, a proven number is the one on file.
    #[tokio::test]
    async fn codes_prove_a_number_within_their_tries_and_sends_are_limited() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = baedal_db::open(
            &baedal_db::scratch_url().await,
            baedal_db::PoolSettings::default(),
            &crate::migrations(),
        )
        .await
        .unwrap();
        let (url, last) = gateway().await;
        let phones = Phones::new(
            db.clone(),
            KakaoSettings::new(url, "k".into(), "s".into()),
            "svc",
        );
        let code = || last.lock().unwrap().clone().unwrap();
        let sent = phones
            .send_code("customer:a", "010-1111-2222")
            .await
            .unwrap();
        assert_eq!(sent.phone, "010-1111-2222");
        let wrong = format!("{:06}", (code().parse::<u32>().unwrap() + 1) % 1_000_000);
        for left in [4, 3] {
            let e = phones.confirm("customer:a", &wrong).await.unwrap_err();
            assert!(matches!(e, ConfirmError::Wrong(l) if l == left), "{e}");
        }
        assert!(
            !is_verified(&db.pool, "customer:a", "+821011112222")
                .await
                .unwrap()
        );
        assert_eq!(
            phones.confirm("customer:a", &code()).await.unwrap(),
            "+821011112222"
        );
        assert!(
            is_verified(&db.pool, "customer:a", "+821011112222")
                .await
                .unwrap()
        );
        let prefs = channels::get(&db.pool, "customer:a").await.unwrap();
        assert_eq!(prefs.phone.as_deref(), Some("+821011112222"));
        assert!(matches!(
            phones.confirm("customer:a", &code()).await,
            Err(ConfirmError::NoCode)
        ));
        // Two more codes to this customer, then none for a while, to any number.
        for n in ["010-1111-2222", "010-3333-4444"] {
            phones.send_code("customer:a", n).await.unwrap();
        }
        let e = phones.send_code("customer:a", "010-5555-6666").await;
        assert!(
            matches!(e, Err(SendError::TooManySends("to you", 15, _))),
            "{e:?}"
        );
        // The number was sent two codes: one more to it, from anyone, then no more.
        phones
            .send_code("customer:b", "010-1111-2222")
            .await
            .unwrap();
        let e = phones.send_code("customer:c", "010-1111-2222").await;
        assert!(
            matches!(e, Err(SendError::TooManySends("to this number", ..))),
            "{e:?}"
        );
    }

    #[test]
    fn a_code_is_kept_only_as_a_keyed_hash_bound_to_its_customer_and_number() {
        let a = code_key("token-a");
        let h = code_hash(&a, "customer:c1", "+821012345678", "123456");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("123456"));
        assert_eq!(h, code_hash(&a, "customer:c1", "+821012345678", "123456"));
        assert_ne!(h, code_hash(&a, "customer:c2", "+821012345678", "123456"));
        assert_ne!(h, code_hash(&a, "customer:c1", "+821012345679", "123456"));
        let b = code_key("token-b");
        assert_ne!(h, code_hash(&b, "customer:c1", "+821012345678", "123456"));
    }
}
