//! Lists a page at a time: the `?limit=` every list takes, and the order lists (a customer's,
//! a store's) with their status filter and cursor.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::state::AppState;
use crate::views::{Viewer, orders_for};
use axum::Json;
use baedal_domain::OrderStatus;
use baedal_readmodel::{Cursor, Scope};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

/// The most items a list answers at once.
pub const MAX_PAGE: u32 = 100;

/// `?limit=` as given (default `default`), or 422 outside 1..=`max`: a client asking for more
/// than the document allows learns so instead of silently getting fewer.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> ApiResult<u32> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => Err(ApiError::new(
            ApiCode::InvalidLimit,
            format!("limit must be 1..{max}"),
        )),
    }
}

/// The query of an order list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders in this status.
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// How many orders (1..100, default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the page starts: the `next_cursor` of the page before.
    #[param(pattern = r"^[01]~[0-9T:.Z-]{1,40}~[A-Za-z0-9_-]{1,100}$")]
    cursor: Option<String>,
}

/// `?status=`: one of the order statuses.
fn status_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(OrderStatus::ALL.iter().map(|s| s.as_str())))
        .build()
}

/// One page of `scope`'s orders as the lists answer it: `{"orders": [...], "next_cursor"?}`.
pub async fn orders_page(
    state: &AppState,
    scope: Scope<'_>,
    q: &ListQuery,
) -> ApiResult<Json<Value>> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<OrderStatus>)
        .transpose()
        .map_err(|e| ApiError::new(ApiCode::InvalidStatus, e.to_string()))?;
    let limit = page_limit(q.limit, 50, MAX_PAGE)?;
    let cursor = q
        .cursor
        .as_deref()
        .map(Cursor::decode)
        .transpose()
        .map_err(|e| ApiError::new(ApiCode::InvalidCursor, e.to_string()))?;
    let page = state
        .read_model
        .orders_page(scope, status, cursor.as_ref(), limit)
        .await?;
    let viewer = match scope {
        Scope::Customer(_) => Viewer::Customer,
        Scope::Store(_) => Viewer::StoreOwner,
    };
    let mut body = json!({ "orders": orders_for(viewer, &page.orders) });
    if let Some(next) = page.next_cursor {
        body["next_cursor"] = json!(next.encode());
    }
    Ok(Json(body))
}
