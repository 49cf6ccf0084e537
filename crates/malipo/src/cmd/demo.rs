//! `malipo demo`: the whole flow on this machine, with the simulators standing in for Safaricom
//! and Paystack.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `malipo demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Runs the demo.
pub async fn run(_args: DemoArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`malipo demo` is not available yet")
}
