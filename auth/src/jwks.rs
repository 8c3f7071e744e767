//! The identity provider's public keys (a JWKS document at `BAEDAL_JWT_JWKS_URL`), for RS256
//! and ES256 tokens.
//!
//! Keys are chosen by the token's `kid` and cached. An unknown `kid` refetches the document
//! once (the provider has rotated its keys), but not more often than [`Jwks::min_refresh`], so a
//! flood of tokens with made-up `kid`s cannot turn into a flood of requests to the provider.
//! Each key verifies only the algorithm it is for: an RS256 key never checks an HS256 token.

use crate::AuthError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One verification key and the algorithm it is for.
#[derive(Clone)]
pub(crate) struct Key {
    pub key: DecodingKey,
    pub alg: Algorithm,
}

/// The provider's keys by `kid`, fetched on demand.
pub struct Jwks {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, Key>>,
    /// When the set was last fetched; held while fetching so concurrent misses fetch once.
    fetched: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jwks({})", self.url())
    }
}

impl Jwks {
    pub fn new(url: impl Into<String>) -> Self {
        // reqwest's rustls needs a process-wide crypto provider; installing one that is
        // already installed is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            url: url.into(),
            http: reqwest::Client::new(),
            keys: RwLock::default(),
            fetched: tokio::sync::Mutex::new(None),
            min_refresh: Duration::from_secs(10),
        }
    }

    /// Refetch on an unknown `kid` at most this often (default 10 s).
    pub fn min_refresh(mut self, every: Duration) -> Self {
        self.min_refresh = every;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key for `kid`, fetching the set when it is not known yet.
    pub(crate) async fn key(&self, kid: &str) -> Result<Key, AuthError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let mut fetched = self.fetched.lock().await;
        // Someone else may have fetched while this caller waited.
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        if fetched.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(AuthError::UnknownKey(kid.to_owned()));
        }
        let set = self.fetch().await;
        *fetched = Some(Instant::now());
        let keys = set?;
        let found = keys.get(kid).cloned();
        *self.keys.write().expect("jwks cache lock") = keys;
        found.ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
    }

    fn cached(&self, kid: &str) -> Option<Key> {
        self.keys.read().expect("jwks cache lock").get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, AuthError> {
        let unavailable = |e: String| AuthError::KeysUnavailable(format!("{}: {e}", self.url));
        let resp = self
            .http
            .get(&self.url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("answered {}", resp.status())));
        }
        let set: JwkSet = resp.json().await.map_err(|e| unavailable(e.to_string()))?;
        Ok(usable_keys(&set))
    }
}

/// The signing keys of `set` baedal can verify with (RS256, ES256), by `kid`; others are
/// skipped with a warning rather than failing the whole set.
fn usable_keys(set: &JwkSet) -> HashMap<String, Key> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::warn!("JWKS key without a kid skipped");
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => {
                tracing::warn!(kid, "JWKS key skipped: only RS256 and ES256 keys are used");
                continue;
            }
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => {
                keys.insert(kid, Key { key, alg });
            }
            Err(e) => tracing::warn!(kid, "JWKS key skipped: {e}"),
        }
    }
    keys
}
