//! `malipo paystack sync` and `malipo paystack records`: the local copies of the account's
//! customers, plans, subscriptions, transfers and dedicated accounts.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use indicatif::ProgressBar;
use malipo_core::{AccountName, Provider};
use malipo_gateway::records::{KindSummary, SyncOptions, SyncProgress};
use malipo_paystack::RecordKind;
use malipo_store::{RecordEntry, RecordFilter, Store};

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo paystack sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only these kinds, comma-separated: customers, plans, subscriptions, transfers,
    /// dedicated-accounts [default: all].
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    only: Vec<RecordKind>,
    /// Only resources created at or after this time (ISO 8601, such as 2026-01-01T00:00:00Z).
    /// A sync with another --since than the interrupted one starts over.
    #[arg(long)]
    since: Option<String>,
    /// The Paystack account (`[paystack.accounts.NAME]`); `default` is the section's own.
    #[arg(long, default_value = "default")]
    account: AccountName,
    /// Resources per API page (1 to 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100))]
    per_page: u32,
    /// Start from the first page even where an interrupted sync left off.
    #[arg(long)]
    restart: bool,
}

/// Arguments of `malipo paystack records`.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// The kind: customers, plans, subscriptions, transfers or dedicated-accounts.
    #[arg(value_parser = parse_kind)]
    kind: RecordKind,
    /// One record by its code (CUS_…, PLN_…, SUB_…, TRF_…) or a dedicated account's id.
    id: Option<String>,
    /// Only records whose code is this or whose JSON holds this text (an email, a phone number).
    #[arg(long)]
    search: Option<String>,
    /// Only this account's [default: every account's].
    #[arg(long)]
    account: Option<AccountName>,
    /// At most this many, most recently updated first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

fn parse_kind(s: &str) -> Result<RecordKind, String> {
    RecordKind::parse(s).ok_or_else(|| {
        format!("{s:?} is not a kind malipo keeps: use customers, plans, subscriptions, transfers or dedicated-accounts")
    })
}

/// Runs `malipo paystack sync`: exit 0 when every kind was synced, 1 when Paystack or the store
/// failed (what was stored is kept; running it again resumes), 2 when the configuration cannot
/// be used.
pub async fn sync(args: SyncArgs, format: Format, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let providers = match malipo_gateway::providers(&config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let Some(client) = providers.paystack_for(&args.account).cloned() else {
        eprintln!(
            "error: no Paystack account {} is configured: add [paystack] (or [paystack.accounts.{}]) with its secret_key",
            args.account, args.account
        );
        return Ok(ExitCode::from(2));
    };
    let store = malipo_gateway::open_store(&config)
        .await
        .context("cannot open the database")?;
    let options = SyncOptions {
        kinds: if args.only.is_empty() {
            RecordKind::ALL.to_vec()
        } else {
            args.only.clone()
        },
        since: args.since.clone(),
        per_page: args.per_page,
        restart: args.restart,
    };
    let mut shown = Shown::new(format);
    let result =
        malipo_gateway::records::sync(&client, &*store, &args.account, &options, |p| shown.page(p)).await;
    shown.finish();
    store.close().await?;
    match result {
        Ok(summaries) => {
            print_summary(&summaries, &args.account, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{}", crate::out::error_report(&anyhow::Error::new(e)));
            Ok(ExitCode::from(1))
        }
    }
}

/// Progress on standard error: a bar per kind on a terminal, a line per kind otherwise (and
/// nothing extra with `--format json`, whose summary is the output).
struct Shown {
    bar: Option<(RecordKind, ProgressBar)>,
    terminal: bool,
    format: Format,
}

impl Shown {
    fn new(format: Format) -> Self {
        Shown {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            format,
        }
    }

    fn page(&mut self, p: &SyncProgress) {
        if self.bar.as_ref().is_some_and(|(kind, _)| *kind != p.kind) {
            self.finish();
        }
        if self.terminal {
            let (_, bar) = self.bar.get_or_insert_with(|| (p.kind, new_bar(p.kind)));
            if let Some(total) = p.total {
                bar.set_length(total.max(p.synced));
            }
            bar.set_position(p.synced);
        } else {
            let (_, bar) = self.bar.get_or_insert_with(|| (p.kind, ProgressBar::hidden()));
            let before = bar.position();
            bar.set_position(p.synced);
            // Off a terminal (a log, a CI job) a line at each tenth of the way, not a bar.
            if let (Some(total), Format::Text) = (p.total.filter(|t| *t > 0), self.format) {
                if before * 10 / total != p.synced * 10 / total && p.synced < total {
                    eprintln!("syncing {}: {}/{total}", p.kind.plural(), p.synced);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some((kind, bar)) = self.bar.take() {
            if self.terminal {
                bar.finish();
            } else if self.format == Format::Text {
                eprintln!("synced {}: {}", kind.plural(), bar.position());
            }
        }
    }
}

fn new_bar(kind: RecordKind) -> ProgressBar {
    let bar = crate::out::progress_bar("", ", {eta} left");
    bar.set_prefix(kind.plural());
    bar
}

fn print_summary(summaries: &[KindSummary], account: &AccountName, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"account": account, "kinds": summaries}))?
        ),
        Format::Text => {
            outln!(
                "{:<20} {:>8} {:>8} {:>8}  note",
                "kind",
                "synced",
                "total",
                "kept"
            );
            for s in summaries {
                let mut note = Vec::new();
                if let Some(page) = s.resumed_from_page {
                    note.push(format!("resumed at page {page}"));
                }
                if s.skipped > 0 {
                    note.push(format!("{} without an id skipped", s.skipped));
                }
                outln!(
                    "{:<20} {:>8} {:>8} {:>8}  {}",
                    s.kind.plural(),
                    s.synced,
                    s.total.map_or("?".to_string(), |t| t.to_string()),
                    s.kept,
                    note.join("; ")
                );
            }
        }
    }
    Ok(())
}

/// Runs `malipo paystack records`: exit 0, or 1 when the one record asked for is not kept.
pub async fn records(
    args: RecordsArgs,
    format: Format,
    config_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store: Arc<dyn Store> = malipo_gateway::open_store(&config)
        .await
        .context("cannot open the database")?;
    let code = match &args.id {
        Some(id) => {
            let account = args.account.clone().unwrap_or_else(AccountName::default_account);
            match store
                .get_record(Provider::Paystack, args.kind.as_str(), &account, id)
                .await?
            {
                Some(record) => {
                    print_records(std::slice::from_ref(&record), format, true)?;
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!(
                        "error: no {} {id} is kept for account {account}; `malipo paystack sync --only {}` fetches them",
                        args.kind,
                        args.kind.plural()
                    );
                    ExitCode::from(1)
                }
            }
        }
        None => {
            let filter = RecordFilter {
                account: args.account.clone(),
                search: args.search.clone(),
                limit: args.limit,
                ..RecordFilter::new(Provider::Paystack, args.kind.as_str())
            };
            print_records(&store.list_records(&filter).await?, format, false)?;
            ExitCode::SUCCESS
        }
    };
    store.close().await?;
    Ok(code)
}

fn print_records(records: &[RecordEntry], format: Format, one: bool) -> anyhow::Result<()> {
    match format {
        Format::Json if one => outln!("{}", serde_json::to_string_pretty(&records[0])?),
        Format::Json => outln!("{}", serde_json::to_string_pretty(records)?),
        Format::Text if one => {
            let r = &records[0];
            outln!(
                "{} {} (account {}, from {})",
                r.kind,
                r.id,
                r.account,
                r.source.as_str()
            );
            outln!("{}", serde_json::to_string_pretty(&r.data)?);
        }
        Format::Text => {
            if records.is_empty() {
                outln!("no records");
            }
            for r in records {
                let label = ["email", "name", "status", "account_number"]
                    .iter()
                    .find_map(|f| r.data.get(*f).and_then(|v| v.as_str()))
                    .unwrap_or("");
                outln!(
                    "{:<24} {:<10} {:<8} {}",
                    r.id,
                    r.account.as_str(),
                    r.source.as_str(),
                    label
                );
            }
        }
    }
    Ok(())
}
