//! Opening the configured database for commands that need it.

use malipo_config::{Config, Database};

/// Checks that the configured database can be reached and written, without changing its data.
/// Returns a one-line description on success.
pub fn probe(backend: &Database, config: &Config) -> Result<String, String> {
    match backend {
        Database::Sqlite { path } => probe_sqlite(path),
        Database::Postgres { .. } => probe_postgres(backend, config),
    }
}

/// The file is a SQLite database (or empty, or absent with its directory writable) that
/// malipo may write; a database that vanished (its `.created` marker is still there) is refused,
/// as `serve` refuses it.
fn probe_sqlite(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;

    if path.exists() {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{} cannot be opened for writing: {e}", path.display()))?;
        let mut header = Vec::with_capacity(16);
        (&mut file)
            .take(16)
            .read_to_end(&mut header)
            .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
        // An empty file is a database SQLite has yet to write.
        if !header.is_empty() && header != b"SQLite format 3\0" {
            return Err(format!(
                "{} is not a SQLite database (it does not start with SQLite's header): point database.url at malipo's database file",
                path.display()
            ));
        }
        return Ok(format!("SQLite database {} is writable", path.display()));
    }
    malipo_gateway::refuse_vanished_database(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(format!("directory {} does not exist", dir.display()));
    }
    let probe = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| format!("directory {} is not writable: {e}", dir.display()))?;
    drop(probe);
    Ok(format!(
        "SQLite database {} will be created in a writable directory",
        path.display()
    ))
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
                malipo_store::PostgresStore::schema_version_at(url.expose())
                    .await
                    .map_err(|e| error_chain(&e))
            })
        })
        .join()
        .map_err(|_| "the database check panicked".to_string())?
    })?;
    let current = malipo_store::POSTGRES_SCHEMA_VERSION;
    match version.cmp(&current) {
        std::cmp::Ordering::Equal => Ok(format!(
            "PostgreSQL {described} answers; its schema is current (version {version})"
        )),
        std::cmp::Ordering::Less => Ok(format!(
            "PostgreSQL {described} answers; its schema is at version {version}, this build's is {current}: `malipo serve` or `malipo migrate` brings it up"
        )),
        std::cmp::Ordering::Greater => Err(format!(
            "PostgreSQL {described} has schema version {version}, newer than this build knows ({current}): upgrade malipo"
        )),
    }
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
