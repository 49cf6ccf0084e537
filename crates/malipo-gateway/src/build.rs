//! Turning a [`Config`] into a running gateway's parts, in one place.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use malipo_config::{Config, Database};
use malipo_core::{Provider, Secret};
use malipo_guard::{CallbackTokens, GuardConfig, Guards, IpAllowlist, RateLimit, SourceCheck};
use malipo_store::{SqliteOptions, SqliteStore, Store};

use crate::{AppState, Gateway, GatewayError, Metrics};

/// Opens (and migrates) the configured database.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, GatewayError> {
    match config.database.backend().map_err(GatewayError::Config)? {
        Database::Sqlite { path } => {
            let options = SqliteOptions {
                durability: match config.database.durability {
                    malipo_config::Durability::ProcessCrash => malipo_store::Durability::ProcessCrash,
                    malipo_config::Durability::PowerLoss => malipo_store::Durability::PowerLoss,
                },
                ..SqliteOptions::default()
            };
            Ok(Arc::new(SqliteStore::open(&path, options)?))
        }
        Database::Postgres { .. } => Err(GatewayError::Config(
            "database.url: PostgreSQL is not supported by this build yet; use sqlite://PATH".into(),
        )),
    }
}

/// Where the generated callback token key of a SQLite database lives: beside the database file.
pub fn callback_key_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".callback-key");
    db.with_file_name(name)
}

/// The key of the per-payment callback URL tokens: `server.callback_token_key`, else the key file
/// beside the SQLite database (generated on first use).
pub fn callback_token_key(config: &Config) -> Result<Secret<Vec<u8>>, GatewayError> {
    if let Some(reference) = &config.server.callback_token_key {
        return Ok(Secret::new(reference.resolve()?.expose().as_bytes().to_vec()));
    }
    let Ok(Database::Sqlite { path }) = config.database.backend() else {
        return Err(GatewayError::Config(
            "server.callback_token_key must be set when several instances share a database".into(),
        ));
    };
    let key_path = callback_key_path(&path);
    let io = |source| GatewayError::TokenKey {
        path: key_path.clone(),
        source,
    };
    match std::fs::read(&key_path) {
        Ok(bytes) if bytes.len() >= 32 => return Ok(Secret::new(bytes)),
        Ok(_) => {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "shorter than 32 bytes; delete it to generate a new one (outstanding callback URLs then stop working)",
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&key_path).map_err(io)?;
    file.write_all(&key).and_then(|_| file.sync_all()).map_err(io)?;
    tracing::info!(path = %key_path.display(), "generated the callback token key");
    Ok(Secret::new(key.to_vec()))
}

/// The guard settings of `config`.
pub(crate) fn guard_config(config: &Config) -> Result<GuardConfig, GatewayError> {
    let mut guard = GuardConfig::default()
        .with_body_limit(config.server.body_limit_bytes)
        .with_trusted_proxies(config.server.trusted_proxies.iter().copied());
    // One provider's inbound settings: its allowlist (or none, in development) and its limit.
    let provider = |guard: GuardConfig,
                    provider: Provider,
                    verify: bool,
                    nets: &[ipnet::IpNet],
                    limit: Option<malipo_config::RateLimit>|
     -> Result<GuardConfig, GatewayError> {
        let source = if verify {
            SourceCheck::Allowlist(IpAllowlist::new(nets.iter().copied()))
        } else {
            SourceCheck::Disabled
        };
        let limit = match limit {
            None => GuardConfig::default().provider(provider).rate_limit,
            Some(l) => Some(
                RateLimit::from_config(provider, l.per_second, l.burst)
                    .map_err(|e| GatewayError::Config(e.to_string()))?,
            ),
        };
        Ok(guard
            .with_source(provider, source)
            .with_rate_limit(provider, limit))
    };
    if let Some(m) = &config.mpesa {
        guard = provider(
            guard,
            Provider::Mpesa,
            m.verify_callback_source_ip,
            &m.callback_ips,
            m.rate_limit,
        )?;
    }
    if let Some(p) = &config.paystack {
        guard = provider(
            guard,
            Provider::Paystack,
            p.verify_source_ip,
            &p.webhook_ips,
            p.rate_limit,
        )?;
    }
    Ok(guard)
}

impl Gateway {
    /// Builds the gateway of `config`: opens the database, resolves secrets, builds the guards.
    pub async fn from_config(config: &Config) -> Result<Gateway, GatewayError> {
        let store = open_store(config).await?;
        let guards = Guards::new(guard_config(config)?);
        let callback_tokens = match &config.mpesa {
            Some(_) => Some(
                CallbackTokens::try_new(callback_token_key(config)?)
                    .map_err(|e| GatewayError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let paystack_secret = match &config.paystack {
            Some(p) => Some(p.secret_key.resolve()?),
            None => None,
        };
        Ok(Gateway::new(AppState {
            store,
            metrics: Arc::new(Metrics::default()),
            guards,
            callback_tokens,
            paystack_secret,
            worker_wakeup: Arc::default(),
        }))
    }
}
