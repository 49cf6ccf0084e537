//! `malipo api-key create|list|revoke`: the keys a merchant's backend calls the API (`/v1`) with.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use malipo_core::kinds::KeyId;
use malipo_gateway::api::{new_api_key, KeyEnvironment};
use malipo_store::ApiKeyRecord;

use super::serve::load_config;
use crate::Format;

/// Arguments of `malipo api-key`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Create a key and print it once: malipo keeps only its SHA-256 digest, so a lost key
    /// cannot be shown again (revoke it and create another). Sandbox keys start `mk_test_`,
    /// production keys `mk_live_`.
    Create(CreateArgs),
    /// List keys, newest first (their id, name and first characters; never the key).
    List(FormatArg),
    /// Revoke a key: requests made with it are refused (401) from now on.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// A label to tell keys apart, such as the system using it ("shop-backend").
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct FormatArg {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct RevokeArgs {
    /// The key's id (key_…, from `malipo api-key list`).
    id: KeyId,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `malipo api-key`.
pub async fn run(args: ApiKeyArgs, config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let store = malipo_gateway::open_store(&config)
        .await
        .context("cannot open the database")?;
    let result = match args.action {
        Action::Create(a) => {
            let made = new_api_key(KeyEnvironment::of(config.environment), a.name);
            let record = store
                .insert_api_key(made.record)
                .await
                .context("cannot store the new key")?;
            match a.format {
                Format::Json => {
                    let mut doc = serde_json::to_value(&record)?;
                    doc["key"] = made.key.expose().clone().into();
                    outln!("{}", serde_json::to_string_pretty(&doc)?);
                }
                Format::Text => {
                    outln!("created API key {} ({})", record.id, record.environment);
                    if let Some(name) = &record.name {
                        outln!("name: {name}");
                    }
                    outln!("key (shown once; malipo keeps only its digest, so store it now):");
                    outln!("{}", made.key.expose());
                }
            }
            Ok(())
        }
        Action::List(a) => store
            .list_api_keys()
            .await
            .context("cannot list the keys")
            .and_then(|keys| print_keys(&keys, a.format)),
        Action::Revoke(a) => match store.revoke_api_key(a.id).await {
            Ok(record) => {
                match a.format {
                    Format::Json => outln!("{}", serde_json::to_string_pretty(&record)?),
                    Format::Text => outln!(
                        "revoked API key {}; requests with it are refused from now on",
                        record.id
                    ),
                }
                Ok(())
            }
            Err(malipo_store::StoreError::NotFound { .. }) => Err(anyhow::anyhow!(
                "no API key {} (list them with `malipo api-key list`)",
                a.id
            )),
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot revoke {}", a.id))),
        },
    };
    store.close().await?;
    result.map(|()| ExitCode::SUCCESS)
}

fn print_keys(keys: &[ApiKeyRecord], format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(keys)?),
        Format::Text if keys.is_empty() => outln!("no API keys (create one with `malipo api-key create`)"),
        Format::Text => {
            outln!(
                "{:<30}  {:<16}  {:<4}  {:<14}  {:<20}  STATUS",
                "ID",
                "NAME",
                "ENV",
                "PREFIX",
                "CREATED"
            );
            for k in keys {
                outln!(
                    "{:<30}  {:<16}  {:<4}  {:<14}  {:<20}  {}",
                    k.id.to_string(),
                    k.name.as_deref().unwrap_or("-"),
                    k.environment,
                    format!("{}…", k.prefix),
                    k.created_at.format("%Y-%m-%d %H:%M:%S"),
                    match k.revoked_at {
                        Some(t) => format!("revoked {}", t.format("%Y-%m-%d %H:%M:%S")),
                        None => "active".to_string(),
                    }
                );
            }
        }
    }
    Ok(())
}
