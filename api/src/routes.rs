//! The route table: which features a process of each role serves, merged into one router
//! whose document is collected from the same registrations (see the crate's layers in `lib`).

use crate::state::{ApiRole, AppState};
use crate::{catalog, command_routes, dev, health, hooks, me, ops, orders, rider, store, tracking};
use baedal_domain::Party;
use utoipa_axum::router::OpenApiRouter;

/// Every route a process of `role` serves, with its entry in the document.
pub fn api(role: ApiRole) -> OpenApiRouter<AppState> {
    let mut api = OpenApiRouter::default()
        .merge(tagged("health", health::router()))
        .merge(tagged("ops", ops::router()))
        .merge(tagged("hooks", hooks::router()))
        .merge(command_routes::router(role));
    if role.serves(Party::Customer) {
        api = api
            .merge(tagged("dev", dev::router()))
            .merge(tagged("catalog", catalog::router()))
            .merge(tagged("orders", orders::router()))
            .merge(tagged("me", me::router()))
            .merge(tagged("tracking", tracking::router()));
    }
    if role.serves(Party::StoreOwner) {
        api = api.merge(tagged("store", store::router()));
    }
    if role.serves(Party::Rider) {
        api = api.merge(tagged("rider", rider::router()));
    }
    api
}

/// `router` with its operations grouped under `tag` in the document.
fn tagged(tag: &str, mut router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            op.tags.get_or_insert_with(Vec::new).push(tag.to_owned());
        }
    }
    router
}
