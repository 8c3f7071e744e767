//! Card data stays out of workflow history: an AES-256-GCM [`PayloadCodec`] for every payload
//! baedal sends to Temporal, and the HTTP codec server the Temporal Web UI calls to show them
//! decoded to whoever runs it with the key.
//!
//! The codec wraps the whole serialized payload (its metadata included) so nothing of the
//! original, not even its encoding, is readable on the server; the wrapper says only
//! `binary/encrypted` and which key sealed it, so keys can rotate: the first key of
//! `BAEDAL_PAYLOAD_KEY` seals, every listed key opens. Outside dev the codec refuses unsealed
//! payloads ([`EncryptionCodec::refusing_unsealed`]): the seal is what proves a payload came from
//! a holder of the key, so a command written in plaintext straight to Temporal's frontend (an
//! `ops_cancel` with a forged actor, bypassing the api) is refused by the worker instead of
//! obeyed. `baedal dev` lets unsealed payloads through, so a data dir from before encryption
//! still opens. Search attributes
//! are never encoded (the SDK skips them: the server must index them). The SDK's client does
//! not run the codec over the headers it sends (the worker opens them all the same), so a
//! client that writes headers (trace context) seals them with [`SealHeaders`].
//!
//! This crate must not know what is in a payload, and must never log key material or
//! plaintext.

mod headers;
mod keys;
pub mod server;

pub use headers::SealHeaders;
pub use keys::{KeyError, PayloadKeys};

use futures::FutureExt;
use futures::future::BoxFuture;
use prost::Message;
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};
use std::sync::Arc;
use temporalio_common::data_converters::{
    PayloadCodec, PayloadConversionError, SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

/// `encoding` of a sealed payload.
pub const ENCRYPTED_ENCODING: &[u8] = b"binary/encrypted";
/// Metadata key naming the key that sealed a payload.
pub const KEY_ID_METADATA: &str = "encryption-key-id";
/// Metadata key naming the cipher.
pub const CIPHER_METADATA: &str = "encryption-cipher";
const CIPHER: &[u8] = b"AES256-GCM";

/// Seals and opens payloads with the deployment's keys. Cheap to clone.
#[derive(Clone)]
pub struct EncryptionCodec {
    keys: Arc<PayloadKeys>,
    rng: SystemRandom,
    /// Refuse payloads that are not sealed (everywhere but dev).
    strict: bool,
}

impl std::fmt::Debug for EncryptionCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncryptionCodec(sealing with {})",
            self.keys.sealing_id()
        )
    }
}

/// Why a payload could not be sealed or opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error(
        "payload sealed with key id '{0}', which BAEDAL_PAYLOAD_KEY does not list: add that key (keys rotate by listing the new one first)"
    )]
    UnknownKey(String),
    #[error("sealed payload is damaged or was sealed with another key of the same id")]
    Damaged,
    #[error("no randomness for a nonce")]
    Random,
    #[error(
        "payload is not sealed with BAEDAL_PAYLOAD_KEY: refused (only holders of the key may write to this namespace)"
    )]
    Unsealed,
}

impl EncryptionCodec {
    pub fn new(keys: PayloadKeys) -> Self {
        Self {
            keys: Arc::new(keys),
            rng: SystemRandom::new(),
            strict: false,
        }
    }

    /// Refuse to open a payload that is not sealed (outside dev): see the crate's docs.
    pub fn refusing_unsealed(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Seal one payload: `nonce || AES-256-GCM(serialized payload)`, the key id as associated
    /// data so a payload cannot be passed off as sealed by another key.
    pub fn seal(&self, payload: &Payload) -> Result<Payload, CodecError> {
        let (id, key) = self.keys.sealing();
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CodecError::Random)?;
        let mut data = payload.encode_to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(id.as_bytes()),
            &mut data,
        )
        .map_err(|_| CodecError::Damaged)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(Payload {
            metadata: [
                ("encoding".to_owned(), ENCRYPTED_ENCODING.to_vec()),
                (KEY_ID_METADATA.to_owned(), id.as_bytes().to_vec()),
                (CIPHER_METADATA.to_owned(), CIPHER.to_vec()),
            ]
            .into_iter()
            .collect(),
            data: sealed,
            ..Default::default()
        })
    }

    /// Open one payload; one that is not sealed is returned as it is, or refused when the
    /// codec is [`refusing_unsealed`](Self::refusing_unsealed).
    pub fn open(&self, payload: Payload) -> Result<Payload, CodecError> {
        if !is_sealed(&payload) {
            if self.strict {
                return Err(CodecError::Unsealed);
            }
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID_METADATA)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let key: &LessSafeKey = self
            .keys
            .opening(&id)
            .ok_or_else(|| CodecError::UnknownKey(id.clone()))?;
        if payload.data.len() < NONCE_LEN {
            return Err(CodecError::Damaged);
        }
        let (nonce, sealed) = payload.data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CodecError::Damaged)?;
        let mut buf = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut buf)
            .map_err(|_| CodecError::Damaged)?;
        Payload::decode(&*plain).map_err(|_| CodecError::Damaged)
    }

    fn seal_all(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, PayloadConversionError> {
        payloads
            .iter()
            .map(|p| self.seal(p))
            .collect::<Result<_, _>>()
            .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)))
    }

    /// Open every payload of a message from Temporal. An unsealed one, when refused, becomes
    /// [`REFUSED_ENCODING`] (which no converter reads) rather than failing the whole message:
    /// the SDK fails a workflow task it cannot decode, and retries it for ever, so a forged
    /// update would wedge its order; a payload no converter reads is refused by the update's
    /// own input decoding instead (the update is rejected, the order carries on).
    fn open_all(&self, payloads: Vec<Payload>) -> Result<Vec<Payload>, PayloadConversionError> {
        payloads
            .into_iter()
            .map(|p| match self.open(p) {
                Err(CodecError::Unsealed) => {
                    tracing::warn!("an unsealed payload from Temporal was refused");
                    Ok(refused_marker())
                }
                other => other,
            })
            .collect::<Result<_, _>>()
            .map_err(|e| PayloadConversionError::EncodingError(Box::new(e)))
    }
}

/// `encoding` of what an unsealed payload is replaced with when refused: no payload converter
/// reads it, so whatever expected the payload fails to decode it.
pub const REFUSED_ENCODING: &[u8] = b"binary/unsealed-refused";

fn refused_marker() -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), REFUSED_ENCODING.to_vec())]
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

/// Whether `payload` is one this codec sealed.
pub fn is_sealed(payload: &Payload) -> bool {
    payload.metadata.get("encoding").map(Vec::as_slice) == Some(ENCRYPTED_ENCODING)
}

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = self.seal_all(payloads);
        async move { result }.boxed()
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let result = self.open_all(payloads);
        async move { result }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_payload(text: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())]
                .into_iter()
                .collect(),
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxscGxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAA=";

    fn codec(keys: &str) -> EncryptionCodec {
        EncryptionCodec::new(PayloadKeys::parse(keys).unwrap())
    }

    #[test]
    fn sealed_payloads_hide_everything_and_open_back() {
        let c = codec(K1);
        let plain = json_payload(r#"{"card_token":"tok_ok"}"#);
        let sealed = c.seal(&plain).unwrap();
        let raw = format!("{sealed:?}");
        assert!(
            !raw.contains("tok_ok") && !raw.contains("json/plain"),
            "{raw}"
        );
        assert_eq!(sealed.metadata[KEY_ID_METADATA], b"k1");
        assert_ne!(
            c.seal(&plain).unwrap().data,
            sealed.data,
            "a fresh nonce each time"
        );
        assert_eq!(c.open(sealed).unwrap(), plain);
    }

    #[test]
    fn plaintext_from_before_encryption_passes_through() {
        let p = json_payload("\"old\"");
        assert_eq!(codec(K1).open(p.clone()).unwrap(), p);
    }

    #[test]
    fn outside_dev_plaintext_is_refused_and_sealed_payloads_open() {
        let strict = codec(K1).refusing_unsealed();
        let forged = json_payload(r#"{"actor":"ops:mallory"}"#);
        assert_eq!(strict.open(forged), Err(CodecError::Unsealed));
        let p = json_payload("1");
        assert_eq!(strict.open(strict.seal(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any_listed() {
        let old = codec(K1).seal(&json_payload("1")).unwrap();
        let rotated = codec(&format!("{K2},{K1}"));
        assert_eq!(rotated.open(old.clone()).unwrap(), json_payload("1"));
        let new = rotated.seal(&json_payload("2")).unwrap();
        assert_eq!(new.metadata[KEY_ID_METADATA], b"k2");
        assert_eq!(
            codec(K1).open(new).unwrap_err(),
            CodecError::UnknownKey("k2".into())
        );
    }

    #[test]
    fn tampered_or_relabelled_payloads_do_not_open() {
        let c = codec(&format!("{K1},{K2}"));
        let mut flipped = c.seal(&json_payload("1")).unwrap();
        let last = flipped.data.len() - 1;
        flipped.data[last] ^= 1;
        assert_eq!(c.open(flipped).unwrap_err(), CodecError::Damaged);
        let mut relabelled = c.seal(&json_payload("1")).unwrap();
        relabelled
            .metadata
            .insert(KEY_ID_METADATA.into(), b"k2".to_vec());
        assert_eq!(c.open(relabelled).unwrap_err(), CodecError::Damaged);
    }
}
