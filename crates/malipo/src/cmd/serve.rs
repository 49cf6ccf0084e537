//! `malipo serve` and `malipo migrate`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use malipo_config::{ApiConfig, Config, Database, OpsConfig};

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
    /// Address the merchant API (/v1) listens on [default: api.bind from the config,
    /// 127.0.0.1:8081; with `--bind HOST:0` and api.bind left at its default, an ephemeral
    /// loopback port, printed like the public one]. Never the same as --bind: the API must not
    /// face the internet.
    #[arg(long, value_name = "ADDR")]
    api_bind: Option<SocketAddr>,
    /// Address the operations listener (/metrics, /healthz, /readyz) listens on [default:
    /// ops.bind from the config, 127.0.0.1:9090; an ephemeral loopback port when --bind asks
    /// for one and ops.bind is left at its default]. Never the same as --bind.
    #[arg(long, value_name = "ADDR")]
    ops_bind: Option<SocketAddr>,
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
pub async fn serve(
    args: ServeArgs,
    config_path: Option<&Path>,
    log: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let mut config = load_config(config_path)?;
    // The checklist judges the addresses the listeners will take: a flag that moved /metrics or
    // the merchant API beyond loopback is under the same rules as the config's own setting.
    if let Some(bind) = args.bind {
        config.server.bind = bind;
    }
    if let Some(bind) = args.api_bind {
        config.api.bind = bind;
    }
    if let Some(bind) = args.ops_bind {
        config.ops.bind = bind;
    }
    // Before anything is created (the database, its key file): a secret that cannot be read
    // would stop the start anyway, after leaving files behind.
    let unreadable = unreadable_secrets(&config);
    if !unreadable.is_empty() {
        eprintln!(
            "error: cannot start: {} secret(s) the configuration refers to cannot be read:",
            unreadable.len()
        );
        for line in &unreadable {
            eprintln!("  {line}");
        }
        eprintln!(
            "set them and start again (nothing was created); for local work against `malipo sim`, use examples/local.toml, whose test values need nothing set"
        );
        return Ok(ExitCode::from(2));
    }
    let mut findings = check::check(&config, CheckOptions::default());
    // `--log` is under the same rule as `logging.level` and MALIPO_LOG (which the checklist
    // reads itself): debug logs carry request details.
    let production = check::production(&config);
    if let Some(filter) = log.filter(|l| {
        let l = l.to_ascii_lowercase();
        l.contains("debug") || l.contains("trace")
    }) {
        if production {
            findings.push(check::Finding::fail(
                "debug-logging-off",
                format!("--log is {filter:?} in production"),
                "use --log info (debug logs carry request details)",
            ));
        }
    }
    let fails: Vec<_> = findings.iter().filter(|f| f.level == Level::Fail).collect();
    if !fails.is_empty() {
        for f in &fails {
            eprintln!("{}", f.render());
        }
        // Production is the deployment's or its M-Pesa section's: either moves real money.
        if production && !args.ignore_check_failures {
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
    // The checklist ran above (and printed its failures); only an explicit override skips it.
    let gateway = if args.ignore_check_failures {
        malipo_gateway::Gateway::from_config_unchecked(&config).await
    } else {
        malipo_gateway::Gateway::from_config(&config).await
    }
    .context("cannot start the gateway")?;
    let bind = args.bind.unwrap_or(config.server.bind);
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let local = listener.local_addr()?;
    let api_bind = match args.api_bind {
        Some(addr) => addr,
        // An ephemeral public port (scripts, tests, several gateways on one host) would collide
        // on the default API port: take an ephemeral loopback one too; the line below says which.
        None if local_port_is_ephemeral(args.bind) && config.api.bind == ApiConfig::default().bind => {
            SocketAddr::from(([127, 0, 0, 1], 0))
        }
        None => config.api.bind,
    };
    if api_bind == local || (api_bind.port() == local.port() && api_bind.port() != 0) {
        anyhow::bail!(
            "the merchant API ({api_bind}) must listen apart from the public callback listener ({local}): set [api] bind or --api-bind to another address"
        );
    }
    let api_listener = tokio::net::TcpListener::bind(api_bind)
        .await
        .with_context(|| format!("cannot listen on {api_bind} for the merchant API ([api] bind)"))?;
    let api_local = api_listener.local_addr()?;
    let ops_bind = match args.ops_bind {
        Some(addr) => addr,
        None if local_port_is_ephemeral(args.bind) && config.ops.bind == OpsConfig::default().bind => {
            SocketAddr::from(([127, 0, 0, 1], 0))
        }
        None => config.ops.bind,
    };
    if [local, api_local]
        .iter()
        .any(|other| ops_bind == *other || (ops_bind.port() == other.port() && ops_bind.port() != 0))
    {
        anyhow::bail!(
            "the operations listener ({ops_bind}) must listen apart from the public ({local}) and API ({api_local}) listeners: set [ops] bind or --ops-bind to another address"
        );
    }
    let ops_listener = tokio::net::TcpListener::bind(ops_bind)
        .await
        .with_context(|| format!("cannot listen on {ops_bind} for /metrics and /readyz ([ops] bind)"))?;
    let ops_local = ops_listener.local_addr()?;
    tracing::info!(address = %local, environment = config.environment.as_str(), "malipo is listening");
    tracing::info!(address = %api_local, "the merchant API is listening");
    tracing::info!(address = %ops_local, "the operations listener (/metrics, /healthz, /readyz) is listening");
    // Lines on stdout that scripts (and tests) can wait for, in one write: a reader that
    // stops after the first line must not make the second fail (a closed pipe is ignored).
    {
        use std::io::Write as _;
        let _ = write!(
            std::io::stdout().lock(),
            "listening on http://{local}\napi listening on http://{api_local}\nops listening on http://{ops_local}\n"
        );
    }
    let store = gateway.state().store.clone();
    gateway
        .serve_all(listener, api_listener, ops_listener, shutdown_signal())
        .await
        .context("the server failed")?;
    store.close().await.context("closing the database")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `key: why` for every secret reference that cannot be resolved now.
fn unreadable_secrets(config: &Config) -> Vec<String> {
    check::secret_refs(config)
        .into_iter()
        .filter_map(|(key, reference)| reference.resolve().err().map(|e| format!("{key}: {e}")))
        .collect()
}

fn local_port_is_ephemeral(bind: Option<SocketAddr>) -> bool {
    bind.is_some_and(|b| b.port() == 0)
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
pub async fn migrate(args: MigrateArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    if args.list {
        for m in malipo_store::SqliteStore::migrations() {
            outln!("{:>4}  {}", m.version, m.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = load_config(config_path)?;
    let backend = config.database.backend().map_err(anyhow::Error::msg)?;
    let (name, report) = match &backend {
        Database::Sqlite { path } => {
            let report = malipo_store::SqliteStore::migrate(path)
                .with_context(|| format!("cannot migrate {}", path.display()))?;
            // A database made here is as protected as one `serve` made: should it vanish, no
            // gateway quietly starts an empty one in its place.
            malipo_gateway::mark_database(path);
            (path.display().to_string(), report)
        }
        Database::Postgres { .. } => {
            let url = malipo_gateway::postgres_url(&config)?;
            // Several instances may run this at once: the adapter takes turns on an advisory lock.
            let report = malipo_store::PostgresStore::migrate(url.expose())
                .await
                .with_context(|| format!("cannot migrate {}", backend.redacted()))?;
            (backend.redacted(), report)
        }
    };
    if report.applied.is_empty() {
        outln!("{name}: schema is up to date (version {})", report.version);
    } else {
        for m in &report.applied {
            outln!("applied {:>4}  {}", m.version, m.name);
        }
        outln!("{name}: schema version {}", report.version);
    }
    Ok(ExitCode::SUCCESS)
}
