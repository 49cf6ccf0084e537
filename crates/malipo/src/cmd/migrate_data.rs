//! `malipo migrate-data`: move a deployment's data from its SQLite file to PostgreSQL.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use indicatif::ProgressBar;
use malipo_config::{Database, DatabaseConfig};
use malipo_core::Secret;
use malipo_store::{CopyProgress, CopyReport};

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo migrate-data`.
#[derive(Debug, Args)]
pub struct MigrateDataArgs {
    /// The SQLite database to copy from, as sqlite://PATH. Stop the gateway using it first: the
    /// copy is refused while another malipo process has the file open.
    #[arg(long, value_name = "sqlite://PATH")]
    from: String,
    /// The PostgreSQL database to copy into, as postgres://USER@HOST:PORT/DB [default: the
    /// configuration's database.url, with its database.password]. Put no password here: it
    /// would show in the process list; use the configuration's password reference.
    #[arg(long, value_name = "postgres://…")]
    to: Option<String>,
    /// Rows per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `malipo migrate-data`: exit 0 when every table was copied, 1 when the copy stopped
/// (running it again resumes), 2 when the arguments or configuration cannot be used, the
/// SQLite file is open in another malipo process, or it changed after a finished copy.
pub async fn run(args: MigrateDataArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let from = match (DatabaseConfig {
        url: args.from.clone(),
        ..DatabaseConfig::default()
    })
    .backend()
    {
        Ok(Database::Sqlite { path }) => path,
        _ => {
            eprintln!("error: --from must be sqlite://PATH, the SQLite database to copy from");
            return Ok(ExitCode::from(2));
        }
    };
    if !from.exists() {
        eprintln!("error: {} does not exist", from.display());
        return Ok(ExitCode::from(2));
    }
    let (url, shown) = match target(&args, config_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let bar = progress_bar(args.format);
    let result =
        malipo_store::copy_sqlite_to_postgres(&from, url.expose(), args.batch, |p: &CopyProgress| {
            if let Some(bar) = &bar {
                bar.set_length(p.total);
                bar.set_position(p.copied);
                bar.set_prefix(p.table);
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => {
            print_report(&report, &from, &shown, args.format)?;
            Ok(ExitCode::SUCCESS)
        }
        // Refusals that running again would not change: another process has the file open, or
        // it changed after a finished copy.
        Err(e @ (malipo_store::StoreError::Conflict { .. } | malipo_store::StoreError::Invalid(_))) => {
            eprint!(
                "{}",
                crate::out::error_report(&anyhow::Error::new(e).context("cannot copy"))
            );
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprint!(
                "{}",
                crate::out::error_report(
                    &anyhow::Error::new(e).context("the copy stopped; run the same command again to resume")
                )
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The PostgreSQL URL to copy into (with the password) and how to show it (without).
fn target(args: &MigrateDataArgs, config_path: Option<&Path>) -> anyhow::Result<(Secret<String>, String)> {
    // With --to, the configuration (when there is one) still gives the password reference.
    let mut config = match (&args.to, load_config(config_path)) {
        (_, Ok(config)) => config,
        (Some(_), Err(_)) => malipo_config::Config::from_toml("").map_err(anyhow::Error::msg)?,
        (None, Err(e)) => return Err(e.context("no --to, and the configuration cannot be read")),
    };
    if let Some(to) = &args.to {
        config.database.url = to.clone();
    }
    let backend = config.database.backend().map_err(anyhow::Error::msg)?;
    if !matches!(backend, Database::Postgres { .. }) {
        anyhow::bail!("the target must be PostgreSQL (postgres://…): pass --to or set database.url");
    }
    Ok((malipo_gateway::postgres_url(&config)?, backend.redacted()))
}

fn progress_bar(format: Format) -> Option<ProgressBar> {
    (format == Format::Text && std::io::stderr().is_terminal()).then(|| crate::out::progress_bar(" rows", ""))
}

fn print_report(report: &CopyReport, from: &Path, to: &str, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "from": from.display().to_string(), "to": to, "tables": report.tables
            }))?
        ),
        Format::Text => {
            outln!("{} → {to}", from.display());
            outln!("{:<18} {:>10} {:>14}  note", "table", "copied", "already there");
            for t in &report.tables {
                outln!(
                    "{:<18} {:>10} {:>14}  {}",
                    t.table,
                    t.copied,
                    t.skipped,
                    if t.resumed { "resumed" } else { "" }
                );
            }
            outln!("done: point database.url at PostgreSQL and start the instances");
        }
    }
    Ok(())
}
