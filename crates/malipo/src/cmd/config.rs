//! `malipo init` and `malipo check-config`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use crate::check::{self, CheckOptions, Level};
use crate::Format;

/// Arguments of `malipo init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the sample [default: the --config path, else ./malipo.toml]
    #[arg(value_name = "FILE")]
    path: Option<PathBuf>,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

/// Arguments of `malipo check-config`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format: one `[PASS]`/`[WARN]`/`[FAIL]` line per rule, or a JSON document.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Stop at the first FAIL.
    #[arg(long)]
    fail_fast: bool,
}

/// Runs `malipo init`.
pub fn init(args: InitArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = args
        .path
        .or_else(|| config.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(malipo_config::DEFAULT_PATH));
    if path.exists() && !args.force {
        anyhow::bail!("{} already exists; pass --force to overwrite it", path.display());
    }
    std::fs::write(&path, malipo_config::SAMPLE)
        .with_context(|| format!("cannot write {}", path.display()))?;
    outln!("wrote {}", path.display());
    let variables: Vec<String> = malipo_config::Config::from_toml(malipo_config::SAMPLE)
        .map(|sample| {
            check::secret_refs(&sample)
                .into_iter()
                .filter_map(|(_, r)| match r {
                    malipo_config::SecretRef::Env(var) => Some(var.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    outln!(
        "next: set the secrets it references ({}), then run `malipo check-config --config {}`",
        variables.join(", "),
        path.display()
    );
    outln!("(to try malipo against the local simulators first, see the README's \"Run it yourself\")");
    Ok(ExitCode::SUCCESS)
}

/// Runs `malipo check-config`: exit 0 without FAIL, 1 with any FAIL, 2 when the configuration
/// cannot be read.
pub async fn check(args: CheckArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = match malipo_config::Config::load(config) {
        Ok(c) => c,
        Err(e) => {
            match args.format {
                Format::Text => eprintln!("error: {e}"),
                Format::Json => outln!("{}", serde_json::json!({ "ok": false, "error": e.to_string() })),
            }
            return Ok(ExitCode::from(2));
        }
    };
    let findings = check::check(
        &config,
        CheckOptions {
            fail_fast: args.fail_fast,
        },
    );
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let (pass, warn, fail) = (count(Level::Pass), count(Level::Warn), count(Level::Fail));
    match args.format {
        Format::Text => {
            for f in &findings {
                outln!("{}", f.render());
            }
            outln!(
                "\n{} environment: {pass} passed, {}, {fail} failed",
                config.environment.as_str(),
                plural(warn, "warning")
            );
        }
        Format::Json => {
            let doc = serde_json::json!({
                "ok": fail == 0,
                "environment": config.environment,
                "summary": { "pass": pass, "warn": warn, "fail": fail },
                "results": findings,
            });
            outln!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(if fail == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `1 warning`, `2 warnings`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
