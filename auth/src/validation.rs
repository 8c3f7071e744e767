//! The one place a token's claims are checked, whichever key verified its signature.

use crate::{AuthError, Claims, Expected, Role};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::Duration;

/// The claims plus `iat`, which only the lifetime rule reads.
#[derive(Deserialize)]
struct Wire {
    #[serde(flatten)]
    claims: Claims,
    #[serde(default)]
    iat: Option<u64>,
}

/// Decode `token` with `key` under `alg`, then apply baedal's own rules to the claims: among
/// them, no token may live longer than `max_lifetime` (neither `exp - iat` nor `exp - now`),
/// so a leaked long-lived token is not a key for years.
pub(crate) fn decode(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    expected: &Expected,
    max_lifetime: Duration,
) -> Result<Claims, AuthError> {
    let mut v = Validation::new(alg);
    v.required_spec_claims = ["exp", "sub", "iss", "aud"]
        .into_iter()
        .map(String::from)
        .collect();
    v.set_issuer(&[&expected.issuer]);
    v.set_audience(&[&expected.audience]);
    let Wire { claims, iat } = jsonwebtoken::decode::<Wire>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
            _ => AuthError::Invalid,
        })?;
    // Judged both from its issue and from now: an `iat` set in the future (unchecked by the
    // library) must not stretch a token over years.
    let now = jsonwebtoken::get_current_timestamp();
    let lives = claims
        .exp
        .saturating_sub(now)
        .max(claims.exp.saturating_sub(iat.unwrap_or(now)));
    if lives > max_lifetime.as_secs() {
        return Err(AuthError::LivesTooLong(max_lifetime.as_secs()));
    }
    if claims.role == Role::StoreOwner && claims.store_id.is_none() {
        return Err(AuthError::StoreIdRequired);
    }
    if claims.sub.is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(claims)
}
