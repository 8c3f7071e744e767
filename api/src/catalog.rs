//! The catalog: stores and their menus, for anyone (no token).

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::ApiQuery;
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StoresQuery {
    /// Only stores in this district.
    region: Option<String>,
}

#[utoipa::path(get, path = "/v1/stores", params(StoresQuery),
    responses((status = 200, description = "{\"stores\": [{id,name,region,address,lat,lon}]}")))]
async fn list_stores(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StoresQuery>,
) -> ApiResult<Json<Value>> {
    let stores = state.read_model.list_stores(q.region.as_deref()).await?;
    Ok(Json(json!({ "stores": stores })))
}

#[utoipa::path(get, path = "/v1/stores/{store_id}/menu", params(("store_id" = String, Path)),
    responses((status = 200, description = "{\"items\": [{id,name,price,available}]}"), (status = 404)))]
async fn store_menu(
    State(state): State<AppState>,
    Path(store_id): Path<String>,
) -> ApiResult<Json<Value>> {
    if state.read_model.get_store(&store_id).await?.is_none() {
        return Err(ApiError::new(
            ApiCode::StoreNotFound,
            format!("no store {store_id}; GET /v1/stores lists them"),
        ));
    }
    let items = state.read_model.menu(&store_id).await?;
    Ok(Json(json!({ "store_id": store_id, "items": items })))
}
