//! Which channels a person hears through (the KakaoTalk channel, the in-app inbox) and the
//! Korean mobile number KakaoTalk reaches them on. Kept by the notification service, which
//! sends the messages; people set them through the api's `/v1/me/notifications`.

use baedal_db::Db;
use baedal_notification_client::ChannelPrefs;
use sqlx::Row;
use std::sync::LazyLock;

static PHONE_RE: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(baedal_domain::contact::KOREAN_MOBILE_PATTERN).expect("a valid pattern")
});

/// `phone` as E.164 (`+821012345678`) when it is a Korean mobile number.
pub fn korean_mobile(phone: &str) -> Option<String> {
    if !PHONE_RE.is_match(phone) {
        return None;
    }
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national = digits
        .strip_prefix("82")
        .unwrap_or(digits.trim_start_matches('0'));
    let national = national.trim_start_matches('0');
    Some(format!("+82{national}"))
}

/// An E.164 Korean mobile number as a Korean reads it (`010-1234-5678`).
pub fn national(e164: &str) -> String {
    let n = format!("0{}", e164.trim_start_matches("+82"));
    let (head, rest) = n.split_at(3.min(n.len()));
    let (mid, tail) = rest.split_at(rest.len().saturating_sub(4));
    format!("{head}-{mid}-{tail}")
}

/// Someone's choices. Without any stored: the inbox only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefs {
    pub kakao: bool,
    pub inbox: bool,
    /// E.164; shown to its owner in national form.
    pub phone: Option<String>,
}

/// The choices as their owner sees them: the number in national form.
impl From<Prefs> for ChannelPrefs {
    fn from(p: Prefs) -> Self {
        ChannelPrefs {
            kakao: p.kakao,
            inbox: p.inbox,
            phone: p.phone.as_deref().map(national),
        }
    }
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            kakao: false,
            inbox: true,
            phone: None,
        }
    }
}

/// A change of choices (`phone` absent keeps the number on file), as the api sends it.
pub use baedal_notification_client::PrefsUpdate;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PrefsError {
    #[error("phone must be a Korean mobile number, such as 010-1234-5678 or +82 10-1234-5678")]
    InvalidPhone,
    #[error("KakaoTalk needs a phone number: send one with \"kakao\": true")]
    PhoneRequired,
    #[error(
        "KakaoTalk goes only to a number you proved: POST /v1/me/phone/verify with the number, then POST /v1/me/phone/confirm with the code it received"
    )]
    PhoneNotVerified,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `recipient`'s choices, read through `ex` (the pool, or a transaction). KakaoTalk is on only
/// while the number on file is one they proved (`crate::phones`): a choice stored before
/// numbers were proven, or a number changed since, sends nothing.
pub async fn get<'e>(
    ex: impl sqlx::Executor<'e, Database = sqlx::Any>,
    recipient: &str,
) -> Result<Prefs, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.kakao, c.inbox, c.phone, v.verified_at FROM channel_prefs c
         LEFT JOIN phone_verifications v ON v.recipient = c.recipient AND v.phone = c.phone
            AND v.verified_at IS NOT NULL
         WHERE c.recipient = $1",
    )
    .bind(recipient)
    .fetch_optional(ex)
    .await?;
    Ok(row
        .map(|r| Prefs {
            kakao: r.get::<i64, _>("kakao") != 0
                && r.get::<Option<String>, _>("verified_at").is_some(),
            inbox: r.get::<i64, _>("inbox") != 0,
            phone: r.get("phone"),
        })
        .unwrap_or_default())
}

/// Apply `update` to `recipient`'s choices; nothing changes when it is refused.
pub async fn set(db: &Db, recipient: &str, update: &PrefsUpdate) -> Result<Prefs, PrefsError> {
    let phone = match &update.phone {
        Some(p) => Some(korean_mobile(p).ok_or(PrefsError::InvalidPhone)?),
        None => get(&db.pool, recipient).await?.phone,
    };
    match &phone {
        None if update.kakao => return Err(PrefsError::PhoneRequired),
        Some(p) if update.kakao && !crate::phones::is_verified(&db.pool, recipient, p).await? => {
            return Err(PrefsError::PhoneNotVerified);
        }
        _ => {}
    }
    let now = crate::engine::now();
    sqlx::query(
        "INSERT INTO channel_prefs (recipient, kakao, inbox, phone, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (recipient) DO UPDATE SET kakao = $2, inbox = $3, phone = $4, updated_at = $5",
    )
    .bind(recipient)
    .bind(update.kakao as i64)
    .bind(update.inbox as i64)
    .bind(&phone)
    .bind(&now)
    .execute(&db.pool)
    .await?;
    Ok(Prefs {
        kakao: update.kakao,
        inbox: update.inbox,
        phone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_mobile_numbers_in_every_common_spelling() {
        for ok in [
            "010-1234-5678",
            "01012345678",
            "010 1234 5678",
            "+82 10-1234-5678",
            "+821012345678",
            "+82-10-1234-5678",
        ] {
            assert_eq!(korean_mobile(ok).as_deref(), Some("+821012345678"), "{ok}");
        }
        assert_eq!(
            korean_mobile("011-123-4567").as_deref(),
            Some("+82111234567")
        );
        assert_eq!(
            korean_mobile("019-1234-5678").as_deref(),
            Some("+821912345678")
        );
        for bad in [
            "",
            "02-123-4567",      // a Seoul landline
            "010-123-4567",     // 010 numbers have eight digits
            "012-1234-5678",    // no such prefix
            "+1 010 1234 5678", // not Korean
            "+82 010-1234-5678",
            "010-1234-56789",
            "0101234567８",
            "010--1234-5678",
        ] {
            assert_eq!(korean_mobile(bad), None, "{bad}");
        }
        assert_eq!(national("+821012345678"), "010-1234-5678");
        assert_eq!(national("+82111234567"), "011-123-4567");
    }
}
