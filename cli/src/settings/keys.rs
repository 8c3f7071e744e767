//! Keys and secrets: the payload key, the JWT settings, the service token.

use super::{
    DEV_JWT_SECRET, DEV_PAYMENT_TOKEN, DEV_SERVICE_TOKEN, DataDir, Secret, require_https,
    require_production_secret,
};
use anyhow::Context;
use clap::Args;
use std::time::Duration;

/// The keys sealing every payload sent to Temporal.
#[derive(Debug, Clone, Args)]
pub struct PayloadKey {
    /// AES-256 keys sealing every payload sent to Temporal: `id:<base64 of 32 bytes>`,
    /// comma-separated, the first seals and all open (rotate by listing a new one first).
    /// Required by every role that talks to Temporal but `baedal dev`, which keeps one in the
    /// data dir.
    #[arg(long, env = "BAEDAL_PAYLOAD_KEY", hide_env_values = true)]
    pub payload_key: Option<Secret>,
}

impl PayloadKey {
    /// The payload codec of a role outside dev: refuses to run without BAEDAL_PAYLOAD_KEY, and
    /// refuses unsealed payloads (a plaintext command written straight to Temporal).
    pub fn codec(&self) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        Ok(self.viewing_codec()?.refusing_unsealed())
    }

    /// The codec of the codec server, which shows people what is in a history: it opens sealed
    /// payloads and shows unsealed ones as they are (a forged one included, for the record).
    pub fn viewing_codec(&self) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        let spec = self.payload_key.as_ref().ok_or_else(|| {
            anyhow::anyhow!(
                "BAEDAL_PAYLOAD_KEY is unset: card data would reach Temporal in plaintext. Set it \
                 to `k1:$(openssl rand -base64 32)` (the same on every api and worker)"
            )
        })?;
        Ok(baedal_codec::EncryptionCodec::new(
            baedal_codec::PayloadKeys::parse(spec.expose())?,
        ))
    }

    /// The payload codec of `baedal dev`: BAEDAL_PAYLOAD_KEY if set, else the key kept in the
    /// data dir (made on first start, so a resumed data dir opens its own history).
    pub fn dev_codec(&self, dir: &DataDir) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        self.key_or_data_dir_key(dir, true)
    }

    /// The codec of a client of a running `baedal dev` (a benchmark's query reads): its key,
    /// never a new one.
    pub fn client_codec(&self, dir: &DataDir) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        self.key_or_data_dir_key(dir, false)
    }

    fn key_or_data_dir_key(
        &self,
        dir: &DataDir,
        create: bool,
    ) -> anyhow::Result<baedal_codec::EncryptionCodec> {
        if self.payload_key.is_some() {
            // Dev opens unsealed payloads too: a data dir from before encryption still opens.
            return self.viewing_codec();
        }
        let path = dir.data_dir.join("payload.key");
        let spec = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => {
                anyhow::bail!(
                    "no payload key: set BAEDAL_PAYLOAD_KEY, or BAEDAL_DATA_DIR to the running \
                     `baedal dev`'s data dir ({} has no payload.key)",
                    dir.data_dir.display()
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                dir.create()?;
                let key = baedal_codec::PayloadKeys::generate();
                write_private(&path, &key)?;
                key
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let keys = baedal_codec::PayloadKeys::parse(&spec)
            .with_context(|| format!("the payload key in {}", path.display()))?;
        Ok(baedal_codec::EncryptionCodec::new(keys))
    }
}

/// Write a secret readable by its owner only.
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// How people's tokens are verified (and dev tokens signed).
#[derive(Debug, Clone, Args)]
pub struct Jwt {
    /// Secret that signs and verifies user JWTs.
    #[arg(
        long,
        env = "BAEDAL_JWT_SECRET",
        default_value = DEV_JWT_SECRET,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub jwt_secret: Secret,
    /// Issuer (`iss`) every user JWT must carry; dev tokens are stamped with it.
    #[arg(long, env = "BAEDAL_JWT_ISSUER", default_value = baedal_auth::DEFAULT_ISSUER)]
    pub jwt_issuer: String,
    /// Audience (`aud`) every user JWT must be meant for; dev tokens are stamped with it.
    #[arg(long, env = "BAEDAL_JWT_AUDIENCE", default_value = baedal_auth::DEFAULT_AUDIENCE)]
    pub jwt_audience: String,
    /// The identity provider's JWKS (https outside dev): RS256/ES256 tokens are verified with
    /// its keys (by `kid`, cached for the document's max-age, at most 10 minutes), and HS256
    /// tokens signed with BAEDAL_JWT_SECRET are then refused.
    #[arg(long, env = "BAEDAL_JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,
    /// The longest a user token may live: `exp - iat` (or `exp - now` without `iat`) above it
    /// is refused.
    #[arg(long, env = "BAEDAL_JWT_MAX_LIFETIME", default_value = "24h", value_parser = humantime::parse_duration)]
    pub jwt_max_lifetime: Duration,
}

impl Jwt {
    /// How this process verifies people's tokens (and signs dev tokens).
    pub fn identity(&self) -> baedal_auth::Identity {
        let keys = baedal_auth::TokenKeys::with_expected(
            self.jwt_secret.expose(),
            baedal_auth::Expected {
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
            },
        );
        let identity = baedal_auth::Identity::new(keys.with_max_lifetime(self.jwt_max_lifetime));
        match &self.jwt_jwks_url {
            Some(url) => identity.with_jwks(baedal_auth::Jwks::new(url)),
            None => identity,
        }
    }

    /// Outside dev: a real secret and an https JWKS, or no start.
    pub fn require_production(&self) -> anyhow::Result<()> {
        require_production_secret("BAEDAL_JWT_SECRET", &self.jwt_secret, DEV_JWT_SECRET)?;
        if let Some(url) = &self.jwt_jwks_url {
            require_https("BAEDAL_JWT_JWKS_URL", url, false)?;
        }
        Ok(())
    }
}

/// The bearer token the services use with each other.
#[derive(Debug, Clone, Args)]
pub struct ServiceToken {
    /// Bearer token services use with each other.
    #[arg(
        long,
        env = "BAEDAL_SERVICE_TOKEN",
        default_value = DEV_SERVICE_TOKEN,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub service_token: Secret,
}

impl ServiceToken {
    pub fn value(&self) -> String {
        self.service_token.expose().to_owned()
    }

    /// Outside dev: a real token or no start.
    pub fn require_production(&self) -> anyhow::Result<()> {
        require_production_secret(
            "BAEDAL_SERVICE_TOKEN",
            &self.service_token,
            DEV_SERVICE_TOKEN,
        )
    }
}

/// The bearer token of the link that moves money: the worker charges and refunds at the
/// payment service with it. No api is given it, so an api pod that is broken into cannot move
/// money (BAEDAL_SERVICE_TOKEN stays for what the apis legitimately call).
#[derive(Debug, Clone, Args)]
pub struct PaymentToken {
    /// Bearer token the worker charges and refunds with at the payment service (the only
    /// credential its charge and refund endpoints take).
    #[arg(
        long,
        env = "BAEDAL_PAYMENT_TOKEN",
        default_value = DEV_PAYMENT_TOKEN,
        hide_default_value = true,
        hide_env_values = true
    )]
    pub payment_token: Secret,
}

impl PaymentToken {
    pub fn value(&self) -> String {
        self.payment_token.expose().to_owned()
    }

    /// Outside dev: a real token or no start.
    pub fn require_production(&self) -> anyhow::Result<()> {
        require_production_secret(
            "BAEDAL_PAYMENT_TOKEN",
            &self.payment_token,
            DEV_PAYMENT_TOKEN,
        )
    }
}
