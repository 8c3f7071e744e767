//! The identity provider's public keys (a JWKS document at `BAEDAL_JWT_JWKS_URL`), for RS256
//! and ES256 tokens.
//!
//! Keys are chosen by the token's `kid` and cached. An unknown `kid` refetches the document
//! once (the provider has rotated its keys), but not more often than [`Jwks::min_refresh`], so a
//! flood of tokens with made-up `kid`s cannot turn into a flood of requests to the provider.
//! Each key verifies only the algorithm it is for: an RS256 key never checks an HS256 token.
//!
//! The cached set expires: after the document's `Cache-Control: max-age` (never longer than
//! [`MAX_KEY_AGE`]), it is fetched again before any token is verified with it, so a key the
//! provider withdrew (leaked, rotated out) stops being trusted within that time even when no
//! token with an unknown `kid` comes along. When the provider cannot be reached then, tokens
//! are refused (503) rather than verified with keys that may have been withdrawn.

use crate::AuthError;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// How long a fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a fetched key set is trusted, whatever the provider's `Cache-Control` says (and
/// when it says nothing).
pub const MAX_KEY_AGE: Duration = Duration::from_secs(10 * 60);

/// The keys of one fetch and until when they may be used.
#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    expires: Option<Instant>,
}

impl Cached {
    fn fresh(&self) -> bool {
        self.expires.is_some_and(|at| Instant::now() < at)
    }
}

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
    keys: RwLock<Cached>,
    /// When the set was last fetched; held while fetching so concurrent misses fetch once.
    fetched: tokio::sync::Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jwks(..)")
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

    /// The key for `kid`, fetching the set when it is not known yet or has expired.
    pub(crate) async fn key(&self, kid: &str) -> Result<Key, AuthError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let mut fetched = self.fetched.lock().await;
        // Someone else may have fetched while this caller waited.
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let fresh = self.keys.read().expect("jwks cache lock").fresh();
        if fetched.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(if fresh {
                AuthError::UnknownKey(kid.to_owned())
            } else {
                // Expired and the last fetch just failed: do not hammer the provider.
                AuthError::KeysUnavailable("refetch throttled".into())
            });
        }
        let set = self.fetch().await;
        *fetched = Some(Instant::now());
        let (keys, max_age) = match set {
            Ok(got) => got,
            Err(e) => {
                // Fail closed: expired keys may have been withdrawn.
                self.keys.write().expect("jwks cache lock").expires = None;
                return Err(e);
            }
        };
        let found = keys.get(kid).cloned();
        // At least `min_refresh`, so a provider saying `no-cache` is not asked on every token.
        let ttl = max_age
            .unwrap_or(MAX_KEY_AGE)
            .clamp(self.min_refresh, MAX_KEY_AGE);
        *self.keys.write().expect("jwks cache lock") = Cached {
            keys,
            expires: Some(Instant::now() + ttl),
        };
        found.ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
    }

    fn cached(&self, kid: &str) -> Option<Key> {
        let cache = self.keys.read().expect("jwks cache lock");
        if !cache.fresh() {
            return None;
        }
        cache.keys.get(kid).cloned()
    }

    /// The usable keys and the `max-age` the provider gave them.
    async fn fetch(&self) -> Result<(HashMap<String, Key>, Option<Duration>), AuthError> {
        // The URL and the cause go to the log only: an error body must not name internals.
        let unavailable = |e: String| {
            tracing::warn!(url = %self.url, error = %e, "the identity provider's JWKS cannot be fetched");
            AuthError::KeysUnavailable(e)
        };
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
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let set: JwkSet = resp.json().await.map_err(|e| unavailable(e.to_string()))?;
        Ok((usable_keys(&set), max_age))
    }
}

/// `max-age` of a `Cache-Control` value; `no-cache`/`no-store` are an age of zero.
fn max_age(cache_control: &str) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    age
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }
}
