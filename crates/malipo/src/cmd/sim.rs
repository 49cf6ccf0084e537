//! `malipo sim`: local simulators for people and demos.

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Arguments of `malipo sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(subcommand)]
    which: Which,
    /// Takes the place of the global --config, so the simulators' help does not offer an option
    /// they never read (they need no configuration).
    #[arg(id = "config", long = "config", hide = true, value_name = "FILE")]
    _config: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Simulate Safaricom's Daraja API on loopback.
    Mpesa(super::mpesa::SimMpesaArgs),
    /// Simulate Paystack's API on loopback.
    Paystack(super::paystack::SimPaystackArgs),
}

/// Runs a simulator until interrupted.
pub async fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    match args.which {
        Which::Mpesa(a) => super::mpesa::run_sim(a).await,
        Which::Paystack(a) => super::paystack::run_sim(a).await,
    }
}
