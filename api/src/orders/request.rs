//! The place-order request: its body, its Idempotency-Key, the order id and request hash
//! derived from them, and the shape checks that need no database.

use crate::error::{ApiCode, ApiError, ApiResult};
use baedal_domain::geo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub const MAX_ITEMS: usize = 50;
pub const MAX_QUANTITY: u32 = 99;

/// The longest Idempotency-Key.
pub const MAX_KEY_CHARS: usize = 255;

/// An Idempotency-Key is 1..255 visible ASCII characters (as the document's pattern says).
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

// The constraints below are the ones `validate` enforces; the pattern is
// `crate::extract::VISIBLE_PATTERN` (not only white space; a test keeps them equal).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlaceOrderBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    pub store_id: String,
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<ItemRequest>,
    pub delivery: DeliveryRequest,
    pub payment: PaymentRequest,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemRequest {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    pub menu_item_id: String,
    #[schema(minimum = 1, maximum = 99)]
    #[serde(deserialize_with = "baedal_http::whole_number")]
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryRequest {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    pub address: String,
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    pub region: String,
    /// The delivery point: within the store's delivery area, or 422 `outside_delivery_area`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lon: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentRequest {
    /// `tok_ok` is approved and `tok_declined` declined by the test payment service.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    pub card_token: String,
}

/// The workflow id for a customer's idempotency key.
pub fn order_id_for(customer_id: &str, idempotency_key: &str) -> String {
    const NS: uuid::Uuid = uuid::Uuid::from_u128(0x62616564_616c_4f72_8465_725f6b657973);
    let name = format!("{customer_id}\n{idempotency_key}");
    format!("ord_{}", uuid::Uuid::new_v5(&NS, name.as_bytes()))
}

/// The request hash of a place-order body given as JSON (`None` if it is not one): what the
/// order's workflow checks a retry against. For tools and tests that talk to the engine.
pub fn request_hash_of(body: &serde_json::Value) -> Option<String> {
    serde_json::from_value::<PlaceOrderBody>(body.clone())
        .ok()
        .map(|b| request_hash(&b))
}

pub(super) fn request_hash(body: &PlaceOrderBody) -> String {
    let bytes = serde_json::to_vec(body).expect("request body serializes");
    hex::encode(Sha256::digest(bytes))
}

fn text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if !crate::extract::has_visible(value) || value.chars().count() > max {
        return Err(ApiError::new(
            ApiCode::InvalidField,
            format!("{field} must be 1..{max} characters"),
        ));
    }
    Ok(())
}

/// Shape checks that need no database.
pub fn validate(body: &PlaceOrderBody) -> ApiResult<()> {
    text("store_id", &body.store_id, 64)?;
    text("delivery.address", &body.delivery.address, 200)?;
    text("delivery.region", &body.delivery.region, 50)?;
    text("payment.card_token", &body.payment.card_token, 100)?;
    if !geo::valid_coordinate(body.delivery.lat, body.delivery.lon) {
        return Err(ApiError::new(
            ApiCode::InvalidCoordinates,
            "delivery.lat must be within -90..90 and delivery.lon within -180..180",
        ));
    }
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        return Err(ApiError::new(
            ApiCode::InvalidItems,
            format!("an order needs 1..{MAX_ITEMS} items"),
        ));
    }
    for item in &body.items {
        text("items[].menu_item_id", &item.menu_item_id, 64)?;
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(ApiError::new(
                ApiCode::InvalidQuantity,
                format!("quantity must be 1..{MAX_QUANTITY}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) fn sample_body() -> PlaceOrderBody {
    PlaceOrderBody {
        store_id: "st_1".into(),
        items: vec![ItemRequest {
            menu_item_id: "mi_1_1".into(),
            quantity: 2,
        }],
        delivery: DeliveryRequest {
            address: "서울 강남구 1".into(),
            region: "gangnam".into(),
            lat: 37.5,
            lon: 127.0,
        },
        payment: PaymentRequest {
            card_token: "tok_ok".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema's rule for text fields is the server's: one U+0085 (white space to Rust's
    /// `trim`, not to ECMAScript's `\s`) is refused by both, and every character is judged
    /// the same by the pattern and by `has_visible`.
    #[test]
    fn the_document_states_the_blank_rule_the_server_applies() {
        use crate::extract::{VISIBLE_PATTERN, has_visible};
        let doc = serde_json::to_value(crate::openapi::document(true)).unwrap();
        let body = &doc["components"]["schemas"]["PlaceOrderBody"]["properties"];
        assert_eq!(body["store_id"]["pattern"], VISIBLE_PATTERN);
        let re = regex::Regex::new(VISIBLE_PATTERN).unwrap();
        for c in (0u32..0x3100)
            .chain([0xfeff, 0xac00])
            .filter_map(char::from_u32)
        {
            let s = c.to_string();
            assert_eq!(re.is_match(&s), has_visible(&s), "U+{:04X}", c as u32);
        }
        assert!(!has_visible("\u{85}"));
        let mut body = serde_json::from_value::<PlaceOrderBody>(serde_json::json!({
            "store_id": "\u{85}", "items": [{"menu_item_id": "mi_1_1", "quantity": 1}],
            "delivery": {"address": "a", "region": "r", "lat": 37.5, "lon": 127.0},
            "payment": {"card_token": "tok_ok"}
        }))
        .unwrap();
        assert!(validate(&body).is_err());
        body.store_id = "st_1".into();
        assert!(validate(&body).is_ok());
    }

    #[test]
    fn order_id_is_stable_per_customer_and_key() {
        assert_eq!(order_id_for("c1", "k1"), order_id_for("c1", "k1"));
        assert_ne!(order_id_for("c1", "k1"), order_id_for("c2", "k1"));
        assert_ne!(order_id_for("c1", "k1"), order_id_for("c1", "k2"));
        assert!(order_id_for("c1", "k1").starts_with("ord_"));
    }

    #[test]
    fn request_hash_changes_with_the_body() {
        let a = sample_body();
        let mut b = sample_body();
        b.items[0].quantity = 3;
        assert_eq!(request_hash(&a), request_hash(&sample_body()));
        assert_ne!(request_hash(&a), request_hash(&b));
    }

    #[test]
    fn validation_refuses_out_of_range_input() {
        assert!(validate(&sample_body()).is_ok());
        type Mutation = Box<dyn Fn(&mut PlaceOrderBody)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|b| b.items.clear()),
            Box::new(|b| b.items[0].quantity = 0),
            Box::new(|b| b.items[0].quantity = 100),
            Box::new(|b| b.delivery.lat = 91.0),
            Box::new(|b| b.delivery.lon = -181.0),
            Box::new(|b| b.delivery.address = "  ".into()),
            Box::new(|b| b.payment.card_token = String::new()),
            Box::new(|b| b.store_id = "x".repeat(65)),
        ];
        for (n, mutate) in cases.iter().enumerate() {
            let mut b = sample_body();
            mutate(&mut b);
            let err = validate(&b).expect_err(&format!("case {n} should be refused"));
            assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_up_to_255() {
        assert!(valid_idempotency_key(
            "6f1c2a9e-0d4b-4c3e-9f7a-2b1d8e5c4a10"
        ));
        assert!(valid_idempotency_key(&"k".repeat(255)));
        for bad in ["", " ", "a b", "키", "\u{7f}"] {
            assert!(!valid_idempotency_key(bad), "{bad:?}");
        }
        assert!(!valid_idempotency_key(&"k".repeat(256)));
    }
}
