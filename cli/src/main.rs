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
    baedal::process::init();
    Cli::parse().command.run().await
}
