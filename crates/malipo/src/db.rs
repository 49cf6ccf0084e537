//! Opening the configured database for commands that need it.

use malipo_config::{Config, Database};

/// Checks that the configured database can be reached and written, without changing its data.
/// Returns a one-line description on success.
pub fn probe(backend: &Database, config: &Config) -> Result<String, String> {
    match backend {
        Database::Sqlite { path } => {
            if path.exists() {
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("{} cannot be opened for writing: {e}", path.display()))?;
                Ok(format!("SQLite database {} is writable", path.display()))
            } else {
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => std::path::PathBuf::from("."),
                };
                let probe = tempfile::NamedTempFile::new_in(&dir)
                    .map_err(|e| format!("directory {} is not writable: {e}", dir.display()))?;
                drop(probe);
                Ok(format!(
                    "SQLite database {} will be created in a writable directory",
                    path.display()
                ))
            }
        }
        Database::Postgres { .. } => probe_postgres(backend, config),
    }
}

/// Connects without migrating and reads the schema version: current, older (`serve` and
/// `malipo migrate` bring it up), or newer than this build (refused).
fn probe_postgres(backend: &Database, config: &Config) -> Result<String, String> {
    let url = malipo_gateway::postgres_url(config).map_err(|e| e.to_string())?;
    let described = backend.redacted();
    // Its own thread and runtime: callers may or may not be inside one.
    let version = std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let options = malipo_store::PostgresOptions {
                    migrate: false,
                    pool_size: 1,
                    connect_timeout: std::time::Duration::from_secs(5),
                    ..malipo_store::PostgresOptions::default()
                };
                match malipo_store::PostgresStore::connect(url.expose(), options).await {
                    Ok(store) => {
                        let version = store.schema_version().await.map_err(|e| e.to_string());
                        let _ = malipo_store::OpsStore::close(&store).await;
                        version.map(Some)
                    }
                    // Older than this build: fine, it is migrated at start.
                    Err(malipo_store::StoreError::Invalid(why)) if why.contains("malipo migrate") => Ok(None),
                    Err(e) => Err(error_chain(&e)),
                }
            })
        })
        .join()
        .map_err(|_| "the database check panicked".to_string())?
    })?;
    Ok(match version {
        Some(v) => format!("PostgreSQL {described} answers; its schema is current (version {v})"),
        None => format!(
            "PostgreSQL {described} answers; its schema is older than this build's (version {}): `malipo serve` or `malipo migrate` brings it up",
            malipo_store::POSTGRES_SCHEMA_VERSION
        ),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
