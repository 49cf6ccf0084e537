//! `malipo mpesa`: call the configured Mpesa account from the shell (placeholder until the client lands).

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `malipo mpesa`.
#[derive(Debug, Args)]
pub struct MpesaArgs {}

/// Arguments of `malipo sim mpesa`.
#[derive(Debug, Args)]
pub struct SimMpesaArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Runs `malipo mpesa`.
pub async fn run(_args: MpesaArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`malipo mpesa` is not available yet")
}

/// Runs `malipo sim mpesa`.
pub async fn run_sim(_args: SimMpesaArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`malipo sim mpesa` is not available yet")
}
