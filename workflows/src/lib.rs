//! The order workflow: one durable Temporal workflow per order, id = order id.
//!
//! It charges the card before the order exists, takes the store's, rider's and customer's
//! commands as Updates with validators, runs the store-accept, rider-claim and auto-confirm
//! timers, refunds whatever it owes until the refund succeeds, and after every change projects
//! the order into the read model, sends one notification and upserts the search attributes.
//!
//! Code here is replayed: it must stay deterministic. No clock (time comes from
//! `ctx.workflow_time()`), no randomness, no I/O, no tokio sleep/spawn/channels, and only the
//! biased `select!` of the SDK. Changing the order of commands it issues breaks orders in
//! flight; the replay test over `tests/histories/` catches that.

pub mod notify;
mod options;
mod order;
mod refusal;

pub use order::{
    CommandRequest, CommandUpdate, ORDER_STATUS, OUTAGE_PROOF, OrderWorkflow, PlaceRequest,
    start_search_attributes,
};
pub use refusal::refusal_code;

/// Task queue the worker polls and the api starts orders on.
pub const TASK_QUEUE: &str = "baedal-orders";

/// Custom search attributes the dev server must register (`--search-attribute Name=Keyword`).
pub const SEARCH_ATTRIBUTES: [&str; 4] = ["OrderStatus", "StoreId", "CustomerId", "Region"];
