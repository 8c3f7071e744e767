//! What callers send the workflow (the place request, the command requests) and the shared
//! body of the command updates: apply the command, then answer once the change is projected,
//! so the caller reads its own write from the read model.

use super::{BoxError, OrderWorkflow};
use crate::refusal::refused;
use baedal_domain::{Action, Command, OrderView};
use serde::{Deserialize, Serialize};
use temporalio_sdk::WorkflowContext;

use super::view::rfc3339;

/// The `place` update's input: the hash of the customer's request, so a retry with the same
/// idempotency key but another body is refused instead of answered with this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRequest {
    pub request_hash: String,
}

/// Input of every command update: who is asking, and a reason where the command takes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub actor: baedal_domain::Actor,
    #[serde(default)]
    pub reason: Option<String>,
}

impl CommandRequest {
    /// The domain command this request asks for.
    pub fn command(&self, action: Action) -> Command {
        action.by(self.actor.id.clone(), self.reason.clone())
    }
}

/// The update that sends `action` to an order: the one the workflow registers under the
/// action's name. Lets a caller send any action without a match over all of them.
#[derive(Debug, Clone, Copy)]
pub struct CommandUpdate(pub Action);

impl temporalio_common::UpdateDefinition for CommandUpdate {
    type Workflow = <OrderWorkflow as temporalio_common::HasWorkflowDefinition>::Run;
    type Input = CommandRequest;
    type Output = OrderView;

    fn name(&self) -> &str {
        self.0.name()
    }
}

impl OrderWorkflow {
    /// Shared body of the command updates.
    pub(super) async fn command(
        ctx: &mut WorkflowContext<Self>,
        cmd: Command,
    ) -> Result<OrderView, BoxError> {
        let at = rfc3339(ctx.workflow_time());
        let version = ctx
            .state_mut(|s| s.order.apply(&cmd, at))
            .map_err(refused)?;
        ctx.state_mut(|s| s.inflight_updates += 1);
        Self::wait(ctx, move |s| s.projected_version >= version).await;
        ctx.state_mut(|s| s.inflight_updates -= 1);
        Ok(ctx.state(|s| s.view()))
    }

    /// Shared body of the command validators.
    pub(super) fn validate(&self, cmd: Command) -> Result<(), BoxError> {
        self.order.check(&cmd).map(|_| ()).map_err(refused)
    }
}
