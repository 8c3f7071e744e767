//! The baedal order domain: plain types and the order state machine.
//!
//! Everything here is pure data and pure functions, shared by the deterministic workflow, the
//! activities that project it and the api that validates requests. This crate must not do I/O,
//! read the clock, draw random numbers or depend on Temporal: the workflow replays this code and
//! needs the same answer every time.

pub mod code;
pub mod commands;
pub mod contact;
pub mod delivery;
pub mod eta;
pub mod geo;
pub mod order;
pub mod plausible;
pub mod reconcile;
pub mod retention;
pub mod state;
pub mod status;
pub mod timing;

pub use code::OrderCode;
pub use commands::{Action, MAX_REASON_CHARS, Party, Rule, Statuses};
pub use delivery::{DeliveryCard, DeliveryView};
pub use order::{
    Actor, Command, DeliveryAddress, HistoryEntry, LineItem, OrderBrief, OrderInput, OrderView,
    PaymentInfo, Pickup, PlaceFailure, PlaceOutcome, RefundView, Refusal, Timeouts,
    WORKFLOW_VERSION, decide,
};
pub use state::{ChargeResult, OrderState, Placement};
pub use status::OrderStatus;
pub use timing::{Deadline, Lapse, Retry};
