//! Every setting is a flag and an environment variable (docs/contract.md "Settings"), in
//! groups: each subcommand flattens only the groups it reads, so its `--help` lists exactly
//! what it runs with and a setting meant for another role cannot be mistaken for one of its
//! own. Secrets are [`Secret`]s, which never print their value.

mod channels;
mod doors;
mod hardening;
mod keys;
mod limits;
mod orders;
mod retention;
mod riders;
mod secret;
mod stores;
mod worker;

pub use channels::{Hooks, Kakao};
pub use doors::{
    ApiDoor, CodecDoor, Metrics, NotifyAddr, NotifyDoor, PaymentAddr, PaymentDoor, Temporal,
    TemporalUi,
};
pub use hardening::{FaultInjection, Listener, require_https};
pub use keys::{Jwt, PayloadKey, PaymentToken, ServiceToken};
pub use limits::Limits;
pub use orders::{Idempotency, OrderTimers, Stuck};
pub use retention::Retention;
pub use riders::RiderChecks;
pub use secret::Secret;
pub use stores::{DataDir, NotifyDb, PaymentDb, ReadModelDb, ReadModelListen};
pub use worker::{Breaker, WorkerTuning};

/// The JWT secret `baedal dev` runs with when none is given. Refused by every other role.
pub const DEV_JWT_SECRET: &str = "baedal-dev-jwt-secret-change-me";
/// The service token `baedal dev` runs with when none is given. Refused by every other role.
pub const DEV_SERVICE_TOKEN: &str = "baedal-dev-service-token";
/// The payment token `baedal dev` runs with when none is given. Refused by every other role.
pub const DEV_PAYMENT_TOKEN: &str = "baedal-dev-payment-token";
/// The shortest secret a role outside `baedal dev` accepts.
pub const MIN_SECRET_BYTES: usize = 32;

/// Outside `baedal dev`, refuse to run on a secret that is unset (the dev default), the dev
/// default, or shorter than [`MIN_SECRET_BYTES`]: a forged token or a service call must not be
/// one guess away. The error names the variable to set.
pub fn require_production_secret(name: &str, value: &Secret, dev: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        value.expose() != dev,
        "{name} is unset or the dev default: set it to a random secret of at least \
         {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`); only `baedal dev` runs on the \
         dev default"
    );
    anyhow::ensure!(
        value.expose().len() >= MIN_SECRET_BYTES,
        "{name} is {} bytes: set it to a random secret of at least {MIN_SECRET_BYTES} bytes \
         (e.g. `openssl rand -base64 48`)",
        value.expose().len()
    );
    Ok(())
}
