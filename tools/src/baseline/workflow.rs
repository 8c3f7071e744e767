//! `BaselineWorkflow`: the bare engine's figure to compare baedal against. A minimal workflow
//! with the same shape per lifecycle as a completed order (update-with-start that runs one
//! activity, then seven updates), with no read model, services or timers; `baedal loadgen
//! --baseline` drives it against the same Temporal server. What fraction of its lifecycles/s
//! baedal reaches says how much baedal itself costs.

use super::activity::BaselineActivities;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

/// The baseline's own task queue, so it never mixes with orders.
pub const TASK_QUEUE: &str = "baedal-baseline";
/// Updates after the first, as in a completed order (accept … confirm).
pub const STEPS: u32 = 7;

/// The same search attribute baedal upserts on every transition (registered on the dev server).
const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("OrderStatus");

/// Whether each step also upserts a search attribute, as every order transition does.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct BaselineInput {
    pub upsert_search_attributes: bool,
}

#[workflow]
pub struct BaselineWorkflow {
    input: BaselineInput,
    charged: bool,
    steps: u32,
}

#[workflow_methods]
impl BaselineWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: BaselineInput) -> Self {
        Self {
            input,
            charged: false,
            steps: 0,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<u32> {
        ctx.execute_activity(
            BaselineActivities::charge,
            1000,
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(5)).build(),
        )
        .await?;
        ctx.state_mut(|s| s.charged = true);
        ctx.wait_condition(|s: &Self| s.steps >= STEPS).await?;
        Ok(ctx.state(|s| s.steps))
    }

    #[update]
    pub async fn place(ctx: &mut WorkflowContext<Self>, _input: ()) -> bool {
        let _ = ctx.wait_condition(|s: &Self| s.charged).await;
        true
    }

    #[update_validator(step)]
    fn validate_step(
        &self,
        _ctx: &WorkflowContextView,
        _input: &(),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.charged && self.steps < STEPS {
            Ok(())
        } else {
            Err("invalid_transition".into())
        }
    }

    #[update]
    pub fn step(&mut self, ctx: &mut SyncWorkflowContext<Self>, _input: ()) -> u32 {
        self.steps += 1;
        if self.input.upsert_search_attributes {
            ctx.upsert_search_attributes([STATUS.value_set(format!("step_{}", self.steps))]);
        }
        self.steps
    }
}
