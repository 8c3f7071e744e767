//! The HS256 shared secret: signs dev tokens and verifies the tokens it signed, stamping and
//! requiring the deployment's issuer and audience so a token minted for another system with the
//! same secret is still refused.

use crate::{AuthError, Claims, validation};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The longest a token may live (`exp - iat`) when `BAEDAL_JWT_MAX_LIFETIME` is not set: a
/// working day and a night, as long as a dev token lives.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The issuer baedal stamps and expects when `BAEDAL_JWT_ISSUER` is not set.
pub const DEFAULT_ISSUER: &str = "baedal";
/// The audience baedal stamps and expects when `BAEDAL_JWT_AUDIENCE` is not set.
pub const DEFAULT_AUDIENCE: &str = "baedal-api";

/// Who tokens must come from and be meant for (`iss`, `aud`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub issuer: String,
    pub audience: String,
}

impl Default for Expected {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
        }
    }
}

/// Signs and verifies HS256 tokens with one shared secret.
#[derive(Clone)]
pub struct TokenKeys {
    enc: EncodingKey,
    dec: DecodingKey,
    expected: Expected,
    max_lifetime: Duration,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKeys({:?}, ..)", self.expected)
    }
}

/// What goes on the wire: the claims plus who issued them and for whom.
#[derive(Serialize)]
struct Stamped<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
}

impl TokenKeys {
    /// Keys for `secret` with the default issuer and audience.
    pub fn new(secret: &str) -> Self {
        Self::with_expected(secret, Expected::default())
    }

    pub fn with_expected(secret: &str, expected: Expected) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret.as_bytes()),
            dec: DecodingKey::from_secret(secret.as_bytes()),
            expected,
            max_lifetime: DEFAULT_MAX_LIFETIME,
        }
    }

    /// Refuse tokens (of any key) that live longer than `max` (default
    /// [`DEFAULT_MAX_LIFETIME`]).
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    pub fn expected(&self) -> &Expected {
        &self.expected
    }

    /// A token for `claims`, stamped with this deployment's issuer and audience.
    pub fn sign(&self, claims: &Claims) -> String {
        let stamped = Stamped {
            claims,
            iss: &self.expected.issuer,
            aud: &self.expected.audience,
            iat: jsonwebtoken::get_current_timestamp(),
        };
        encode(&Header::new(Algorithm::HS256), &stamped, &self.enc)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Verify an HS256 token: signature, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        validation::decode(
            token,
            &self.dec,
            Algorithm::HS256,
            &self.expected,
            self.max_lifetime,
        )
    }
}
