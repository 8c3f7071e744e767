//! Who is calling: bearer tokens for people (JWT with a role) and for services.
//!
//! Shared by the api and the payment and notification services so every door checks tokens the
//! same way: HS256 tokens signed with the shared secret, RS256/ES256 tokens from an identity
//! provider's JWKS, both with `exp`, `iss` and `aud` checked. Its only I/O is fetching that JWKS.
//! It must not decide what a role may do with a given order (that is the api's object-level
//! check).

mod identity;
mod jwks;
mod keys;
mod validation;

pub use identity::Identity;
pub use jwks::Jwks;
pub use keys::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, DEFAULT_MAX_LIFETIME, Expected, TokenKeys};

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
    pub const ALL: [Role; 4] = [Role::Customer, Role::StoreOwner, Role::Rider, Role::Ops];

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

/// JWT claims: `sub`, `role`, and `store_id` for store owners. `iss` and `aud` are stamped
/// and checked by the keys, not carried here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// Expiry, seconds since the epoch. Required: `default` only lets a token without it reach
    /// the validation that names the missing claim.
    #[serde(default)]
    pub exp: u64,
}

/// Why a caller was not let in. Each says what to do about it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing bearer token: send 'Authorization: Bearer <token>'")]
    Missing,
    #[error("invalid token: get a new one")]
    Invalid,
    #[error("expired token: get a new one")]
    Expired,
    #[error(
        "token was issued by someone else or for another audience (iss/aud): get one for this service"
    )]
    WrongAudience,
    #[error("token lacks the '{0}' claim: get one from this service's identity provider")]
    MissingClaim(String),
    #[error("token is signed with an algorithm this service does not accept (HS256, RS256, ES256)")]
    UnsupportedAlgorithm,
    #[error(
        "RS256/ES256 tokens need the identity provider's keys: this service has no BAEDAL_JWT_JWKS_URL"
    )]
    NoProviderKeys,
    #[error("RS256/ES256 token without a 'kid' header: the identity provider must name its key")]
    MissingKid,
    #[error("token signed with key '{0}', which the identity provider does not publish")]
    UnknownKey(String),
    /// The detail (which URL, what failed) is logged, never answered: it names internals.
    #[error("the identity provider's keys cannot be fetched right now; retry shortly")]
    KeysUnavailable(String),
    #[error(
        "this service takes people's tokens from its identity provider only (RS256/ES256): get one there"
    )]
    SharedSecretRefused,
    #[error(
        "token lives longer than this service accepts ({0} s from issue to expiry): get a shorter-lived one"
    )]
    LivesTooLong(u64),
    #[error("unknown role '{0}': use customer, store_owner, rider or ops")]
    UnknownRole(String),
    #[error("a store_owner token needs a store_id")]
    StoreIdRequired,
    #[error(
        "this endpoint takes only the worker's credential (charges and refunds are for the worker)"
    )]
    ServiceTokenOnly,
    #[error("this endpoint takes the service token or an ops token")]
    ServiceOrOpsOnly,
}

impl AuthError {
    /// The caller is known but may not do this (403), rather than unknown (401).
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            AuthError::ServiceTokenOnly | AuthError::ServiceOrOpsOnly
        )
    }

    /// The failure is ours, not the token's: the provider's keys could not be fetched (503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::KeysUnavailable(_))
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

/// Endpoints that move money: the shared service token and nothing else, not even ops.
pub fn service_token_only(header: Option<&str>, service_token: &str) -> Result<(), AuthError> {
    let token = bearer(header)?;
    if constant_time_eq(token.as_bytes(), service_token.as_bytes()) {
        Ok(())
    } else if jsonwebtoken::decode_header(token).is_ok() {
        Err(AuthError::ServiceTokenOnly)
    } else {
        Err(AuthError::Invalid)
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
        assert_eq!(keys.verify(&keys.sign(&c)), Err(AuthError::Expired));
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
    fn tokens_for_another_issuer_or_audience_are_refused() {
        let ours = TokenKeys::new("s");
        let theirs = |issuer: &str, audience: &str| {
            TokenKeys::with_expected(
                "s",
                Expected {
                    issuer: issuer.into(),
                    audience: audience.into(),
                },
            )
            .sign(&claims(Role::Ops, None))
        };
        assert!(
            ours.verify(&theirs(DEFAULT_ISSUER, DEFAULT_AUDIENCE))
                .is_ok()
        );
        assert_eq!(
            ours.verify(&theirs("someone-else", DEFAULT_AUDIENCE)),
            Err(AuthError::WrongAudience)
        );
        assert_eq!(
            ours.verify(&theirs(DEFAULT_ISSUER, "another-api")),
            Err(AuthError::WrongAudience)
        );
    }

    #[test]
    fn tokens_without_exp_iss_or_aud_are_refused() {
        use jsonwebtoken::{EncodingKey, Header, encode};
        let keys = TokenKeys::new("s");
        let raw = |v: serde_json::Value| {
            encode(&Header::default(), &v, &EncodingKey::from_secret(b"s")).unwrap()
        };
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        let full = serde_json::json!({"sub": "u", "role": "ops", "exp": exp,
            "iss": DEFAULT_ISSUER, "aud": DEFAULT_AUDIENCE});
        assert!(keys.verify(&raw(full.clone())).is_ok());
        for claim in ["exp", "iss", "aud"] {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                keys.verify(&raw(v)),
                Err(AuthError::MissingClaim(claim.into())),
                "{claim}"
            );
        }
    }

    #[test]
    fn money_endpoints_take_only_the_service_token() {
        let keys = TokenKeys::new("s");
        assert!(service_token_only(Some("Bearer svc"), "svc").is_ok());
        let ops = keys.sign(&claims(Role::Ops, None));
        let refused = service_token_only(Some(&format!("Bearer {ops}")), "svc").unwrap_err();
        assert_eq!(refused, AuthError::ServiceTokenOnly);
        assert!(refused.is_forbidden());
        assert_eq!(
            service_token_only(Some("Bearer nope"), "svc"),
            Err(AuthError::Invalid)
        );
        assert_eq!(service_token_only(None, "svc"), Err(AuthError::Missing));
    }

    #[tokio::test]
    async fn reads_take_the_service_token_or_ops() {
        let keys = TokenKeys::new("s");
        let id = Identity::new(keys.clone());
        assert!(id.service_or_ops(Some("Bearer svc"), "svc").await.is_ok());
        let ops = keys.sign(&claims(Role::Ops, None));
        assert!(
            id.service_or_ops(Some(&format!("Bearer {ops}")), "svc")
                .await
                .is_ok()
        );
        let cust = keys.sign(&claims(Role::Customer, None));
        assert_eq!(
            id.service_or_ops(Some(&format!("Bearer {cust}")), "svc")
                .await,
            Err(AuthError::ServiceOrOpsOnly)
        );
        assert!(id.service_or_ops(Some("Bearer nope"), "svc").await.is_err());
    }
}
