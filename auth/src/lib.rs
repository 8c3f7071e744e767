//! Who is calling: bearer tokens for people (JWT with a role) and for services.
//!
//! Shared by the api and the payment and notification services so every door checks tokens the
//! same way. It only signs and verifies; it must not decide what a role may do with a given
//! order (that is the api's object-level check) and must not do I/O.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The roles of the HTTP contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    StoreOwner,
    Rider,
    Ops,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::StoreOwner => "store_owner",
            Role::Rider => "rider",
            Role::Ops => "ops",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Role::Customer),
            "store_owner" => Ok(Role::StoreOwner),
            "rider" => Ok(Role::Rider),
            "ops" => Ok(Role::Ops),
            other => Err(AuthError::UnknownRole(other.to_owned())),
        }
    }
}

/// JWT claims: `sub`, `role`, and `store_id` for store owners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("invalid or expired token: get a new one")]
    Invalid,
    #[error("unknown role '{0}': use customer, store_owner, rider or ops")]
    UnknownRole(String),
    #[error("a store_owner token needs a store_id")]
    StoreIdRequired,
}

/// Signs and verifies HS256 tokens with one shared secret.
#[derive(Clone)]
pub struct TokenKeys {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    pub fn new(secret: &str) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret.as_bytes()),
            dec: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        encode(&Header::new(Algorithm::HS256), claims, &self.enc)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Verify signature and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        let claims = decode::<Claims>(token, &self.dec, &v)
            .map(|d| d.claims)
            .map_err(|_| AuthError::Invalid)?;
        if claims.role == Role::StoreOwner && claims.store_id.is_none() {
            return Err(AuthError::StoreIdRequired);
        }
        if claims.sub.is_empty() {
            return Err(AuthError::Invalid);
        }
        Ok(claims)
    }
}

/// The token out of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let h = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = h.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token.trim())
}

/// Service-to-service check: the shared service token, or an ops person's JWT.
pub fn service_or_ops(
    header: Option<&str>,
    service_token: &str,
    keys: &TokenKeys,
) -> Result<(), AuthError> {
    let token = bearer(header)?;
    if constant_time_eq(token.as_bytes(), service_token.as_bytes()) {
        return Ok(());
    }
    match keys.verify(token)? {
        c if c.role == Role::Ops => Ok(()),
        _ => Err(AuthError::Invalid),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Role, store: Option<&str>) -> Claims {
        Claims {
            sub: "u1".into(),
            role,
            store_id: store.map(Into::into),
            exp: jsonwebtoken::get_current_timestamp() + 600,
        }
    }

    #[test]
    fn signed_tokens_verify_and_forged_ones_do_not() {
        let keys = TokenKeys::new("secret-a");
        let t = keys.sign(&claims(Role::Customer, None));
        assert_eq!(keys.verify(&t).unwrap().role, Role::Customer);
        let forged = TokenKeys::new("secret-b").sign(&claims(Role::Ops, None));
        assert_eq!(keys.verify(&forged), Err(AuthError::Invalid));
        assert_eq!(keys.verify("not.a.jwt"), Err(AuthError::Invalid));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = TokenKeys::new("s");
        let mut c = claims(Role::Rider, None);
        c.exp = 1_000;
        assert_eq!(keys.verify(&keys.sign(&c)), Err(AuthError::Invalid));
    }

    #[test]
    fn store_owner_needs_store_id() {
        let keys = TokenKeys::new("s");
        let t = keys.sign(&claims(Role::StoreOwner, None));
        assert_eq!(keys.verify(&t), Err(AuthError::StoreIdRequired));
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::Missing));
    }

    #[test]
    fn services_accept_the_service_token_or_ops() {
        let keys = TokenKeys::new("s");
        assert!(service_or_ops(Some("Bearer svc"), "svc", &keys).is_ok());
        let ops = keys.sign(&claims(Role::Ops, None));
        assert!(service_or_ops(Some(&format!("Bearer {ops}")), "svc", &keys).is_ok());
        let cust = keys.sign(&claims(Role::Customer, None));
        assert!(service_or_ops(Some(&format!("Bearer {cust}")), "svc", &keys).is_err());
        assert!(service_or_ops(Some("Bearer nope"), "svc", &keys).is_err());
    }
}
