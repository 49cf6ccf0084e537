//! `malipo mpesa pull` and `malipo mpesa pull-register`: C2B Pull Transactions from the shell.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Args;
use malipo_core::{AccountName, Msisdn};
use malipo_gateway::c2b_pull::{pull_once, PullError};
use malipo_mpesa::{MpesaError, PullRegisterRequest};
use url::Url;

use crate::Format;

/// Arguments of `malipo mpesa pull`.
#[derive(Debug, Args)]
pub(super) struct PullArgs {
    /// The account, as named in malipo.toml ([mpesa.accounts.NAME]) [default: the section's
    /// own]
    #[arg(long, value_name = "NAME")]
    account: Option<AccountName>,
    /// Start of the window: how long ago (90m, 2h, 1d) or a time (2026-12-04T08:00:00Z); Daraja
    /// keeps 48 hours [default: the account's c2b_pull lookback, else 2h]
    #[arg(long, value_parser = crate::cmd::parse_since, value_name = "AGO|TIME")]
    since: Option<DateTime<Utc>>,
    /// End of the window, an RFC 3339 time [default: now]
    #[arg(long, value_parser = crate::cmd::parse_time, value_name = "TIME")]
    until: Option<DateTime<Utc>>,
    /// The shortcode or till pulled [default: the account's c2b_pull shortcode, else its
    /// shortcode]
    #[arg(long)]
    shortcode: Option<String>,
    /// Print the summary as JSON (the same as --format json).
    #[arg(long)]
    json: bool,
}

/// Arguments of `malipo mpesa pull-register`.
#[derive(Debug, Args)]
pub(super) struct PullRegisterArgs {
    /// The account, as named in malipo.toml [default: the section's own]
    #[arg(long, value_name = "NAME")]
    account: Option<AccountName>,
    /// The shortcode registered [default: the account's shortcode]
    #[arg(long)]
    shortcode: Option<String>,
    /// The organisation's nominated number (M-PESA org portal, the shortcode's KYC details).
    #[arg(long, value_name = "PHONE")]
    nominated_number: Msisdn,
    /// Daraja's required CallBackURL.
    #[arg(long, value_name = "URL")]
    callback_url: Url,
}

/// The account's Daraja section, as configured.
fn account_config(
    config: &malipo_config::Config,
    account: &AccountName,
) -> anyhow::Result<malipo_config::MpesaAccountConfig> {
    let mpesa = config
        .mpesa
        .as_ref()
        .context("M-Pesa is not configured: add an [mpesa] section to malipo.toml")?;
    mpesa
        .all_accounts()
        .into_iter()
        .find(|(name, _)| name == account)
        .map(|(_, a)| a)
        .with_context(|| {
            format!("--account {account}: there is no [mpesa.accounts.{account}] in malipo.toml")
        })
}

/// Runs `malipo mpesa pull`: 0 when the pull worked, 1 when Daraja refused or failed it, 2 when
/// the configuration or an argument cannot be used.
pub(super) async fn run(
    args: PullArgs,
    config_path: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let format = if args.json { Format::Json } else { format };
    let config = crate::cmd::serve::load_config(config_path)?;
    let account = args.account.unwrap_or_else(AccountName::default_account);
    let section = match account_config(&config, &account) {
        Ok(section) => section,
        Err(e) => {
            eprint!("{}", crate::out::error_report(&e));
            return Ok(ExitCode::from(2));
        }
    };
    let plan = section.c2b_pull.as_ref();
    let shortcode = args
        .shortcode
        .or_else(|| plan.and_then(|p| p.shortcode.clone()))
        .unwrap_or_else(|| section.shortcode.trim().to_string());
    let until = args.until.unwrap_or_else(Utc::now);
    let lookback = plan.map_or(std::time::Duration::from_secs(2 * 3600), |p| p.lookback);
    let since = args.since.unwrap_or_else(|| {
        until - chrono::Duration::from_std(lookback).unwrap_or_else(|_| chrono::Duration::hours(2))
    });
    let gateway = malipo_gateway::Gateway::from_config(&config)
        .await
        .context("cannot build the gateway from the configuration")?;
    let state = gateway.state().clone();
    let result = pull_once(&state, &account, &shortcode, since, until).await;
    state.store.close().await?;
    match result {
        Ok(summary) => {
            match format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&summary)?),
                Format::Text => {
                    outln!(
                        "pulled shortcode {} (account {}), {} .. {}",
                        summary.shortcode,
                        summary.account,
                        summary.start.format("%Y-%m-%d %H:%M:%S UTC"),
                        summary.end.format("%Y-%m-%d %H:%M:%S UTC"),
                    );
                    outln!(
                        "  Daraja listed {} transaction(s) over {} page(s) (last answer: {} {})",
                        summary.found,
                        summary.pages,
                        summary.daraja_response.0,
                        summary.daraja_response.1
                    );
                    outln!("  already known to malipo: {}", summary.already_seen);
                    if summary.recorded.is_empty() {
                        outln!("  nothing new: no confirmation was lost in this window");
                    } else {
                        outln!(
                            "  recovered {} payment(s) whose confirmation never arrived: {}",
                            summary.recorded.len(),
                            summary.recorded.join(", ")
                        );
                        outln!("  (stored as their confirmations; the gateway's worker records the payments — `malipo serve` must be running)");
                    }
                    if let Some(doubt) = &summary.doubt {
                        outln!("  warning: {doubt}");
                    }
                    if summary.unreadable > 0 {
                        outln!(
                            "  {} row(s) had no transaction id and cannot be recorded",
                            summary.unreadable
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let code = match &e {
                PullError::Daraja { .. } | PullError::Store { .. } => 1,
                _ => 2,
            };
            eprint!("{}", crate::out::error_report(&anyhow::Error::new(e)));
            Ok(ExitCode::from(code))
        }
    }
}

/// Runs `malipo mpesa pull-register`.
pub(super) async fn register(
    args: PullRegisterArgs,
    config_path: Option<&Path>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let config = crate::cmd::serve::load_config(config_path)?;
    let account = args.account.unwrap_or_else(AccountName::default_account);
    if let Err(e) = account_config(&config, &account) {
        eprint!("{}", crate::out::error_report(&e));
        return Ok(ExitCode::from(2));
    }
    let providers = malipo_gateway::providers(&config)?;
    let client = providers
        .mpesa_for(&account)
        .with_context(|| format!("--account {account}: no Daraja client for it"))?;
    let request = PullRegisterRequest {
        shortcode: args.shortcode,
        nominated_number: args.nominated_number,
        callback_url: args.callback_url,
    };
    match client.pull_register(&request).await {
        Ok(done) => {
            match format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&done)?),
                Format::Text if done.already_registered() => outln!(
                    "shortcode {} was already registered for Pull Transactions ({})",
                    done.shortcode,
                    done.response_description
                ),
                Format::Text => outln!(
                    "shortcode {} registered for Pull Transactions ({})",
                    done.shortcode,
                    done.response_description
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let code = if matches!(e, MpesaError::Invalid { .. } | MpesaError::MissingSetting { .. }) {
                2
            } else {
                1
            };
            eprint!("{}", crate::out::error_report(&anyhow::Error::new(e)));
            Ok(ExitCode::from(code))
        }
    }
}
