//! `malipo security-credential`.

use std::process::ExitCode;

use clap::Args;

/// Arguments of `malipo security-credential`.
#[derive(Debug, Args)]
pub struct CredentialArgs {}

/// Runs `malipo security-credential`.
pub fn run(_args: CredentialArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
