//! `baedal`: see `baedal --help`. A thin dispatcher: each subcommand lives in
//! `commands/<name>.rs`, each role is assembled in `roles.rs`.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "baedal",
    version,
    about = "Food-delivery ordering on durable Temporal workflows"
)]
struct Cli {
    #[command(subcommand)]
    command: baedal::commands::Command,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,temporalio_sdk_core=warn,temporalio_sdk=warn".into()),
        )
        .init();
    // One TLS crypto provider for every HTTPS client in the process (JWKS, webhooks, the
    // api's calls to the notification service), whatever the role.
    baedal_activities::install_crypto_provider();
    Cli::parse().command.run().await
}
