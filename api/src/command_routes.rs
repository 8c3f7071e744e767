//! The command endpoints, derived from the domain's command table (`Action::ALL`,
//! `Action::rule`): one `POST …/{id}/<action>` per action under its party's prefix, the role
//! check, the reason body where the table asks for one, and their OpenAPI entries, registered
//! together. Nothing here lists the actions; a new row in the table is a new endpoint.

use crate::authz::visible_order;
use crate::commands;
use crate::error::{ApiCode, ApiError, ApiResult, order_not_found, rider_refused};
use crate::extract::{ApiJson, Caller};
use crate::limits::{Limit, RateNote, principal};
use crate::state::{ApiRole, AppState};
use crate::views::{Viewer, order_for};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use baedal_auth::Role;
use baedal_domain::delivery::{assigned_to, on_the_board};
use baedal_domain::{Action, DeliveryView, MAX_REASON_CHARS, OrderView, Party};
use serde::Deserialize;
use utoipa::openapi::path::{HttpMethod, Operation, Paths};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

/// The body of an action that needs a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why (1..300 characters, not only spaces); kept in the order's history.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"[^\t\n\u000b\f\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
    )]
    reason: String,
}

/// The role that sends what `party` sends.
pub fn role_of(party: Party) -> Option<Role> {
    match party {
        Party::Customer => Some(Role::Customer),
        Party::StoreOwner => Some(Role::StoreOwner),
        Party::Rider => Some(Role::Rider),
        Party::Ops => Some(Role::Ops),
        Party::Timer | Party::Engine => None,
    }
}

/// Where `action` is sent (the domain's command table says: [`Action::path`]).
pub fn path(action: Action) -> String {
    action.path()
}

/// The command routes an api process of `role` serves (ops commands: every process).
pub fn router(role: ApiRole) -> OpenApiRouter<AppState> {
    Action::ALL
        .iter()
        .filter(|a| role_of(a.rule().by).is_some() && role.serves(a.rule().by))
        .fold(OpenApiRouter::default(), |r, a| r.routes(route(*a)))
}

/// One action's endpoint: its handler and its entry in the document, with the reason body's
/// schema where it takes one.
fn route(action: Action) -> UtoipaMethodRouter<AppState> {
    let mut paths = Paths::new();
    paths.add_path_operation(path(action), vec![HttpMethod::Post], operation(action));
    let schemas = if action.rule().needs_reason {
        vec![(ReasonBody::name().into_owned(), ReasonBody::schema())]
    } else {
        Vec::new()
    };
    (schemas, paths, handler(action))
}

fn handler(action: Action) -> MethodRouter<AppState> {
    if action.rule().needs_reason {
        post(
            move |State(state): State<AppState>,
                  caller: Caller,
                  note: RateNote,
                  Path(id): Path<String>,
                  ApiJson(body): ApiJson<ReasonBody>| async move {
                act(&state, &caller, &note, action, &id, Some(body.reason)).await
            },
        )
    } else {
        post(
            move |State(state): State<AppState>,
                  caller: Caller,
                  note: RateNote,
                  Path(id): Path<String>| async move {
                act(&state, &caller, &note, action, &id, None).await
            },
        )
    }
}

/// Check the caller's role, their pace (`BAEDAL_RATE_COMMANDS`), the reason and the caller's
/// sight of the order, then send.
async fn act(
    state: &AppState,
    caller: &Caller,
    note: &RateNote,
    action: Action,
    id: &str,
    reason: Option<String>,
) -> ApiResult<Response> {
    let rule = action.rule();
    let role = role_of(rule.by).expect("actions are sent by people");
    caller.require(role)?;
    state
        .limits
        .check(Limit::Command, &principal(&caller.0), note)?;
    let reason = match reason {
        Some(r) => Some(valid_reason(&r)?),
        None => None,
    };
    if role == Role::Rider {
        return rider_act(state, caller, action, id).await;
    }
    let seen = visible_order(state, caller, id).await?;
    let viewer = Viewer::of(role).expect("riders answered above");
    let view = |order: &baedal_domain::OrderView| Json(order_for(viewer, order, None));
    if action == Action::OpsCancel {
        let reason = reason.unwrap_or_default();
        return Ok(
            match commands::ops_cancel(state, &seen, caller, reason).await? {
                commands::OpsCanceled::Done(order) => view(&order).into_response(),
                // Settled through Temporal's cancel request: 200 once the read model shows the
                // order closed, 202 while the cancel is still on its way.
                commands::OpsCanceled::Requested(order) if order.status.is_terminal() => {
                    view(&order).into_response()
                }
                commands::OpsCanceled::Requested(order) => {
                    (StatusCode::ACCEPTED, view(&order)).into_response()
                }
            },
        );
    }
    let order = commands::send(state, &seen, action, caller, reason).await?;
    Ok(view(&order).into_response())
}

fn valid_reason(reason: &str) -> ApiResult<String> {
    if !crate::extract::has_visible(reason) || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::new(
            ApiCode::InvalidReason,
            format!("reason must be 1..{MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.trim_matches(crate::extract::is_blank).to_owned())
}

/// A rider's action answers the delivery, never the order. A delivery the rider does not
/// carry is 404; a claim of one on the board is the exception, and a lost claim is 409
/// without the order's status.
async fn rider_act(
    state: &AppState,
    caller: &Caller,
    action: Action,
    id: &str,
) -> ApiResult<Response> {
    if action.rule().assigned_rider_only {
        let seen = visible_order(state, caller, id).await?;
        rider_is_there(state, caller, action, &seen).await?;
        let order = commands::send(state, &seen, action, caller, None).await?;
        return Ok(Json(DeliveryView::new(&order)).into_response());
    }
    tracing::Span::current().record("order_id", id);
    // The rider's claims one at a time (in this process): each is checked against what the
    // rider carries with the ones before it answered, and so projected (`crate::turns`).
    let _turn = if action == Action::Claim {
        Some(state.claim_turns.take(caller.id()).await)
    } else {
        None
    };
    let order = state
        .read_model
        .get_order(id)
        .await?
        .ok_or_else(order_not_found)?;
    // Claiming what this rider already holds is a retry whose answer was lost: answer it
    // again, once the engine confirms it. The read model alone is not enough: a projection
    // runs inside a workflow task, and a worker that dies before completing that task leaves
    // the read model one step ahead of the order's durable history (the engine then redoes
    // the step or never does it). When the engine does not hold the claim, send it.
    if action == Action::Claim
        && assigned_to(&order, caller.id())
        && let Some(now) = commands::engine_view(state, id).await
        && assigned_to(&now, caller.id())
    {
        return Ok(Json(DeliveryView::new(&now)).into_response());
    }
    if !(on_the_board(&order) || assigned_to(&order, caller.id())) {
        return Err(if order.rider_id.is_some() {
            already_claimed()
        } else {
            order_not_found()
        });
    }
    rider_is_there(state, caller, action, &order).await?;
    match commands::send(state, &order, action, caller, None).await {
        Ok(order) => Ok(Json(DeliveryView::new(&order)).into_response()),
        Err(e) if e.code == ApiCode::AlreadyClaimed => Err(already_claimed()),
        // The order moved on since the board showed it (say, it was canceled): say no more
        // than that it is gone.
        Err(e) if e.code == ApiCode::InvalidTransition && !assigned_to(&order, caller.id()) => {
            // Unless it moved on because this rider's own claim went through and the answer
            // was lost: a retried claim answers the delivery it holds.
            match commands::engine_view(state, id).await {
                Some(now) if action == Action::Claim && assigned_to(&now, caller.id()) => {
                    Ok(Json(DeliveryView::new(&now)).into_response())
                }
                _ => Err(order_not_found()),
            }
        }
        Err(e) => Err(e),
    }
}

/// Whether the rider is where `action` on `order` needs them (`baedal_domain::plausible`),
/// from their last reported position: a claim near the pickup with a hand free, a pickup at
/// the store, a deliver at the door. Checked only while the order's status allows the action:
/// otherwise the order's own refusal (or a retry's answer) is what the rider needs to hear.
async fn rider_is_there(
    state: &AppState,
    caller: &Caller,
    action: Action,
    order: &OrderView,
) -> ApiResult<()> {
    if !matches!(action, Action::Claim | Action::Pickup | Action::Deliver)
        || !action.rule().from.allows(order.status)
    {
        return Ok(());
    }
    let rules = &state.config.plausibility;
    let fix = state.read_model.rider_location(caller.id()).await?;
    let fix = fix.as_ref().and_then(crate::rider::fix_of);
    let now = chrono::Utc::now().timestamp_millis();
    let pickup = (order.pickup.lat, order.pickup.lon);
    match action {
        Action::Claim => {
            let active = state.read_model.deliveries_en_route(caller.id()).await?;
            rules.check_claim(
                fix.as_ref(),
                now,
                (pickup, order.search_radius_bonus_km),
                active.len(),
            )
        }
        Action::Pickup => rules.check_pickup(fix.as_ref(), now, pickup),
        _ => rules.check_deliver(fix.as_ref(), now, (order.delivery.lat, order.delivery.lon)),
    }
    .map_err(rider_refused)
}

/// `action`'s entry in the document, from the table: who sends it, when, and what it does.
fn operation(action: Action) -> Operation {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
    let rule = action.rule();
    let role = role_of(rule.by).expect("actions are sent by people");
    let (answer, tag) = match role {
        Role::Customer => ("the order after the command", "orders"),
        Role::StoreOwner => ("the order after the command", "store"),
        Role::Rider => ("the delivery, as its rider sees it", "rider"),
        Role::Ops => ("the order after the command", "ops"),
    };
    let mut op = OperationBuilder::new()
        .operation_id(Some(action.name()))
        .tag(tag)
        .summary(Some(rule.doc))
        .description(Some(format!(
            "Sent by a {role}; allowed while the order is {}; moves it to {}.",
            from_text(rule.from),
            rule.to
        )))
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .parameter(
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(utoipa::openapi::schema::Object::with_type(
                    utoipa::openapi::schema::Type::String,
                ))),
        )
        .response("200", ResponseBuilder::new().description(answer))
        .response(
            "401",
            ResponseBuilder::new().description("no or bad bearer token"),
        )
        .response(
            "403",
            ResponseBuilder::new().description(format!("not a {role} token")),
        )
        .response(
            "404",
            ResponseBuilder::new().description("no such order, or not the caller's"),
        )
        .response("409", ResponseBuilder::new().description(conflicts(action)))
        .response(
            "503",
            ResponseBuilder::new()
                .description("the order engine or read model is down: retry after Retry-After"),
        );
    if rule.needs_reason {
        op = op
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(ReasonBody::name())))
                            .build(),
                    )
                    .build(),
            ))
            .response(
                "422",
                ResponseBuilder::new().description("invalid_reason or invalid_body"),
            )
            .response(
                "415",
                ResponseBuilder::new().description("the body is not application/json"),
            )
            .response("400", ResponseBuilder::new().description("malformed JSON"));
    }
    op.build()
}

/// What a 409 from `action` means.
fn conflicts(action: Action) -> String {
    let order = "invalid_transition: not allowed in the order's status (already_claimed: another rider was first)";
    let at = "from the rider's last reported position (POST /v1/rider/location), which must be at most \
              BAEDAL_RIDER_POSITION_FRESH old (rider_position_unknown)";
    match action {
        Action::Claim => format!(
            "{order}; {at}: too_far (the pickup is beyond the widest board radius, 50 km, plus the \
             order's widened search), rider_too_many_active (BAEDAL_RIDER_MAX_ACTIVE deliveries \
             carried already)"
        ),
        Action::Pickup => format!(
            "{order}; {at}: rider_not_at_store (further than BAEDAL_RIDER_AT_STORE_METERS from the store)"
        ),
        Action::Deliver => format!(
            "{order}; {at}: rider_not_at_door (further than BAEDAL_RIDER_AT_DOOR_METERS from the delivery point)"
        ),
        _ => order.to_owned(),
    }
}

/// A claim that lost the race: 409, without the order's status.
fn already_claimed() -> ApiError {
    ApiError::new(
        ApiCode::AlreadyClaimed,
        "another rider claimed this delivery first; pick another one from the board",
    )
}

fn from_text(from: baedal_domain::Statuses) -> String {
    match from {
        baedal_domain::Statuses::AnyOpen => "in any open status".to_owned(),
        baedal_domain::Statuses::These(these) => these
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_its_contract_path() {
        let paths: Vec<String> = Action::ALL.iter().map(|a| path(*a)).collect();
        for want in [
            "/v1/orders/{id}/cancel",
            "/v1/orders/{id}/confirm",
            "/v1/store/orders/{id}/accept",
            "/v1/store/orders/{id}/reject",
            "/v1/store/orders/{id}/start-cooking",
            "/v1/store/orders/{id}/finish-cooking",
            "/v1/rider/deliveries/{id}/claim",
            "/v1/rider/deliveries/{id}/release",
            "/v1/rider/deliveries/{id}/pickup",
            "/v1/rider/deliveries/{id}/deliver",
            "/v1/ops/orders/{id}/cancel",
        ] {
            assert!(paths.iter().any(|p| p == want), "{want} in {paths:?}");
        }
        assert_eq!(paths.len(), 11);
    }
}
