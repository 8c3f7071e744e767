//! The tests that share one running baedal (`common::system()`: a Temporal dev server, the
//! stores, payment, notification, worker and four apis in this process) and switch nothing
//! off: each test works on orders, customers and hooks of its own, so they run side by side.
//! One binary for all of them: one system to start and one link instead of six.

#[path = "../common/mod.rs"]
mod common;
#[path = "../sse/mod.rs"]
mod sse;

mod api_contract;
mod front_end_api;
mod hooks;
mod kakao;
mod lifecycle;
mod live;
mod ops;
