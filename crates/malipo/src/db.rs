//! Opening the configured database for commands that need it.

use malipo_config::{Config, Database};

/// Checks that the configured database can be reached and written, without changing its data.
/// Returns a one-line description on success.
pub fn probe(backend: &Database, _config: &Config) -> Result<String, String> {
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
        Database::Postgres { .. } => Err("PostgreSQL is not supported by this build yet".into()),
    }
}
