//! `malipo paystack`: call the configured Paystack account from the shell (placeholder until the client lands).

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `malipo paystack`.
#[derive(Debug, Args)]
pub struct PaystackArgs {}

/// Arguments of `malipo sim paystack`.
#[derive(Debug, Args)]
pub struct SimPaystackArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Runs `malipo paystack`.
pub async fn run(_args: PaystackArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`malipo paystack` is not available yet")
}

/// Runs `malipo sim paystack`.
pub async fn run_sim(_args: SimPaystackArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`malipo sim paystack` is not available yet")
}
