//! Turning a [`Config`] into a running gateway's parts, in one place.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use malipo_config::{Config, Database};
use malipo_core::{Provider, Secret};
use malipo_guard::{CallbackTokens, GuardConfig, Guards, IpAllowlist, RateLimit, SourceCheck};
use malipo_store::{PostgresOptions, PostgresStore, SqliteOptions, SqliteStore, Store};

use crate::{AppState, Gateway, GatewayError, Metrics, Providers};

/// Opens (and migrates) the configured database.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, GatewayError> {
    Ok(open(config).await?.store)
}

/// The opened database, and the PostgreSQL adapter itself when it is one (its wake-ups).
pub(crate) struct Opened {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) postgres: Option<PostgresStore>,
}

/// The PostgreSQL URL of `config` with `[database] password` put in (it overrides one in the
/// URL), as a secret: the result holds the password.
pub fn postgres_url(config: &Config) -> Result<Secret<String>, GatewayError> {
    let url = &config.database.url;
    let Some(reference) = &config.database.password else {
        return Ok(Secret::new(url.clone()));
    };
    let password = reference.resolve()?;
    let mut parsed = url::Url::parse(url).map_err(|e| {
        GatewayError::Config(format!(
            "database.url is not a URL ({e}): expected postgres://USER@HOST:PORT/DATABASE"
        ))
    })?;
    parsed
        .set_password(Some(password.expose()))
        .map_err(|_| GatewayError::Config("database.url has no host to give the password to".into()))?;
    Ok(Secret::new(parsed.to_string()))
}

async fn open(config: &Config) -> Result<Opened, GatewayError> {
    match config.database.backend().map_err(GatewayError::Config)? {
        Database::Postgres { .. } => {
            let url = postgres_url(config)?;
            let options = PostgresOptions {
                pool_size: config.database.pool_size.max(1),
                statement_timeout: Some(config.database.statement_timeout).filter(|t| !t.is_zero()),
                ..PostgresOptions::default()
            };
            let store = PostgresStore::connect(url.expose(), options).await?;
            Ok(Opened {
                store: Arc::new(store.clone()),
                postgres: Some(store),
            })
        }
        Database::Sqlite { .. } => Ok(Opened {
            store: open_sqlite(config).await?,
            postgres: None,
        }),
    }
}

async fn open_sqlite(config: &Config) -> Result<Arc<dyn Store>, GatewayError> {
    match config.database.backend().map_err(GatewayError::Config)? {
        Database::Sqlite { path } => {
            let options = SqliteOptions {
                durability: match config.database.durability {
                    malipo_config::Durability::ProcessCrash => malipo_store::Durability::ProcessCrash,
                    malipo_config::Durability::PowerLoss => malipo_store::Durability::PowerLoss,
                },
                ..SqliteOptions::default()
            };
            refuse_vanished_database(&path).map_err(GatewayError::Config)?;
            let store = SqliteStore::open(&path, options)?;
            mark_database(&path);
            Ok(Arc::new(store))
        }
        Database::Postgres { .. } => unreachable!("open() takes PostgreSQL"),
    }
}

/// The file beside a SQLite database that says a database was created there. A gateway finding
/// it without the database refuses to start instead of quietly creating an empty one (the
/// database was deleted or moved, and everything acknowledged into it with it); `malipo migrate`
/// creates a fresh database deliberately.
pub fn database_marker_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".created");
    db.with_file_name(name)
}

/// Refuses a SQLite database that is missing while its [`database_marker_path`] says one was
/// created there, saying why.
pub fn refuse_vanished_database(db: &Path) -> Result<(), String> {
    if !db.exists() && database_marker_path(db).exists() {
        return Err(format!(
            "the database {} is missing, but {} says one was created there: it was deleted or moved, \
             and the events acknowledged into it with it. Restore it; to start with an empty \
             database on purpose, run `malipo migrate`",
            db.display(),
            database_marker_path(db).display()
        ));
    }
    Ok(())
}

/// Leaves the marker of [`database_marker_path`]; failing to is logged, not fatal.
pub fn mark_database(db: &Path) {
    let marker = database_marker_path(db);
    if marker.exists() {
        return;
    }
    let text = format!(
        "A malipo database was created beside this file ({}).\n\
         malipo refuses to start when the database is missing but this file is not.\n",
        chrono::Utc::now().to_rfc3339()
    );
    if let Err(e) = std::fs::write(&marker, text) {
        tracing::warn!(path = %marker.display(), error = %e, "cannot write the database marker");
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
    if let Some(key) = read_key_file(&key_path).map_err(io)? {
        return Ok(key);
    }
    // Written whole to a private temporary file, then linked into place: a reader never sees
    // half a key, and of two processes creating it at once one wins and the other reads its key.
    let key: [u8; 32] = rand::random();
    let tmp = key_path.with_extension(format!(
        "tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut file| file.write_all(&key).and_then(|_| file.sync_all()))
        .and_then(|_| std::fs::hard_link(&tmp, &key_path));
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %key_path.display(), "generated the callback token key");
            Ok(Secret::new(key.to_vec()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(&key_path).map_err(io)?.ok_or_else(|| {
                io(std::io::Error::other(
                    "vanished right after another process created it",
                ))
            })
        }
        Err(e) => Err(io(e)),
    }
}

/// The key in `path`, `None` when there is no such file. A key others can read, or one too
/// short to be ours, is refused.
fn read_key_file(path: &Path) -> std::io::Result<Option<Secret<Vec<u8>>>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("readable by other users (mode {mode:o}): anyone who reads it can forge callback URLs; `chmod 600` it"),
            ));
        }
    }
    if bytes.len() < 32 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "shorter than 32 bytes; delete it to generate a new one (outstanding callback URLs then stop working)",
        ));
    }
    Ok(Some(Secret::new(bytes)))
}

/// The `[mpesa]` section as client settings, every secret reference resolved. The security
/// credential is the configured one, else made from `initiator_password` and `certificate`;
/// without either, initiator operations (B2C, status, reversal) are refused by the client.
pub fn mpesa_settings(config: &Config) -> Result<Option<malipo_mpesa::MpesaSettings>, GatewayError> {
    let Some(m) = &config.mpesa else {
        return Ok(None);
    };
    let own = m.all_accounts().into_iter().next().map(|(_, a)| a);
    match own {
        Some(own) => mpesa_account_settings(config, m, &own).map(Some),
        None => Ok(None),
    }
}

/// One M-Pesa account's client settings: its credentials over the section's shared network
/// settings (base URL, timeout), every secret reference resolved.
pub fn mpesa_account_settings(
    config: &Config,
    m: &malipo_config::MpesaConfig,
    a: &malipo_config::MpesaAccountConfig,
) -> Result<malipo_mpesa::MpesaSettings, GatewayError> {
    let mut settings = malipo_mpesa::MpesaSettings::new(
        m.api_base_url_for(config.environment),
        a.consumer_key.resolve()?,
        a.consumer_secret.resolve()?,
        a.passkey.resolve()?,
        a.shortcode.clone(),
    );
    settings.till_number = a.till_number.clone();
    settings.initiator_name = a.initiator_name.clone();
    settings.timeout = std::time::Duration::from_secs(m.timeout_secs.max(1));
    settings.security_credential = match (&a.security_credential, &a.initiator_password, &a.certificate) {
        (Some(credential), _, _) => Some(credential.resolve()?),
        (None, Some(password), Some(cert_path)) => {
            let bytes = std::fs::read(cert_path).map_err(|e| {
                GatewayError::Config(format!(
                    "cannot read mpesa.certificate {}: {e}",
                    cert_path.display()
                ))
            })?;
            let cert = malipo_mpesa::DarajaCertificate::from_bytes(&bytes).map_err(|e| {
                GatewayError::Config(format!("mpesa.certificate {}: {e}", cert_path.display()))
            })?;
            let password = password.resolve()?;
            Some(
                cert.security_credential(&password)
                    .map_err(|e| GatewayError::Config(format!("making the security credential: {e}")))?,
            )
        }
        _ => None,
    };
    Ok(settings)
}

/// The Paystack client of `[paystack]`'s own account, its secret key resolved.
pub fn paystack_client(config: &Config) -> Result<Option<malipo_paystack::Client>, GatewayError> {
    let Some(p) = &config.paystack else {
        return Ok(None);
    };
    paystack_account_client(p, &p.secret_key).map(Some)
}

fn paystack_account_client(
    p: &malipo_config::PaystackConfig,
    secret_key: &malipo_config::SecretRef,
) -> Result<malipo_paystack::Client, GatewayError> {
    malipo_paystack::Client::builder(secret_key.resolve()?)
        .base_url(p.api_base_url())
        .timeout(std::time::Duration::from_secs(p.timeout_secs.max(1)))
        .build()
        .map_err(|e| GatewayError::Config(format!("cannot build the Paystack client: {e}")))
}

/// The provider clients of every account and the public URL of `config`, built once.
pub fn providers(config: &Config) -> Result<Providers, GatewayError> {
    let mut providers = Providers {
        public_base_url: config.server.public_base_url.clone(),
        ..Providers::default()
    };
    if let Some(m) = &config.mpesa {
        for (name, account) in m.all_accounts() {
            let client = malipo_mpesa::MpesaClient::new(mpesa_account_settings(config, m, &account)?)
                .map_err(|e| {
                    GatewayError::Config(format!("cannot build the Daraja client of account {name}: {e}"))
                })?;
            if name.is_default() {
                providers.mpesa = Some(client);
            } else {
                providers.mpesa_accounts.insert(name, client);
            }
        }
    }
    if let Some(p) = &config.paystack {
        for (name, account) in p.all_accounts() {
            let client = paystack_account_client(p, &account.secret_key)?;
            if name.is_default() {
                providers.paystack = Some(client);
            } else {
                providers.paystack_accounts.insert(name, client);
            }
        }
    }
    Ok(providers)
}

/// The public listener's limits of `config` (`[server]`), trusted proxies exempt from the
/// per-address cap.
pub fn listener_limits(config: &Config) -> crate::listener::ListenerLimits {
    crate::listener::ListenerLimits {
        header_read_timeout: std::time::Duration::from_secs(config.server.header_read_timeout_secs.max(1)),
        max_connections: config.server.max_connections.max(1),
        max_connections_per_ip: config.server.max_connections_per_ip.max(1),
        exempt: config.server.trusted_proxies.clone(),
        ..crate::listener::ListenerLimits::default()
    }
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
    /// Builds the gateway of `config`: runs the production checklist, opens the database,
    /// resolves secrets, builds the guards. A production configuration (the deployment's or its
    /// M-Pesa section's) with a checklist FAIL is refused with [`GatewayError::Checklist`], as
    /// `malipo serve` refuses it; a sandbox one is built whatever the checklist says.
    pub async fn from_config(config: &Config) -> Result<Gateway, GatewayError> {
        if malipo_checklist::production(config) {
            let findings = malipo_checklist::check(config, malipo_checklist::CheckOptions::default());
            let failed: Vec<_> = malipo_checklist::failures(&findings)
                .into_iter()
                .cloned()
                .collect();
            if !failed.is_empty() {
                return Err(GatewayError::Checklist(failed));
            }
        }
        Self::from_config_unchecked(config).await
    }

    /// [`Gateway::from_config`] without the production checklist: for `malipo serve
    /// --ignore-check-failures` and nothing else. Never with real money.
    pub async fn from_config_unchecked(config: &Config) -> Result<Gateway, GatewayError> {
        let Opened { store, postgres } = open(config).await?;
        let worker_wakeup: Arc<tokio::sync::Notify> = Arc::default();
        // Instances share the queue: a webhook another instance stored wakes this one's worker
        // too (the sender polls on its own).
        let work_listener = postgres
            .map(|pg| pg.listen_for_work(worker_wakeup.clone(), Arc::new(tokio::sync::Notify::new())));
        let guards = Guards::new(guard_config(config)?);
        let callback_tokens = match &config.mpesa {
            Some(_) => Some(
                CallbackTokens::try_new(callback_token_key(config)?)
                    .map_err(|e| GatewayError::Config(e.to_string()))?,
            ),
            None => None,
        };
        let paystack_secret = match &config.paystack {
            Some(p) => Some(Arc::new(p.secret_key.resolve()?)),
            None => None,
        };
        crate::delivery::seed_from_config(&*store, config).await?;
        Ok(Gateway::new(AppState {
            store,
            metrics: Arc::new(Metrics::default()),
            guards: guards.into(),
            callback_tokens,
            paystack_secret,
            paystack_account_secrets: match &config.paystack {
                Some(p) => p
                    .accounts
                    .iter()
                    .map(|(name, a)| Ok((name.clone(), a.secret_key.resolve()?)))
                    .collect::<Result<std::collections::BTreeMap<_, _>, GatewayError>>()?
                    .into(),
                None => Default::default(),
            },
            worker_wakeup,
            providers: providers(config)?.into(),
            connections: Arc::default(),
            mpesa_payees: config
                .mpesa
                .iter()
                .flat_map(|m| m.all_accounts())
                .flat_map(|(account, a)| {
                    // A shortcode the account pulls is one of its own, paid into like the others.
                    let pulled = a.c2b_pull.as_ref().and_then(|p| p.shortcode.clone());
                    std::iter::once(a.shortcode.clone())
                        .chain(a.till_number.clone())
                        .chain(pulled)
                        .map(move |code| crate::apply::Payee {
                            code: code.trim().to_string(),
                            account: account.clone(),
                        })
                })
                .filter(|p| !p.code.is_empty())
                .collect::<Vec<_>>()
                .into(),
            confirm_successes: config.reconcile.confirm_successes.unwrap_or(
                config.environment == malipo_config::Environment::Production
                    || config
                        .mpesa
                        .as_ref()
                        .is_some_and(|m| m.environment == Some(malipo_config::Environment::Production)),
            ),
            c2b_validators: crate::validation::Validator::all_from_config(config)?.into(),
        })
        .with_listener_limits(listener_limits(config))
        .with_reconcile(config.reconcile.clone())
        .with_c2b_pulls(crate::c2b_pull::PullPlan::all_from_config(config))
        .with_delivery(Some(crate::delivery::DeliverySettings::from_config(config)))
        .with_public_healthz(config.ops.public_healthz)
        .with_dashboard(dashboard_settings(config)?)
        .with_work_listener(work_listener)
        .with_workers(config.database.workers))
    }
}

/// The dashboard's settings of `[ops]`, or `None` when no admin token is configured.
pub fn dashboard_settings(config: &Config) -> Result<Option<crate::DashboardSettings>, GatewayError> {
    let Some(reference) = &config.ops.admin_token else {
        return Ok(None);
    };
    let token = reference.resolve()?;
    // A short token can be guessed through the login form, slowed as it is.
    if token.expose().trim().chars().count() < 16 {
        return Err(GatewayError::Config(
            "ops.admin_token must be at least 16 characters (`openssl rand -hex 24` makes one)".into(),
        ));
    }
    Ok(Some(crate::DashboardSettings {
        token,
        session_ttl: config.ops.session_ttl,
        secure_cookies: malipo_checklist::production(config),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path) -> Config {
        let db = dir.join("malipo.db");
        Config::from_toml(&format!("[database]\nurl = \"sqlite://{}\"\n", db.display())).unwrap()
    }

    #[test]
    fn processes_creating_the_key_at_once_agree_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| callback_token_key(&config).map(|k| k.expose().clone())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        assert!(
            keys.windows(2).all(|w| w[0] == w[1]),
            "every caller got the same key"
        );
        assert_eq!(keys[0].len(), 32);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private_and_a_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let first = callback_token_key(&config).unwrap();
        let path = callback_key_path(&dir.path().join("malipo.db"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(callback_token_key(&config).unwrap().expose(), first.expose());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = callback_token_key(&config).unwrap_err().to_string();
        assert!(err.contains("readable by other users"), "{err}");
    }
}
