//! `malipo endpoints add|list|disable|enable|rotate-secret`: where payment changes are delivered.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use malipo_core::Secret;
use malipo_gateway::delivery::{self, CreateEndpoint, EndpointView, EndpointWithSecret};
use malipo_store::Store;

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo endpoints`.
#[derive(Debug, Args)]
pub struct EndpointsArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Add an endpoint; prints its signing secret once.
    Add(AddArgs),
    /// List endpoints (never their secrets).
    List(ListArgs),
    /// Stop sending to an endpoint; its deliveries are kept and go out when it is enabled.
    Disable(KeyArgs),
    /// Send to a disabled endpoint again.
    Enable(KeyArgs),
    /// Give an endpoint a new secret; the old one keeps signing beside it for the overlap.
    RotateSecret(RotateArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// A unique name: letters, digits, `-`, `_` or `.` (up to 64).
    name: String,
    /// Where deliveries are POSTed (https://…).
    #[arg(long)]
    url: String,
    /// Event types to receive (repeat, or comma-separated): payment.succeeded, payout.*,
    /// event.suspicious… [default: every payment, payout and refund event].
    #[arg(long = "event", value_delimiter = ',')]
    events: Vec<String>,
    /// Allow a private, loopback or link-local address (development only).
    #[arg(long)]
    allow_private: bool,
    /// Environment variable holding the secret (whsec_…) [default: a new random secret].
    #[arg(long, value_name = "VAR")]
    secret_env: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct KeyArgs {
    /// The endpoint's id (ep_…) or name.
    endpoint: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// The endpoint's id (ep_…) or name.
    endpoint: String,
    /// How long the old secret keeps signing, in hours (0 to 168, a week, as the API allows).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(0..=168))]
    overlap_hours: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Opens the configured store (for the delivery commands too).
pub(crate) async fn open(config_path: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    let config = load_config(config_path)?;
    malipo_gateway::open_store(&config)
        .await
        .context("cannot open the database")
}

/// Runs `malipo endpoints`.
pub async fn run(args: EndpointsArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let store = open(config_path).await?;
    let result = run_on(&*store, args).await;
    store.close().await?;
    result
}

async fn run_on(store: &dyn Store, args: EndpointsArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Add(a) => {
            let secret = match &a.secret_env {
                Some(var) => {
                    Some(Secret::new(std::env::var(var).with_context(|| {
                        format!("environment variable {var} is not set")
                    })?))
                }
                None => None,
            };
            let created = delivery::create_endpoint_in(
                store,
                CreateEndpoint {
                    name: a.name,
                    url: a.url,
                    event_types: a.events,
                    allow_private: a.allow_private,
                    secret,
                },
            )
            .await?;
            print_with_secret(&created, a.format, "added")
        }
        Action::List(a) => {
            let all = delivery::list_endpoints_in(store).await?;
            match a.format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&all)?),
                Format::Text if all.is_empty() => {
                    outln!("no endpoints: add one with `malipo endpoints add`")
                }
                Format::Text => {
                    outln!(
                        "{:<29}  {:<16}  {:<8}  {:<40}  EVENTS",
                        "ID",
                        "NAME",
                        "STATE",
                        "URL"
                    );
                    for e in &all {
                        outln!(
                            "{:<29}  {:<16}  {:<8}  {:<40}  {}",
                            e.id.to_string(),
                            e.name,
                            if e.enabled { "enabled" } else { "disabled" },
                            e.url,
                            events_text(e)
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Disable(a) => {
            let e = delivery::set_endpoint_enabled_in(store, &a.endpoint, false).await?;
            print_one(&e, a.format, "disabled (its deliveries are kept)")
        }
        Action::Enable(a) => {
            let e = delivery::set_endpoint_enabled_in(store, &a.endpoint, true).await?;
            print_one(&e, a.format, "enabled")
        }
        Action::RotateSecret(a) => {
            let overlap = Duration::from_secs(a.overlap_hours.saturating_mul(3600));
            let rotated = delivery::rotate_endpoint_secret_in(store, &a.endpoint, Some(overlap)).await?;
            print_with_secret(&rotated, a.format, "rotated")
        }
    }
}

fn events_text(e: &EndpointView) -> String {
    if e.event_types.is_empty() {
        "payment.* payout.* refund.*".into()
    } else {
        e.event_types.join(" ")
    }
}

fn print_one(e: &EndpointView, format: Format, what: &str) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(e)?),
        Format::Text => outln!("{} {} ({}): {what}", e.id, e.name, e.url),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an endpoint with its secret: the one time the secret is shown.
fn print_with_secret(e: &EndpointWithSecret, format: Format, what: &str) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&e.endpoint)?;
            v["secret"] = serde_json::Value::String(e.secret.expose().clone());
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            outln!(
                "{} {} ({}): {what}",
                e.endpoint.id,
                e.endpoint.name,
                e.endpoint.url
            );
            outln!("events: {}", events_text(&e.endpoint));
            if let Some(until) = e.endpoint.previous_secret_until {
                outln!(
                    "the previous secret keeps signing until {}",
                    until.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            outln!("signing secret (shown once, keep it in the receiving app's configuration):");
            outln!("{}", e.secret.expose());
        }
    }
    Ok(ExitCode::SUCCESS)
}
