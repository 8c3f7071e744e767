//! The engine baseline's one activity (`baedal loadgen --baseline`): it stands in for the
//! charge and answers at once, so the baseline measures the engine and nothing else.

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

pub struct BaselineActivities;

#[activities]
impl BaselineActivities {
    /// Stands in for the charge: answers at once.
    #[activity]
    pub async fn charge(_ctx: ActivityContext, amount: i64) -> Result<i64, ActivityError> {
        Ok(amount)
    }
}
