//! `malipo serve` and `malipo migrate`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use malipo_config::{Config, Database, Environment};

use crate::check::{self, CheckOptions, Level};

/// Arguments of `malipo serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: server.bind from the config]
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// Start even when the production checklist has FAILs (never do this with real money).
    #[arg(long)]
    ignore_check_failures: bool,
}

/// Arguments of `malipo migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only list the migrations this build knows.
    #[arg(long)]
    list: bool,
}

/// Loads the configuration, with the file's path in the error.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(path).context("cannot load the configuration")
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let findings = check::check(&config, CheckOptions::default());
    let fails: Vec<_> = findings.iter().filter(|f| f.level == Level::Fail).collect();
    if !fails.is_empty() {
        for f in &fails {
            eprintln!("{}", f.render());
        }
        if config.environment == Environment::Production && !args.ignore_check_failures {
            anyhow::bail!(
                "refusing to start in production with {} checklist failure(s); fix them (see `malipo check-config`)",
                fails.len()
            );
        }
        tracing::warn!(
            failures = fails.len(),
            "starting despite checklist failures (sandbox)"
        );
    }
    let gateway = malipo_gateway::Gateway::from_config(&config)
        .await
        .context("cannot start the gateway")?;
    let bind = args.bind.unwrap_or(config.server.bind);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, environment = config.environment.as_str(), "malipo is listening");
    // A line on stdout that scripts (and tests) can wait for.
    println!("listening on http://{local}");
    let store = gateway.state().store.clone();
    gateway
        .serve(listener, shutdown_signal())
        .await
        .context("the server failed")?;
    store.close().await.context("closing the database")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Applies pending migrations and prints what was done.
pub fn migrate(args: MigrateArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    if args.list {
        for m in malipo_store::SqliteStore::migrations() {
            println!("{:>4}  {}", m.version, m.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_config(config_path)?;
    match config.database.backend().map_err(anyhow::Error::msg)? {
        Database::Sqlite { path } => {
            let report = malipo_store::SqliteStore::migrate(&path)
                .with_context(|| format!("cannot migrate {}", path.display()))?;
            if report.applied.is_empty() {
                println!(
                    "{}: schema is up to date (version {})",
                    path.display(),
                    report.version
                );
            } else {
                for m in &report.applied {
                    println!("applied {:>4}  {}", m.version, m.name);
                }
                println!("{}: schema version {}", path.display(), report.version);
            }
            Ok(ExitCode::SUCCESS)
        }
        Database::Postgres { .. } => anyhow::bail!("PostgreSQL is not supported by this build yet"),
    }
}
