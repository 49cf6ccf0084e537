//! `malipo demo`: the whole flow on this machine, with the simulators standing in for Safaricom
//! and Paystack.
//!
//! It generates a sandbox configuration (embedded SQLite in a temporary directory, provider base
//! URLs pointing at the in-process simulators), starts the real gateway on loopback, then plays a
//! scenario: STK pushes with every kind of ending, a Paystack checkout, a redelivered webhook and
//! three forgeries. It prints what happens, then a summary, and exits 0 only if every expected
//! outcome happened, so it doubles as a smoke test of a build.
//!
//! `--config` (and `MALIPO_CONFIG`) is ignored, with a note: the demo must not touch a real
//! deployment's database or call a real provider, so it never reads a configuration.

mod daraja;
mod env;
mod forgeries;
mod merchant;
mod paystack;
mod report;
mod scenario;

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::Format;

/// Where `--keep` leaves the demo's files, relative to the current directory.
const KEPT_DIR: &str = "target/malipo-demo";

/// Arguments of `malipo demo`.
#[derive(Debug, Args)]
#[command(after_long_help = "\
The demo needs no configuration and no internet: it starts the Daraja and Paystack simulators and \
the real gateway on 127.0.0.1 with an embedded SQLite database, and generates its own sandbox \
configuration (--config and MALIPO_CONFIG are ignored, so a real deployment is never touched).

Exit status: 0 when every expected outcome happened (it doubles as a smoke test), 1 otherwise.")]
pub struct DemoArgs {
    /// Keep the database and the generated configuration in ./target/malipo-demo (replacing a
    /// previous demo's), so `malipo events list --config target/malipo-demo/malipo.toml` works
    /// afterwards, and, run from a terminal, keep the gateway and its dashboard serving until
    /// Ctrl-C. Without it everything is in a temporary directory deleted at exit.
    #[arg(long)]
    keep: bool,
    /// Port of the gateway on 127.0.0.1 [default: a free one]
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Output: progress and a readable summary, or one JSON summary for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The demo's directory: deleted at exit, or kept for inspection.
enum Workspace {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Workspace {
    fn path(&self) -> &Path {
        match self {
            Workspace::Temp(dir) => dir.path(),
            Workspace::Kept(path) => path,
        }
    }

    fn create(keep: bool) -> anyhow::Result<Workspace> {
        if !keep {
            let dir = tempfile::Builder::new()
                .prefix("malipo-demo-")
                .tempdir()
                .context("cannot create a temporary directory for the demo")?;
            return Ok(Workspace::Temp(dir));
        }
        let dir = PathBuf::from(KEPT_DIR);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {KEPT_DIR}"))?;
        // Only the files a previous demo wrote: never anything else a person put there.
        for name in env::FILES {
            let path = dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove the old {}", path.display())),
            }
        }
        Ok(Workspace::Kept(dir))
    }
}

/// Runs the demo; exit 0 when every expected outcome happened, 1 otherwise.
pub async fn run(args: DemoArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Some(path) = config {
        eprintln!(
            "note: the demo ignores the configuration {} (from --config or MALIPO_CONFIG): it generates its own and never touches a real deployment",
            path.display()
        );
    }
    let out = report::Printer::new(args.format);
    let workspace = Workspace::create(args.keep)?;
    let demo = env::DemoEnv::start(workspace.path(), args.port.unwrap_or(0))
        .await
        .context("cannot start the demo")?;
    demo.introduce(&out, args.keep);
    let played = scenario::play(&demo, &out).await;
    let summary = report::Summary::collect(&demo, played).await;
    let mut summary = match summary {
        Ok(summary) => summary,
        Err(e) => {
            demo.shutdown().await;
            return Err(e);
        }
    };
    let printed = summary.print(&out, workspace.path(), args.keep);
    // Kept and run by a person: the gateway and its dashboard stay up to be looked at.
    if args.keep && printed.is_ok() && std::io::stdin().is_terminal() && args.format == Format::Text {
        out.line(&format!(
            "\nthe gateway keeps serving; the dashboard is at {} (token {}). Ctrl-C stops it.",
            demo.dashboard_url, demo.admin_token
        ));
        let _ = tokio::signal::ctrl_c().await;
    }
    demo.shutdown().await;
    printed?;
    if let Workspace::Temp(dir) = workspace {
        // Best effort: a leftover temporary directory is not worth failing the demo for.
        let _ = dir.close();
    }
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
