//! The notification service's contract, declared once: the requests it takes, the answers it
//! gives (notifications, inboxes, webhook subscriptions and their deliveries, a customer's
//! channels, the KakaoTalk messages sent), and a thin typed client. The service
//! (`baedal-notification`) serves exactly these types; the worker's activities and the api
//! send and read them, so no side builds or picks apart JSON of its own.
//!
//! A crate of its own rather than a module of the service: the api and the worker depend on
//! the contract and on reqwest only, never on the service's server code (axum, sqlx, the
//! delivery loops), and no cargo feature has to switch that code off. It must not hold any
//! service logic (validation, delivery, templates).

pub use baedal_service_client::CallError;
use baedal_service_client::ServiceClient;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::{Deserialize, Serialize};

/// The header naming whose hooks or channels a request is about (`ops`, `store:<store_id>`,
/// `customer:<customer_id>`): the api authorizes the person, the service trusts the api.
pub const OWNER: &str = "x-baedal-owner";

/// `POST /v1/notifications`: one order transition, for one or more recipients; stored once
/// per `(order_id, seq)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    pub order_id: String,
    pub seq: u32,
    /// Recipient ids: `customer:<id>`, `store:<id>`, `rider:<id>`, `ops`.
    pub recipients: Vec<String>,
    pub status: String,
    pub message: String,
    /// The order's store, on a notification of a status change (the events webhooks get);
    /// absent on alerts to ops (escalations, stuck orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// What a message to a person names (store, items, total, ETA: a KakaoTalk template's
    /// variables), on a status change; absent on alerts and from workers older than the
    /// KakaoTalk channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<baedal_domain::OrderBrief>,
}

/// The answer to a notification: `201` when it was new, `200` for a repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub accepted: bool,
    pub duplicate: bool,
}

/// One inbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub id: i64,
    pub recipient: String,
    pub order_id: String,
    pub seq: u32,
    pub status: String,
    pub message: String,
    pub created_at: String,
}

/// `GET /v1/notifications?recipient=&order_id=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub notifications: Vec<InboxEntry>,
}

/// `PUT /v1/admin/faults`, and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    pub unavailable: bool,
}

/// `POST /v1/hooks`: subscribe `url` to event types (`order.<status>`, or `*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    pub url: String,
    pub events: Vec<String>,
}

/// A hook as its owner sees it (never its secret, shown once at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub id: String,
    pub owner: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    /// Set when deliveries stopped for good: the receiver answered 410 Gone, or failed for
    /// longer than the service allows.
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
}

/// The answer to `POST /v1/hooks` (`201`): the hook and its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedHook {
    #[serde(flatten)]
    pub hook: Hook,
    pub secret: String,
}

/// The answer to `POST /v1/hooks/{id}/rotate-secret`: the new secret, and how long the one it
/// replaced keeps signing beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatedHook {
    #[serde(flatten)]
    pub hook: Hook,
    pub secret: String,
    pub previous_secret_valid_for_secs: u64,
}

/// `GET /v1/hooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookList {
    pub hooks: Vec<Hook>,
}

/// One event owed to one hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The `webhook-id`: the same for every attempt, so the receiver can drop repeats.
    pub id: String,
    pub hook_id: String,
    pub order_id: String,
    pub seq: u32,
    pub event_type: String,
    /// `pending` (an attempt is due at `next_attempt_at`, or under way until then),
    /// `succeeded`, `failed` (gave up: the schedule ran out, or the receiver answered 410), or
    /// `abandoned` (its hook was disabled or deleted first; `last_error` says which).
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// `GET /v1/hooks/{id}/deliveries?limit=`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

/// The answer to `POST /v1/hooks/{id}/deliveries/{delivery_id}/retry` (`202`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub queued: bool,
}

/// `GET`/`PUT /v1/channels`: how a customer hears about their orders. Without any choice
/// stored: the inbox only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPrefs {
    pub kakao: bool,
    pub inbox: bool,
    /// The number KakaoTalk reaches them on, in national form (`010-1234-5678`).
    pub phone: Option<String>,
}

/// `PUT /v1/channels`: a change of choices; `phone` absent keeps the number on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefsUpdate {
    pub kakao: bool,
    pub inbox: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// `POST /v1/phone/verify`: send a one-time code to `phone` through the KakaoTalk gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneVerify {
    pub phone: String,
}

/// The answer to `POST /v1/phone/verify` (`202`): where the code went, and for how long it
/// proves the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSent {
    /// In national form (`010-1234-5678`).
    pub phone: String,
    pub expires_in_secs: u64,
}

/// `POST /v1/phone/confirm`: the code the customer received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneConfirm {
    pub code: String,
}

/// The answer to `POST /v1/phone/confirm`: the number proven, now the one on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneVerified {
    /// In national form.
    pub phone: String,
    pub verified: bool,
}

/// One KakaoTalk message about an order: what went out, by which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KakaoMessage {
    pub id: String,
    pub recipient: String,
    pub seq: i64,
    pub template_code: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    /// `alimtalk`, or `sms` for the fallback, once sent.
    pub channel: Option<String>,
    pub attempts: i64,
    pub last_code: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
}

/// `GET /v1/kakao/messages?order_id=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KakaoMessages {
    pub messages: Vec<KakaoMessage>,
}

/// What a path segment may hold unescaped: an id's own characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-');

/// `segment` for a path: anything but an id's own characters is escaped.
fn seg(segment: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(segment, SEGMENT)
}

/// The notification service, called with the service token.
#[derive(Clone, Debug)]
pub struct NotificationClient {
    service: ServiceClient,
}

impl NotificationClient {
    /// A client with its own connection pool and short timeouts (the worker's).
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            service: ServiceClient::new("notification", base_url, token),
        }
    }

    /// A client over an existing connection pool (the api's, with its timeouts).
    pub fn with_http(
        http: reqwest::Client,
        base_url: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            service: ServiceClient::with_http("notification", http, base_url, token),
        }
    }

    pub fn base_url(&self) -> &str {
        self.service.base_url()
    }

    /// Send one notification; a repeat of `(order_id, seq)` is accepted as a duplicate.
    pub async fn notify(&self, n: &NotificationRequest) -> Result<Accepted, CallError> {
        let post = self
            .service
            .request(Method::POST, "/v1/notifications")
            .json(n);
        self.service.json(post).await
    }

    fn as_owner(&self, method: Method, path: &str, owner: &str) -> reqwest::RequestBuilder {
        self.service.request(method, path).header(OWNER, owner)
    }

    /// `owner`'s hooks.
    pub async fn hooks(&self, owner: &str) -> Result<HookList, CallError> {
        let get = self.as_owner(Method::GET, "/v1/hooks", owner);
        self.service.json(get).await
    }

    /// Subscribe a URL for `owner`.
    pub async fn create_hook(&self, owner: &str, new: &NewHook) -> Result<CreatedHook, CallError> {
        let post = self.as_owner(Method::POST, "/v1/hooks", owner).json(new);
        self.service.json(post).await
    }

    /// Delete `owner`'s hook `id` (`204`).
    pub async fn delete_hook(&self, owner: &str, id: &str) -> Result<(), CallError> {
        let path = format!("/v1/hooks/{}", seg(id));
        let delete = self.as_owner(Method::DELETE, &path, owner);
        self.service.send(delete).await.map(drop)
    }

    /// The deliveries of `owner`'s hook `id`, newest first.
    pub async fn hook_deliveries(
        &self,
        owner: &str,
        id: &str,
        limit: u32,
    ) -> Result<DeliveryList, CallError> {
        let path = format!("/v1/hooks/{}/deliveries?limit={limit}", seg(id));
        let get = self.as_owner(Method::GET, &path, owner);
        self.service.json(get).await
    }

    /// A new signing secret for `owner`'s hook `id`.
    pub async fn rotate_hook_secret(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<RotatedHook, CallError> {
        let path = format!("/v1/hooks/{}/rotate-secret", seg(id));
        let post = self.as_owner(Method::POST, &path, owner);
        self.service.json(post).await
    }

    /// Deliver `delivery_id` of `owner`'s hook `id` once more, now.
    pub async fn retry_delivery(
        &self,
        owner: &str,
        id: &str,
        delivery_id: &str,
    ) -> Result<Queued, CallError> {
        let path = format!(
            "/v1/hooks/{}/deliveries/{}/retry",
            seg(id),
            seg(delivery_id)
        );
        let post = self.as_owner(Method::POST, &path, owner);
        self.service.json(post).await
    }

    /// The channels of `owner` (`customer:<id>`).
    pub async fn channels(&self, owner: &str) -> Result<ChannelPrefs, CallError> {
        let get = self.as_owner(Method::GET, "/v1/channels", owner);
        self.service.json(get).await
    }

    /// Change the channels of `owner` (`customer:<id>`); answers what is now in force.
    pub async fn set_channels(
        &self,
        owner: &str,
        update: &PrefsUpdate,
    ) -> Result<ChannelPrefs, CallError> {
        let put = self
            .as_owner(Method::PUT, "/v1/channels", owner)
            .json(update);
        self.service.json(put).await
    }

    /// Send `owner` (`customer:<id>`) a code proving `phone`.
    pub async fn send_phone_code(&self, owner: &str, phone: &str) -> Result<CodeSent, CallError> {
        let body = PhoneVerify {
            phone: phone.to_owned(),
        };
        let post = self
            .as_owner(Method::POST, "/v1/phone/verify", owner)
            .json(&body);
        self.service.json(post).await
    }

    /// Prove `owner`'s number with the code they received.
    pub async fn confirm_phone(&self, owner: &str, code: &str) -> Result<PhoneVerified, CallError> {
        let body = PhoneConfirm {
            code: code.to_owned(),
        };
        let post = self
            .as_owner(Method::POST, "/v1/phone/confirm", owner)
            .json(&body);
        self.service.json(post).await
    }

    /// `recipient`'s newest `n` (1..=100) inbox entries, newest first.
    pub async fn newest(&self, recipient: &str, n: u32) -> Result<Inbox, CallError> {
        let n = n.to_string();
        let get = self.service.request_with_query(
            Method::GET,
            "/v1/notifications",
            &[("recipient", recipient), ("newest", n.as_str())],
        );
        self.service.json(get).await
    }

    /// The KakaoTalk messages about an order.
    pub async fn kakao_messages(&self, order_id: &str) -> Result<KakaoMessages, CallError> {
        let get = self.service.request_with_query(
            Method::GET,
            "/v1/kakao/messages",
            &[("order_id", order_id)],
        );
        self.service.json(get).await
    }
}
