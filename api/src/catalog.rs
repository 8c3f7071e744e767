//! The catalog: stores and their menus, for anyone (no token), paced per client address
//! (`BAEDAL_RATE_CATALOG_READS`).

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{ApiQuery, ClientAddr};
use crate::limits::{Limit, RateNote};
use crate::pagination::{MAX_PAGE, page_limit};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_stores))
        .routes(routes!(store_menu))
}

/// The longest store id a cursor can name.
const MAX_STORE_ID: usize = 64;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StoresQuery {
    /// Only stores in this district.
    #[param(pattern = r"^[^\u0000]*$")]
    region: Option<String>,
    /// How many stores (1..100, default 100).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Where the page starts: the `next_cursor` of the page before.
    #[param(min_length = 1, max_length = 64, pattern = r"^[^\u0000]*$")]
    cursor: Option<String>,
}

/// Stores by id, a page at a time: `{"stores": [...], "next_cursor"?}` (`next_cursor` absent
/// on the last page). The default page is the largest, so a client of the unpaginated list
/// sees every store of a catalog of up to 100 as before.
#[utoipa::path(get, path = "/v1/stores", params(StoresQuery),
    responses((status = 200, description = "{\"stores\": [{id,name,region,address,lat,lon}], \"next_cursor\"?}: by id"),
        (status = 422, description = "`invalid_limit`, `invalid_cursor`"),
        (status = 429, description = "`rate_limited`: too many catalog reads from this address")))]
async fn list_stores(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    note: RateNote,
    ApiQuery(q): ApiQuery<StoresQuery>,
) -> ApiResult<Json<Value>> {
    state.limits.check(Limit::CatalogRead, &addr, &note)?;
    let limit = page_limit(q.limit, MAX_PAGE, MAX_PAGE)?;
    crate::extract::no_nul("region", q.region.as_deref())?;
    if q.cursor
        .as_deref()
        .is_some_and(|c| c.is_empty() || c.chars().count() > MAX_STORE_ID || c.contains('\0'))
    {
        return Err(ApiError::new(
            ApiCode::InvalidCursor,
            "cursor must be the next_cursor of the page before",
        ));
    }
    let mut stores = state
        .read_model
        .stores_page(q.region.as_deref(), q.cursor.as_deref(), limit + 1)
        .await?;
    let more = stores.len() > limit as usize;
    stores.truncate(limit as usize);
    let mut body = json!({ "stores": stores });
    if more && let Some(last) = stores.last() {
        body["next_cursor"] = json!(last.id);
    }
    Ok(Json(body))
}

#[utoipa::path(get, path = "/v1/stores/{store_id}/menu", params(("store_id" = String, Path)),
    responses((status = 200, description = "{\"items\": [{id,name,price,available}]}"), (status = 404),
        (status = 429, description = "`rate_limited`: too many catalog reads from this address")))]
async fn store_menu(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    note: RateNote,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    state.limits.check(Limit::CatalogRead, &addr, &note)?;
    if state.read_model.get_store(&store_id).await?.is_none() {
        return Err(ApiError::new(
            ApiCode::StoreNotFound,
            format!("no store {store_id}; GET /v1/stores lists them"),
        ));
    }
    let items = state.read_model.menu(&store_id).await?;
    Ok(Json(json!({ "store_id": store_id, "items": items })))
}
