//! `malipo security-credential`: encrypt the initiator password with Safaricom's certificate.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use malipo_core::Secret;
use malipo_mpesa::DarajaCertificate;

/// Arguments of `malipo security-credential`.
///
/// The password is read from the variable named by --password-env, else from standard input
/// (without echo on a terminal); never from an argument, where it would land in shell history and
/// the process list.
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// Safaricom's certificate for the environment (PEM or DER X.509), from the Daraja portal.
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Name of the environment variable holding the initiator password.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// Takes the place of the global --config, so the help does not offer an option this
    /// command never reads.
    #[arg(id = "config", long = "config", hide = true, value_name = "FILE")]
    _config: Option<PathBuf>,
}

fn read_password(args: &CredentialArgs) -> anyhow::Result<Secret<String>> {
    if let Some(var) = &args.password_env {
        let value = std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        return Ok(Secret::new(value));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let value = rpassword::prompt_password("Initiator password: ").context("cannot read the password")?;
        return Ok(Secret::new(value));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let trimmed = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    Ok(Secret::new(trimmed.to_string()))
}

/// Runs `malipo security-credential`, printing the base64 credential on standard output.
pub fn run(args: CredentialArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.cert)
        .with_context(|| format!("cannot read certificate {}", args.cert.display()))?;
    let cert = DarajaCertificate::from_bytes(&bytes)
        .with_context(|| format!("{} is not usable", args.cert.display()))?;
    let password = read_password(&args)?;
    let credential = cert.security_credential(&password)?;
    tracing::info!(
        subject = cert.subject(),
        bits = cert.modulus_len() * 8,
        "encrypted the initiator password"
    );
    outln!("{}", credential.expose());
    Ok(ExitCode::SUCCESS)
}
