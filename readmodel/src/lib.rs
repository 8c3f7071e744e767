//! The CQRS read model: the tables the api reads and the worker's projection writes.
//!
//! It holds the current view of every established order, its event log, and the catalog
//! (stores, menu items). Writes are idempotent and guarded by each order's `seq`, so a
//! projection that arrives twice or late changes nothing. Besides the projection, two small
//! writers: the worker's stuck sweep records which stuck orders ops were alerted about, and
//! the api records place-order idempotency keys. This crate must not call Temporal or any
//! service: it is only the database door.

pub mod catalog;
mod db;
mod error;
mod idempotency;
mod ops;
mod orders;
mod stuck;

pub use catalog::{MenuItem, Store};
pub use db::{ReadModel, connect_sqlite};
pub use error::{Error, Result};
pub use idempotency::IdempotencyKey;
pub use ops::{BREAKER_FORGOTTEN_AFTER, BREAKER_FRESH_FOR, BREAKER_HEARTBEAT, BreakerStatus};
pub use orders::{DeliveryOffer, OrderEvent};
pub use stuck::StuckOrder;
