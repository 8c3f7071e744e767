//! Tracking links: a customer shares a link to their order that shows anyone who has it the
//! status and the arrival estimate, nothing else (no address, items, payment or rider), and
//! that stops working when the order ends.
//!
//! Why a MAC and no table: the link is `<order id>.<tag>`, the tag an HMAC-SHA256 of the order
//! id under a key derived from the api's service token, so every replica checks any link
//! without a lookup or a row to prune, and "expires when the order ends" is read from the
//! order itself on each visit. Rotating `BAEDAL_SERVICE_TOKEN` ends the links in flight (the
//! customer shares a new one).

use crate::error::{ApiCode, ApiError, ApiResult, order_not_found};
use crate::eta::eta_of;
use crate::extract::{Caller, ClientAddr};
use crate::limits::{Limit, RateNote};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baedal_auth::Role;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(share))
        .routes(routes!(track))
        .layer(axum::middleware::map_response(no_store))
}

/// A tracking link's answer is about someone's order, though asked without a token (which is
/// what marks the others `no-store`): no cache keeps it, whether it shows the order or not.
async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// Hex characters of the tag: 128 bits.
const TAG_HEX: usize = 32;

fn key(state: &AppState) -> ApiResult<Vec<u8>> {
    let Some(service) = &state.config.hooks else {
        return Err(ApiError::internal(
            "tracking links",
            "this api has no service token to derive their key from (BAEDAL_SERVICE_TOKEN)",
        ));
    };
    // Its own key, not the token itself: the token is never used for two things.
    let mut k = Sha256::new();
    k.update(b"baedal tracking link v1\0");
    k.update(service.service_token.as_bytes());
    Ok(k.finalize().to_vec())
}

fn mac(key: &[u8], order_id: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(order_id.as_bytes());
    m
}

/// The link's token for `order_id`.
fn token(key: &[u8], order_id: &str) -> String {
    let tag = hex::encode(mac(key, order_id).finalize().into_bytes());
    format!("{order_id}.{}", &tag[..TAG_HEX])
}

/// The order id a token names, if its tag is this deployment's (checked in constant time).
fn order_of<'a>(key: &[u8], token: &'a str) -> Option<&'a str> {
    let (order_id, tag) = token.rsplit_once('.')?;
    let tag = hex::decode(tag).ok().filter(|t| t.len() * 2 == TAG_HEX)?;
    mac(key, order_id).verify_truncated_left(&tag).ok()?;
    Some(order_id)
}

fn expired() -> ApiError {
    ApiError::new(
        ApiCode::TrackingLinkExpired,
        "this order has ended, and its tracking link with it",
    )
}

/// A link the customer can share: status and arrival estimate only, until the order ends.
#[utoipa::path(post, path = "/v1/orders/{id}/tracking-link", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 201, description = "{\"token\", \"path\"}: open `path` on the api's origin (`/#/track/<token>`); anyone with it sees the order's status and ETA until the order ends"),
        (status = 404, description = "no such order of the caller's"),
        (status = 409, description = "`order_ended`: the order has ended; there is nothing to track")))]
async fn share(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(Role::Customer)?;
    let doc = state
        .read_model
        .order_document(&id)
        .await?
        .filter(|d| d.customer_id == caller.id())
        .ok_or_else(order_not_found)?;
    let view = doc.view()?;
    if view.status.is_terminal() {
        return Err(ApiError::new(
            ApiCode::OrderEnded,
            "this order has ended; there is nothing left to track",
        ));
    }
    let token = token(&key(&state)?, &id);
    let path = format!("/#/track/{token}");
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "path": path})),
    )
        .into_response())
}

/// What a tracking link shows: the status, the store's name and, while a rider is on the
/// way, the arrival estimate (no position, address, items or payment). Paced per address like
/// the catalog.
#[utoipa::path(get, path = "/v1/track/{token}", params(("token" = String, Path)),
    responses((status = 200, description = "{\"status\", \"store_name\", \"updated_at\", \"eta\"?: {minutes, arrive_by}}"),
        (status = 404, description = "`tracking_link_not_found`: not a link of this service"),
        (status = 410, description = "`tracking_link_expired`: the order has ended"),
        (status = 429, description = "`rate_limited`: too many reads from this address")))]
async fn track(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    note: RateNote,
    Path(token): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    state.limits.check(Limit::CatalogRead, &addr, &note)?;
    let not_found = || {
        ApiError::new(
            ApiCode::TrackingLinkNotFound,
            "not a tracking link of this service; ask for the link again",
        )
    };
    let id = order_of(&key(&state)?, &token).ok_or_else(not_found)?;
    // A link to an order the read model has forgotten (pruned after retention) has ended too.
    let Some(doc) = state.read_model.order_document(id).await? else {
        return Err(expired());
    };
    let view = doc.view()?;
    if view.status.is_terminal() {
        return Err(expired());
    }
    let mut body = json!({
        "status": view.status,
        "store_name": view.store_name,
        "updated_at": view.updated_at,
    });
    let eta = doc
        .en_route
        .then(|| eta_of(&view, doc.rider_location.as_ref(), chrono::Utc::now()))
        .flatten();
    if let Some(eta) = eta {
        body["eta"] = json!({"minutes": eta["minutes"], "arrive_by": eta["arrive_by"]});
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_order_and_nothing_else_passes() {
        let key = b"k".repeat(32);
        let t = token(&key, "ord_1");
        assert_eq!(order_of(&key, &t), Some("ord_1"));
        // Another deployment's key, another order under this tag, a cut or altered tag.
        assert_eq!(order_of(&b"x".repeat(32), &t), None);
        let tag = t.rsplit_once('.').unwrap().1;
        assert_eq!(order_of(&key, &format!("ord_2.{tag}")), None);
        assert_eq!(order_of(&key, &t[..t.len() - 2]), None);
        let mut flipped = t.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(order_of(&key, std::str::from_utf8(&flipped).unwrap()), None);
        assert_eq!(order_of(&key, "ord_1"), None);
        assert_eq!(order_of(&key, ""), None);
    }
}
