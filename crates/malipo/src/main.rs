//! `malipo`: the command line of the malipo gateway.
//!
//! Exit codes: 0 success, 1 a check or an operation failed, 2 the configuration or the command
//! line could not be used.

/// `println!` for what commands print: a reader that closes the pipe early (`malipo events
/// list | head -1`) ends the command quietly, as `head` expects, instead of a panic.
macro_rules! outln {
    () => {
        $crate::out::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))
    };
}

/// The allocator: the gateway allocates on every request and in the worker on every event, and
/// glibc's malloc spent a seventh of the CPU of a loaded gateway (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod check;
mod cmd;
mod db;
mod logging;
mod out;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// A self-hosted gateway for M-Pesa (Daraja) and Paystack that never loses, forges or
/// double-processes a payment confirmation.
#[derive(Debug, Parser)]
#[command(name = "malipo", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Path of the configuration file [default: ./malipo.toml]
    #[arg(long, short = 'c', global = true, env = "MALIPO_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty, env = "MALIPO_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, such as `info` or `malipo_gateway=debug` [default: info;
    /// warn for `demo`, whose own output tells the story, without the guard's refusals: the
    /// demo provokes those and prints them itself]
    #[arg(long, global = true, env = "MALIPO_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Readable text.
    #[default]
    Text,
    /// JSON, for scripts.
    Json,
}

/// malipo's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole flow locally: simulators, gateway, payments, callbacks, with no internet.
    Demo(cmd::demo::DemoArgs),
    /// Run the gateway: callback endpoints, merchant API, worker, delivery sender, reconciler,
    /// dashboard, health and metrics.
    #[command(
        after_help = "Examples:\n  malipo serve --config malipo.toml\n  malipo serve --config malipo.toml --bind 0.0.0.0:8080 --api-bind 10.0.0.5:8081\n\nIn production it refuses to start while `malipo check-config` has a FAIL."
    )]
    Serve(cmd::serve::ServeArgs),
    /// Apply pending database migrations (serve also applies them at start-up).
    Migrate(cmd::serve::MigrateArgs),
    /// Copy a deployment's data from its SQLite file to PostgreSQL, resumably (for moving to
    /// several instances).
    MigrateData(cmd::migrate_data::MigrateDataArgs),
    /// List or show stored provider events.
    Events(cmd::events::EventsArgs),
    /// Queue a stored event for processing again (for example a failed one).
    Replay(cmd::events::ReplayArgs),
    /// POST a realistic signed Paystack webhook, Daraja STK callback or merchant delivery to a
    /// URL, for local testing.
    SendTestWebhook(cmd::test_webhook::TestWebhookArgs),
    /// Write a commented sample malipo.toml.
    Init(cmd::config::InitArgs),
    /// Check a configuration against the production checklist; exit 1 on any FAIL.
    #[command(
        after_help = "Examples:\n  malipo check-config --config malipo.toml\n  malipo check-config --config malipo.toml --format json   # for CI: exit 0 pass, 1 FAIL, 2 unusable"
    )]
    CheckConfig(cmd::config::CheckArgs),
    /// Encrypt the initiator password into Daraja's SecurityCredential.
    SecurityCredential(cmd::credential::CredentialArgs),
    /// Call the configured Daraja (M-Pesa) environment from the shell.
    Mpesa(cmd::mpesa::MpesaArgs),
    /// Call the configured Paystack account from the shell.
    Paystack(cmd::paystack::PaystackArgs),
    /// Run a local simulator of Daraja or Paystack.
    Sim(cmd::sim::SimArgs),
    /// List or show tracked payments, or start one (STK push, Paystack checkout) from the shell.
    Payments(cmd::payments::PaymentsArgs),
    /// Create, list or revoke the API keys of the merchant API (/v1).
    ApiKey(cmd::api_key::ApiKeyArgs),
    /// List, show or retry deliveries to the merchant's endpoints.
    Deliveries(cmd::deliveries::DeliveriesArgs),
    /// Add, list, enable, disable or rotate the secret of the merchant's endpoints.
    #[command(
        after_help = "Examples:\n  malipo endpoints add shop --url https://shop.example/webhooks/malipo\n  malipo endpoints rotate-secret shop --overlap-hours 48"
    )]
    Endpoints(cmd::endpoints::EndpointsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet_by_default = matches!(cli.command, Command::Demo(_));
    let filter = cli.log.as_deref().unwrap_or(if quiet_by_default {
        "warn,malipo_guard=error"
    } else {
        "info"
    });
    if let Err(e) = logging::init(cli.log_format, filter) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprint!("{}", out::error_report(&e));
            // A configuration that cannot be read or used is exit 2 whichever command met it,
            // as `check-config` says; 1 is for an operation that failed.
            let unusable_config = e
                .chain()
                .any(|cause| cause.downcast_ref::<malipo_config::ConfigError>().is_some());
            ExitCode::from(if unusable_config { 2 } else { 1 })
        }
    }
}
