//! The CQRS read model: the tables the api reads and the worker's projection writes.
//!
//! It holds the current view of every established order, its event log (`order_events`),
//! the change log live streams follow (`order_log`; `order_changes`, its first form, is no
//! longer written and empties by retention), and the catalog
//! (stores, menu items). Writes are idempotent and guarded by each order's `seq`, so a
//! projection that arrives twice or late changes nothing. Besides the projection, two small
//! writers: the worker's stuck sweep records which stuck orders ops were alerted about, and
//! the api records place-order idempotency keys. This crate must not call Temporal or any
//! service: it is only the database door.

mod boards;
pub mod catalog;
mod changes;
mod db;
mod error;
mod follow;
mod idempotency;
mod ops;
mod orders;
mod rebuild;
mod refunds;
mod retention;
mod riders;
mod stuck;

pub use baedal_db::Dialect;
pub use baedal_domain::retention::{Pruned, Retention};
pub use boards::{BadCursor, CURSOR_PATTERN, Cursor, Page, Scope};
pub use catalog::{MenuItem, Store};
pub use changes::{
    Change, Changes, LogBatch, LogCursor, RESUME_WINDOW, Resume, STORE_RESUME_WINDOW,
};
pub use db::{NOTIFY_WINDOW, ReadModel, migrations};
pub use error::{Error, Result};
pub use follow::{
    CATCH_UPS, FEED_CAPACITY, Feed, FollowSettings, Interest, LISTENER_APPLICATION_NAME, SCOPE_CAP,
    Subscription,
};
pub use idempotency::IdempotencyKey;
pub use ops::{BREAKER_FORGOTTEN_AFTER, BREAKER_FRESH_FOR, BREAKER_HEARTBEAT, BreakerStatus};
pub use orders::{CHANGES_CHANNEL, DeliveryOffer, OrderDocument, OrderEvent};
pub use rebuild::Rebuilt;
pub use refunds::{RefundHealth, RefundProgress};
pub use retention::{ERASED_MARK, Horizons};
pub use riders::RiderLocation;
pub use stuck::StuckOrder;
