//! `malipo deliveries list|show|retry`: what was sent to the merchant's endpoints, and sending a
//! dead-lettered one again.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use malipo_core::{DeliveryId, PaymentId};
use malipo_gateway::delivery::{self, DeliveryView};
use malipo_store::{DeliveryFilter, DeliveryStatus, Store};

use super::endpoints::open;
use crate::Format;

/// Arguments of `malipo deliveries`.
#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// List deliveries, newest first.
    List(ListArgs),
    /// Show one delivery with its payload.
    Show(ShowArgs),
    /// Queue a delivered or dead-lettered delivery again, due now (same webhook-id).
    Retry(RetryArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only in this status: pending, delivered or dead_letter.
    #[arg(long)]
    status: Option<DeliveryStatus>,
    /// Only about this payment (pay_…).
    #[arg(long)]
    payment: Option<PaymentId>,
    /// Only to this endpoint (id or name).
    #[arg(long)]
    endpoint: Option<String>,
    /// At most this many (1 to 1000; continue with --before, which a line on standard error
    /// gives when more may follow).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=1000))]
    limit: u16,
    /// Only deliveries older than this one (dlv_…): the last id of the previous listing.
    #[arg(long, value_name = "ID")]
    before: Option<malipo_core::DeliveryId>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The delivery's id (dlv_…).
    id: DeliveryId,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct RetryArgs {
    /// The delivery to send again (dlv_…).
    id: DeliveryId,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `malipo deliveries`.
pub async fn run(args: DeliveriesArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let store = open(config_path).await?;
    let result = match args.action {
        Action::List(a) => list(&*store, a).await,
        Action::Show(a) => {
            let d = delivery::get_delivery_in(&*store, a.id).await?;
            print_one(&d, a.format)
        }
        Action::Retry(a) => {
            let d = delivery::retry_delivery_in(&*store, a.id).await?;
            if a.format == Format::Text {
                outln!("queued {} again; a running gateway sends it shortly", d.id);
            }
            print_one(&d, a.format)
        }
    };
    store.close().await?;
    result
}

async fn list(store: &dyn Store, a: ListArgs) -> anyhow::Result<ExitCode> {
    let endpoint_id = match &a.endpoint {
        Some(key) => Some(
            store
                .get_endpoint(key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no endpoint {key:?}: see `malipo endpoints list`"))?
                .id,
        ),
        None => None,
    };
    let filter = DeliveryFilter {
        status: a.status,
        payment_id: a.payment,
        before: a.before,
        limit: usize::from(a.limit),
        endpoint_id,
    };
    let all = delivery::list_deliveries_in(store, &filter).await?;
    if all.len() == filter.limit {
        if let Some(last) = all.last() {
            eprintln!(
                "more deliveries may match: list the next ones with --before {}",
                last.id
            );
        }
    }
    match a.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&all)?),
        Format::Text if all.is_empty() => outln!("no deliveries match"),
        Format::Text => {
            outln!(
                "{:<30}  {:<28}  {:<26}  {:<11}  {:>3}  {:>4}  ERROR",
                "ID",
                "ENDPOINT",
                "TYPE",
                "STATUS",
                "TRY",
                "HTTP"
            );
            for d in &all {
                outln!(
                    "{:<30}  {:<28}  {:<26}  {:<11}  {:>3}  {:>4}  {}",
                    d.id.to_string(),
                    d.endpoint_id.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                    d.event_type,
                    d.status.as_str(),
                    d.attempts,
                    d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                    d.last_error.as_deref().unwrap_or("")
                );
            }
            outln!(
                "\n{} deliver{}",
                all.len(),
                if all.len() == 1 { "y" } else { "ies" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_one(d: &DeliveryView, format: Format) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(d)?),
        Format::Text => {
            outln!("id            {}", d.id);
            outln!(
                "endpoint      {}",
                d.endpoint_id.map(|e| e.to_string()).unwrap_or_else(|| "-".into())
            );
            outln!("type          {}", d.event_type);
            outln!(
                "payment       {}",
                d.payment_id.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
            );
            outln!("status        {}", d.status);
            outln!("attempts      {}", d.attempts);
            if let Some(next) = d.next_attempt_at {
                outln!("next attempt  {}", next.format("%Y-%m-%d %H:%M:%S UTC"));
            }
            if let Some(s) = d.last_status {
                outln!("last status   {s}");
            }
            if let Some(e) = &d.last_error {
                outln!("last error    {e}");
            }
            outln!("created       {}", d.created_at.format("%Y-%m-%d %H:%M:%S UTC"));
            outln!("payload\n{}", serde_json::to_string_pretty(&d.payload)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
