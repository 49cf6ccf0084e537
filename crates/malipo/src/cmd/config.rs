//! `malipo init` and `malipo check-config`.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `malipo init`.
#[derive(Debug, Args)]
pub struct InitArgs {}

/// Arguments of `malipo check-config`.
#[derive(Debug, Args)]
pub struct CheckArgs {}

/// Runs `malipo init`.
pub fn init(_args: InitArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}

/// Runs `malipo check-config`.
pub async fn check(_args: CheckArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
