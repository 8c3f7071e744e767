//! What baedal records of each place-order Idempotency-Key (`idempotency_keys`: its request
//! hash, when it was first seen, whether its workflow started), and the answers about keys
//! that cannot be used again.

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::state::AppState;
use baedal_readmodel::IdempotencyKey;

/// Record the key's first use: another body under it is refused at once, and so is any use
/// after the idempotency window.
pub(super) async fn check_key(
    state: &AppState,
    order_id: &str,
    customer_id: &str,
    hash: &str,
) -> ApiResult<()> {
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let key = state
        .read_model
        .remember_idempotency_key(order_id, customer_id, hash, &stamp)
        .await?;
    check_known(state, &key, hash)
}

/// A known key answers only the body it was first used with, and only within the window.
pub(super) fn check_known(state: &AppState, key: &IdempotencyKey, hash: &str) -> ApiResult<()> {
    if key.request_hash != hash {
        return Err(reused());
    }
    let first = chrono::DateTime::parse_from_rfc3339(&key.first_seen_at)
        .map_err(|e| ApiError::internal("the idempotency store", e))?;
    let window = state.config.idempotency_window;
    let age = (chrono::Utc::now() - first.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or_default();
    if age > window {
        return Err(ApiError::new(
            ApiCode::IdempotencyKeyTooOld,
            format!(
                "this Idempotency-Key was first used at {} and keys are kept for {}; \
                 to order again, send a new key",
                key.first_seen_at,
                humantime::format_duration(window)
            ),
        ));
    }
    Ok(())
}

/// Record that the engine holds (or held) this key's workflow and has answered it.
pub(super) async fn mark_started(state: &AppState, order_id: &str) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    if let Err(e) = state.read_model.mark_key_started(order_id, &at).await {
        tracing::warn!(order_id, error = %e, "could not record that the key's workflow started");
    }
}

pub(super) fn reused() -> ApiError {
    ApiError::new(
        ApiCode::IdempotencyKeyReused,
        "this Idempotency-Key was used for a different order; use a new key",
    )
}

pub(super) fn expired() -> ApiError {
    ApiError::new(
        ApiCode::IdempotencyKeyExpired,
        "payment was unavailable and this attempt has expired; place the order again with a new Idempotency-Key",
    )
}

/// A known key whose attempt the engine no longer holds and the read model never saw
/// established: it cannot be answered, and must not start again.
pub(super) fn attempt_gone() -> ApiError {
    ApiError::new(
        ApiCode::IdempotencyKeyExpired,
        "this Idempotency-Key's attempt is no longer on record; place the order again with a new Idempotency-Key",
    )
}
