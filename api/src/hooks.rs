//! `/v1/hooks`: webhook subscriptions, for ops (every order) and store owners (their store's
//! orders). The api authorizes the caller and names the owner; the notification service owns
//! the hooks and delivers to them, so this module only validates and forwards. Another
//! owner's hook is 404, as an order is.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::limits::{Limit, RateNote};
use crate::notification::{notification_service, pass_on, refused};
use crate::pagination::page_limit;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baedal_auth::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the notification service is (kept in the api's settings).
pub use crate::state::HookService;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(deliveries))
        .routes(routes!(rotate_secret))
        .routes(routes!(retry))
}

/// What a hook URL looks like: http(s); an IPv4 address or a DNS name whose last label starts
/// with a letter (a numeric one would read as an address) and without `--` (no punycode
/// labels); an optional port; a path of plain characters (no credentials, query or fragment).
/// Every URL it matches parses. The schema states the same pattern (a test keeps the two
/// equal).
pub const URL_PATTERN: &str = "^https?://((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}|([a-z0-9]+(-[a-z0-9]+)*\\.)*[a-z][a-z0-9]*(-[a-z0-9]+)*)(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(/[A-Za-z0-9._~-]*)*$";
/// The longest hook URL.
pub const MAX_URL_CHARS: usize = 2048;

static URL_RE: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(URL_PATTERN).expect("a valid pattern"));

/// A new hook.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    /// Where events are POSTed: https, on the public internet (private, loopback, link-local
    /// and metadata addresses are refused unless the deployment sets
    /// BAEDAL_HOOKS_ALLOW_PRIVATE=1).
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^https?://((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}|([a-z0-9]+(-[a-z0-9]+)*\\.)*[a-z][a-z0-9]*(-[a-z0-9]+)*)(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(/[A-Za-z0-9._~-]*)*$"
    )]
    pub url: String,
    /// Event types (`order.<status>`), or `["*"]` for all.
    #[schema(min_items = 1, max_items = 12)]
    pub events: Vec<EventType>,
}

impl NewHook {
    /// The constraints the schema states, enforced.
    fn check(&self) -> ApiResult<()> {
        if self.url.chars().count() > MAX_URL_CHARS || !URL_RE.is_match(&self.url) {
            return Err(ApiError::new(
                ApiCode::InvalidHookUrl,
                "url must be http(s)://host[:port][/path], without credentials, query or fragment, at most 2048 characters",
            ));
        }
        if self.events.is_empty() || self.events.len() > 12 {
            return Err(ApiError::new(
                ApiCode::InvalidHook,
                "events must list 1..12 event types (or [\"*\"])",
            ));
        }
        Ok(())
    }
}

/// An event type a hook can subscribe to.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "*")]
    All,
    #[serde(rename = "order.placed")]
    Placed,
    #[serde(rename = "order.accepted")]
    Accepted,
    #[serde(rename = "order.cooking")]
    Cooking,
    #[serde(rename = "order.ready_for_pickup")]
    ReadyForPickup,
    #[serde(rename = "order.rider_assigned")]
    RiderAssigned,
    #[serde(rename = "order.picked_up")]
    PickedUp,
    #[serde(rename = "order.delivered")]
    Delivered,
    #[serde(rename = "order.completed")]
    Completed,
    #[serde(rename = "order.rejected")]
    Rejected,
    #[serde(rename = "order.canceled")]
    Canceled,
    #[serde(rename = "order.payment_failed")]
    PaymentFailed,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// How many deliveries, newest first (1..100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Whose hooks the caller manages: ops all orders', a store owner their store's.
fn owner(caller: &Caller) -> ApiResult<String> {
    match caller.role() {
        Role::Ops => Ok("ops".into()),
        Role::StoreOwner => caller
            .0
            .store_id
            .as_deref()
            .map(|s| format!("store:{s}"))
            .ok_or_else(|| ApiError::forbidden("a store owner's token must carry store_id")),
        _ => Err(ApiError::forbidden("hooks are for ops and store owners")),
    }
}

impl NewHook {
    /// The hook as the notification service takes it: the same fields, event types by name.
    fn to_service(&self) -> baedal_notification_client::NewHook {
        serde_json::from_value(serde_json::to_value(self).expect("a hook serializes"))
            .expect("the api's hook is the service's, with typed events")
    }
}

/// Subscribe a URL to order events. The answer carries the signing secret (`whsec_…`), shown
/// this once: deliveries are signed with it (Standard Webhooks `webhook-signature`).
#[utoipa::path(post, path = "/v1/hooks", security(("bearer" = [])), request_body = NewHook,
    responses((status = 201, description = "{id, owner, url, events, created_at, secret}"),
        (status = 403, description = "not ops or a store owner"),
        (status = 409, description = "`too_many_hooks`: the owner has as many hooks as one may (BAEDAL_HOOKS_PER_OWNER)"),
        (status = 422, description = "bad URL (not https, private address, unresolvable) or events"),
        (status = 429, description = "`rate_limited`: too many registrations and retries (BAEDAL_RATE_HOOK_CHANGES)")))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    note: RateNote,
    ApiJson(body): ApiJson<NewHook>,
) -> ApiResult<Response> {
    let owner = owner(&caller)?;
    state.limits.check(Limit::HookChange, &owner, &note)?;
    body.check()?;
    let service = notification_service(&state)?;
    // The cap is checked against the owner's hooks as the service lists them: two
    // registrations at once may both pass it, which the pace above keeps to a few.
    let cap = state.limits.settings.hooks_per_owner;
    let held = match service.hooks(&owner).await {
        Ok(list) => list.hooks.len(),
        Err(e) => return refused(e),
    };
    if held >= cap as usize {
        return Err(ApiError::new(
            ApiCode::TooManyHooks,
            format!(
                "you have {held} hooks, the most one owner may have ({cap}): delete one you no \
                 longer need (DELETE /v1/hooks/{{id}}), then register again"
            ),
        ));
    }
    let answer = service.create_hook(&owner, &body.to_service()).await;
    pass_on(StatusCode::CREATED, answer)
}

/// The caller's hooks (without their secrets).
#[utoipa::path(get, path = "/v1/hooks", security(("bearer" = [])),
    responses((status = 200, description = "{\"hooks\": [{id, owner, url, events, created_at, disabled_at, disabled_reason}]}"),
        (status = 403)))]
async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let owner = owner(&caller)?;
    let answer = notification_service(&state)?.hooks(&owner).await;
    pass_on(StatusCode::OK, answer)
}

/// Delete a hook: nothing more is delivered to it.
#[utoipa::path(delete, path = "/v1/hooks/{id}", security(("bearer" = [])), params(("id" = String, Path, description = "hook id")),
    responses((status = 204), (status = 403), (status = 404, description = "no such hook of yours")))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let owner = owner(&caller)?;
    match notification_service(&state)?.delete_hook(&owner, &id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e) => refused(e),
    }
}

/// A hook's deliveries, newest first: attempts, the receiver's last status code, the last error.
#[utoipa::path(get, path = "/v1/hooks/{id}/deliveries", security(("bearer" = [])),
    params(("id" = String, Path, description = "hook id"), DeliveriesQuery),
    responses((status = 200, description = "{\"deliveries\": [{id, order_id, seq, event_type, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at}]}"),
        (status = 403), (status = 404, description = "no such hook of yours")))]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Response> {
    let limit = page_limit(q.limit, 50, 100)?;
    let owner = owner(&caller)?;
    let answer = notification_service(&state)?
        .hook_deliveries(&owner, &id, limit)
        .await;
    pass_on(StatusCode::OK, answer)
}

/// A new signing secret; the old one keeps signing beside it for 24 hours, so receivers can
/// switch without missing a delivery.
#[utoipa::path(post, path = "/v1/hooks/{id}/rotate-secret", security(("bearer" = [])), params(("id" = String, Path, description = "hook id")),
    responses((status = 200, description = "{id, owner, url, events, created_at, secret, previous_secret_valid_for_secs}"),
        (status = 403), (status = 404, description = "no such hook of yours")))]
async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let owner = owner(&caller)?;
    let answer = notification_service(&state)?
        .rotate_hook_secret(&owner, &id)
        .await;
    pass_on(StatusCode::OK, answer)
}

/// Deliver one event to the hook once more, now.
#[utoipa::path(post, path = "/v1/hooks/{id}/deliveries/{delivery_id}/retry", security(("bearer" = [])),
    params(("id" = String, Path, description = "hook id"), ("delivery_id" = String, Path, description = "delivery id (the webhook-id)")),
    responses((status = 202, description = "{\"queued\": true}"), (status = 403),
        (status = 404, description = "no such delivery of yours"),
        (status = 409, description = "the hook is disabled"),
        (status = 429, description = "`rate_limited`: too many registrations and retries (BAEDAL_RATE_HOOK_CHANGES)")))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    note: RateNote,
    Path((id, delivery_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let owner = owner(&caller)?;
    state.limits.check(Limit::HookChange, &owner, &note)?;
    let answer = notification_service(&state)?
        .retry_delivery(&owner, &id, &delivery_id)
        .await;
    pass_on(StatusCode::ACCEPTED, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_states_the_url_pattern_the_api_enforces() {
        let schema = serde_json::to_value(<NewHook as utoipa::PartialSchema>::schema()).unwrap();
        let url = &schema["properties"]["url"];
        assert_eq!(url["pattern"], URL_PATTERN);
        assert_eq!(url["maxLength"], MAX_URL_CHARS);
        for ok in [
            "https://hooks.example.com/baedal",
            "http://127.0.0.1:8080/h",
            "https://a.b",
            "http://o.8.a.x3",
            "http://10.0.0.255/",
        ] {
            assert!(reqwest::Url::parse(ok).is_ok(), "{ok}");
            assert!(URL_RE.is_match(ok), "{ok}");
        }
        for bad in [
            "ftp://x.com/",
            "https://u:p@x.com/",
            "https://x.com/?q=1",
            "https://x.com:99999/",
            "https://x.com:65536/",
            "https://-x.com/",
            "https://x.com/#f",
            "http://o.8.a.3",
            "http://1.2.3",
            "http://256.1.1.1/",
            "https://xn--zz.com/",
        ] {
            assert!(!URL_RE.is_match(bad), "{bad}");
        }
    }
}
