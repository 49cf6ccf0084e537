//! A small pool of read-only connections used on the blocking thread pool.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::connection::open_reader;
use super::options::SqliteOptions;
use crate::error::Context;
use crate::StoreError;

/// Read-only connections, opened lazily up to the configured number. In WAL mode they read the
/// last committed state without blocking the writer or being blocked by it.
pub(crate) struct Readers {
    path: PathBuf,
    options: SqliteOptions,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, options: SqliteOptions) -> Self {
        let permits = Arc::new(Semaphore::new(options.readers.max(1)));
        Readers {
            path,
            options,
            idle: Mutex::new(Vec::new()),
            permits,
        }
    }

    /// Runs `work` on a read connection on the blocking pool.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match this.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(conn) => conn,
                None => open_reader(&this.path, &this.options)?,
            };
            let result = work(&conn);
            // A connection is only put back when it is not stuck in a transaction.
            if conn.is_autocommit() {
                if let Ok(mut idle) = this.idle.lock() {
                    idle.push(conn);
                }
            }
            result
        })
        .await
        .map_err(|e| StoreError::Task(format!("a database read did not finish: {e}")))?
    }
}

/// Runs the statements of `work` in one read transaction. Each statement outside one is a read
/// transaction of its own, and each of those finds the WAL changed by the writer's last commit
/// and drops the connection's page cache: a worker batch's 256 payment lookups read the same
/// index pages 256 times. Inside one, SQLite checks once and the pages stay cached (and the
/// lookups see one snapshot).
pub(crate) fn in_one_snapshot<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let snapshot = conn
        .unchecked_transaction()
        .during("starting a read transaction")?;
    // Dropping the transaction ends it (a rollback, which for reads only releases the snapshot).
    work(&snapshot)
}
