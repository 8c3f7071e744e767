//! Verifying who a bearer token says the caller is: HS256 tokens with the shared secret when no
//! identity provider is configured, RS256/ES256 tokens with the provider's keys when a JWKS URL
//! is. With a provider, people's tokens come from it alone: an HS256 token is refused, so the
//! shared secret (held by every api and service pod) cannot mint an ops token.

use crate::jwks::Jwks;
use crate::{AuthError, Claims, TokenKeys, bearer, constant_time_eq, validation};
use jsonwebtoken::Algorithm;
use std::sync::Arc;

/// Every way this deployment verifies people's tokens. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Identity {
    keys: TokenKeys,
    jwks: Option<Arc<Jwks>>,
}

impl Identity {
    /// Tokens signed with the shared secret only.
    pub fn new(keys: TokenKeys) -> Self {
        Self { keys, jwks: None }
    }

    /// Accept RS256/ES256 tokens signed by the provider publishing `jwks`, and no longer HS256
    /// tokens signed with the shared secret.
    pub fn with_jwks(mut self, jwks: Jwks) -> Self {
        self.jwks = Some(Arc::new(jwks));
        self
    }

    /// Whether people's tokens come from an identity provider (then HS256 ones are refused).
    pub fn has_provider(&self) -> bool {
        self.jwks.is_some()
    }

    /// The HS256 keys (dev tokens are signed with them).
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Verify a token: signature by the key its header names, expiry, issuer, audience.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        match header.alg {
            Algorithm::HS256 if self.jwks.is_some() => Err(AuthError::SharedSecretRefused),
            Algorithm::HS256 => self.keys.verify(token),
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self.jwks.as_ref().ok_or(AuthError::NoProviderKeys)?;
                let kid = header.kid.ok_or(AuthError::MissingKid)?;
                let key = jwks.key(&kid).await?;
                if key.alg != header.alg {
                    return Err(AuthError::Invalid);
                }
                validation::decode(
                    token,
                    &key.key,
                    key.alg,
                    self.keys.expected(),
                    self.keys.max_lifetime(),
                )
            }
            _ => Err(AuthError::UnsupportedAlgorithm),
        }
    }

    /// Service endpoints that read or switch things: the service token, or an ops person.
    pub async fn service_or_ops(
        &self,
        header: Option<&str>,
        service_token: &str,
    ) -> Result<(), AuthError> {
        let token = bearer(header)?;
        if constant_time_eq(token.as_bytes(), service_token.as_bytes()) {
            return Ok(());
        }
        match self.verify(token).await? {
            c if c.role == crate::Role::Ops => Ok(()),
            _ => Err(AuthError::ServiceOrOpsOnly),
        }
    }
}
