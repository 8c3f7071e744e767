//! `baedal codec-server`: decodes sealed payloads for the Temporal Web UI and CLI.

use crate::process::serve;
use crate::settings::{CodecDoor, Listener, PayloadKey, TemporalUi};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    door: CodecDoor,
    #[command(flatten)]
    payload_key: PayloadKey,
    /// The Web UI allowed to call it (CORS).
    #[command(flatten)]
    temporal_ui: TemporalUi,
    #[command(flatten)]
    listener: Listener,
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let codec = a.payload_key.viewing_codec()?;
    let app = baedal_codec::server::router(codec, Some(&a.temporal_ui.url()));
    serve(&a.door.codec_addr, "codec server", app, a.listener.limits()).await
}
