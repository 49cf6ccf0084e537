use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::options::SqliteOptions;
use crate::error::Reason;
use crate::StoreError;

/// Statements kept prepared per connection; the store uses a few dozen shapes.
const STATEMENT_CACHE: usize = 128;

/// Opens the read-write connection: creates the file, switches to WAL and sets the durability.
pub(crate) fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    create_private(path)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| open_error(path, e))?;
    // A read-only file or directory opens "successfully" read-only; say so now rather than at
    // the first webhook.
    if conn.is_readonly(rusqlite::DatabaseName::Main).unwrap_or(false) {
        return Err(StoreError::NotWritable {
            path: path.to_owned(),
            source: Reason::cause(
                "SQLite opened the file read-only (check its permissions and the directory's)",
            ),
        });
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.to_owned(),
            source: Reason::cause(format!(
                "journal_mode is {mode}, expected wal (is the file on a network file system?)"
            )),
        });
    }
    // The writer's page cache: 8 MiB held the bench's closed loop at the speed 16 MiB did, with
    // 9 MiB less peak RSS (the gateway's target is 60 MB); the OS's page cache sits behind it.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {};
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8192;
         PRAGMA journal_size_limit = {};
         PRAGMA foreign_keys = OFF;",
        options.durability.pragma(),
        // After a restart the WAL file is cut back to the limit instead of keeping its peak.
        options.wal_limit_bytes,
    ))
    .map_err(|e| open_error(path, e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Creates the database file readable by its owner alone, before SQLite would create it with
/// the umask's mode (0644): it holds customers' names, phones and emails. SQLite gives the
/// `-wal` and `-shm` files the database file's mode, so they are private too. An existing file
/// is left as it is, with a warning when others can read it.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                if let Ok(meta) = std::fs::metadata(path) {
                    let mode = meta.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the database file is readable by other users; `chmod 600` it (and its -wal and -shm files)");
                    }
                }
            }
            Ok(())
        }
        // Let SQLite report a missing directory or a read-only place in its own words.
        Err(_) => Ok(()),
    }
}

/// Opens a read-only connection; WAL readers see the last commit and never block the writer.
pub(crate) fn open_reader(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| open_error(path, e))?;
    conn.execute_batch("PRAGMA cache_size = -4096; PRAGMA temp_store = MEMORY;")
        .map_err(|e| open_error(path, e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Tells "cannot write there" apart from other failures to open.
pub(crate) fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let not_writable = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen | ErrorCode::DiskFull)
    ) && path.exists();
    let source = Arc::new(e);
    if not_writable {
        StoreError::NotWritable {
            path: path.to_owned(),
            source,
        }
    } else {
        StoreError::Open {
            path: path.to_owned(),
            source,
        }
    }
}
