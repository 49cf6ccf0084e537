//! One module per command group; each exports its clap arguments and a `run`.

pub mod api_key;
pub mod config;
pub mod credential;
pub mod deliveries;
pub mod demo;
pub mod endpoints;
pub mod events;
pub mod mpesa;
pub mod payments;
pub mod paystack;
pub mod paystack_records;
pub mod serve;
pub mod sim;
pub mod test_webhook;

use std::process::ExitCode;

use crate::{Cli, Command};

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    let log = cli.log.clone();
    match cli.command {
        Command::Init(args) => config::init(args, config),
        Command::CheckConfig(args) => config::check(args, config).await,
        Command::SecurityCredential(args) => credential::run(args),
        Command::Mpesa(args) => mpesa::run(args, config).await,
        Command::Paystack(args) => paystack::run(args, config).await,
        Command::Sim(args) => sim::run(args).await,
        Command::Serve(args) => serve::serve(args, config, log.as_deref()).await,
        Command::Migrate(args) => serve::migrate(args, config).await,
        Command::Events(args) => events::run(args, config).await,
        Command::Replay(args) => events::replay(args, config).await,
        Command::SendTestWebhook(args) => test_webhook::run(args, config).await,
        Command::Demo(args) => demo::run(args, config).await,
        Command::Payments(args) => payments::run(args, config).await,
        Command::ApiKey(args) => api_key::run(args, config).await,
        Command::Deliveries(args) => deliveries::run(args, config).await,
        Command::Endpoints(args) => endpoints::run(args, config).await,
    }
}
