//! The one place a token's claims are checked, whichever key verified its signature.

use crate::{AuthError, Claims, Expected, Role};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// Decode `token` with `key` under `alg`, then apply baedal's own rules to the claims.
pub(crate) fn decode(
    token: &str,
    key: &DecodingKey,
    alg: Algorithm,
    expected: &Expected,
) -> Result<Claims, AuthError> {
    let mut v = Validation::new(alg);
    v.required_spec_claims = ["exp", "sub", "iss", "aud"]
        .into_iter()
        .map(String::from)
        .collect();
    v.set_issuer(&[&expected.issuer]);
    v.set_audience(&[&expected.audience]);
    let claims = jsonwebtoken::decode::<Claims>(token, key, &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
            _ => AuthError::Invalid,
        })?;
    if claims.role == Role::StoreOwner && claims.store_id.is_none() {
        return Err(AuthError::StoreIdRequired);
    }
    if claims.sub.is_empty() {
        return Err(AuthError::Invalid);
    }
    Ok(claims)
}
