//! `BAEDAL_PAYLOAD_KEY`: one or more AES-256 keys, comma-separated, each `id:base64` (or bare
//! base64, whose id is then derived from the key). The first seals; all open.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use sha2::{Digest, Sha256};

/// The keys payloads are sealed and opened with.
pub struct PayloadKeys {
    keys: Vec<(String, LessSafeKey)>,
}

/// Why `BAEDAL_PAYLOAD_KEY` was refused. Says how to make a good one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "BAEDAL_PAYLOAD_KEY is empty: set it to `id:<base64 of 32 random bytes>` (e.g. `k1:$(openssl rand -base64 32)`)"
    )]
    Empty,
    #[error(
        "BAEDAL_PAYLOAD_KEY entry '{0}' is not base64 of exactly 32 bytes: make one with `openssl rand -base64 32`"
    )]
    NotAKey(String),
    #[error("BAEDAL_PAYLOAD_KEY lists key id '{0}' twice")]
    DuplicateId(String),
}

impl PayloadKeys {
    pub fn parse(spec: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, b64) = match entry.split_once(':') {
                Some((id, b64)) => (Some(id.trim().to_owned()), b64.trim()),
                None => (None, entry),
            };
            let label = id.clone().unwrap_or_else(|| "(unnamed)".into());
            let bytes = STANDARD
                .decode(b64)
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| KeyError::NotAKey(label.clone()))?;
            let id = id.unwrap_or_else(|| hex::encode(&Sha256::digest(&bytes)[..4]));
            if keys.iter().any(|(k, _)| *k == id) {
                return Err(KeyError::DuplicateId(id));
            }
            let key =
                UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::NotAKey(label))?;
            keys.push((id, LessSafeKey::new(key)));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// A fresh random key in the `BAEDAL_PAYLOAD_KEY` form (for `baedal dev`'s data dir).
    pub fn generate() -> String {
        use ring::rand::{SecureRandom, SystemRandom};
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system has randomness");
        format!("dev:{}", STANDARD.encode(bytes))
    }

    pub(crate) fn sealing(&self) -> (&str, &LessSafeKey) {
        let (id, key) = &self.keys[0];
        (id, key)
    }

    pub fn sealing_id(&self) -> &str {
        &self.keys[0].0
    }

    pub(crate) fn opening(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

impl std::fmt::Debug for PayloadKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "PayloadKeys({ids:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_named_or_derived_and_bad_ones_refused() {
        let k = STANDARD.encode([7u8; 32]);
        assert_eq!(
            PayloadKeys::parse(&format!("a:{k}")).unwrap().sealing_id(),
            "a"
        );
        assert_eq!(PayloadKeys::parse(&k).unwrap().sealing_id().len(), 8);
        assert_eq!(PayloadKeys::parse(" ").unwrap_err(), KeyError::Empty);
        let short = STANDARD.encode([7u8; 16]);
        assert_eq!(
            PayloadKeys::parse(&format!("s:{short}")).unwrap_err(),
            KeyError::NotAKey("s".into())
        );
        assert_eq!(
            PayloadKeys::parse(&format!("a:{k},a:{k}")).unwrap_err(),
            KeyError::DuplicateId("a".into())
        );
        assert!(PayloadKeys::parse(&PayloadKeys::generate()).is_ok());
    }
}
