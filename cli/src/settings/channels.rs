//! How the notification service reaches people: webhooks and KakaoTalk.

use super::Secret;
use clap::Args;
use std::time::Duration;

/// How the notification service delivers webhooks.
#[derive(Debug, Clone, Args)]
pub struct Hooks {
    /// Let webhooks point at loopback, private, link-local and metadata addresses, and use
    /// plain http: for tests with a local receiver only (`baedal dev` refuses them too).
    #[arg(long, env = "BAEDAL_HOOKS_ALLOW_PRIVATE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub hooks_allow_private: bool,
    /// Waits between a webhook delivery's attempts, comma-separated (default: the Standard
    /// Webhooks schedule, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h).
    #[arg(long, env = "BAEDAL_HOOKS_RETRY_SCHEDULE", value_delimiter = ',', value_parser = humantime::parse_duration)]
    pub hooks_retry_schedule: Vec<Duration>,
    /// A webhook whose every delivery has failed for this long is disabled (its owner is told).
    #[arg(long, env = "BAEDAL_HOOKS_DISABLE_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    pub hooks_disable_after: Duration,
}

impl Hooks {
    pub fn delivery(&self) -> baedal_notification::delivery::DeliverySettings {
        let mut settings = baedal_notification::delivery::DeliverySettings {
            allow_private: self.hooks_allow_private,
            disable_after: self.hooks_disable_after,
            ..Default::default()
        };
        if !self.hooks_retry_schedule.is_empty() {
            settings.schedule = self.hooks_retry_schedule.clone();
        }
        settings
    }
}

/// The KakaoTalk channel.
#[derive(Debug, Clone, Args)]
pub struct Kakao {
    /// The KakaoTalk message provider's send URL (an AlimTalk gateway); unset, the KakaoTalk
    /// channel is off and customers hear through their inbox only.
    #[arg(long, env = "BAEDAL_KAKAO_URL")]
    pub kakao_url: Option<String>,
    /// The provider's API key (sent as a bearer token).
    #[arg(long, env = "BAEDAL_KAKAO_KEY", hide_env_values = true)]
    pub kakao_key: Option<Secret>,
    /// The KakaoTalk channel's sender key (발신 프로필 키) the templates are approved for.
    #[arg(long, env = "BAEDAL_KAKAO_SENDER")]
    pub kakao_sender: Option<String>,
    /// Waits between a KakaoTalk message's attempts, comma-separated (default 5s, 30s, 2m,
    /// 10m, 30m: a status message is stale after an hour).
    #[arg(long, env = "BAEDAL_KAKAO_RETRY_SCHEDULE", value_delimiter = ',', value_parser = humantime::parse_duration)]
    pub kakao_retry_schedule: Vec<Duration>,
    /// How long a one-time code proving a customer's phone number is valid.
    #[arg(long, env = "BAEDAL_PHONE_CODE_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub phone_code_ttl: Duration,
    /// Tries per code before a new one is needed.
    #[arg(long, env = "BAEDAL_PHONE_CODE_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub phone_code_attempts: u32,
    /// Codes sent per customer, and per number, within BAEDAL_PHONE_CODE_SENDS_WINDOW.
    #[arg(long, env = "BAEDAL_PHONE_CODE_SENDS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub phone_code_sends: u32,
    /// The window of BAEDAL_PHONE_CODE_SENDS.
    #[arg(long, env = "BAEDAL_PHONE_CODE_SENDS_WINDOW", default_value = "15m", value_parser = humantime::parse_duration)]
    pub phone_code_sends_window: Duration,
}

impl Kakao {
    /// Outside dev: the gateway is reached over https (phone numbers and the provider's key
    /// cross it).
    pub fn require_production(&self) -> anyhow::Result<()> {
        match self.kakao_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => super::require_https("BAEDAL_KAKAO_URL", url, false),
            None => Ok(()),
        }
    }

    /// The KakaoTalk channel, when BAEDAL_KAKAO_URL is set (then the key and sender must be).
    pub fn settings(&self) -> anyhow::Result<Option<baedal_notification::kakao::KakaoSettings>> {
        let Some(url) = self.kakao_url.clone().filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        anyhow::ensure!(
            url.starts_with("https://") || url.starts_with("http://"),
            "BAEDAL_KAKAO_URL must be the provider's http(s) send URL, not {url:?}"
        );
        let missing = |name: &str| {
            anyhow::anyhow!("BAEDAL_KAKAO_URL is set but {name} is not: set both, or neither")
        };
        let key = self
            .kakao_key
            .as_ref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| missing("BAEDAL_KAKAO_KEY"))?;
        let sender = self
            .kakao_sender
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("BAEDAL_KAKAO_SENDER"))?;
        let mut settings =
            baedal_notification::kakao::KakaoSettings::new(url, key.expose().to_owned(), sender);
        if !self.kakao_retry_schedule.is_empty() {
            settings.schedule = self.kakao_retry_schedule.clone();
        }
        anyhow::ensure!(
            !self.phone_code_ttl.is_zero() && !self.phone_code_sends_window.is_zero(),
            "BAEDAL_PHONE_CODE_TTL and BAEDAL_PHONE_CODE_SENDS_WINDOW must be more than zero"
        );
        settings.verify = baedal_notification::phones::PhoneSettings {
            code_ttl: self.phone_code_ttl,
            attempts: self.phone_code_attempts,
            sends: self.phone_code_sends,
            sends_window: self.phone_code_sends_window,
        };
        Ok(Some(settings))
    }
}
