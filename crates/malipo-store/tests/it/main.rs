//! Integration tests of the SQLite and PostgreSQL adapters through the `Store` port, a fresh
//! database per test.

mod batch;
mod behaviour;
mod defaults;
mod deliveries;
mod events;
mod files;
mod jobs;
mod lifecycle;
mod payments;
mod pg;
mod postgres;
mod reconciliation;
mod settlement;

use std::sync::Arc;

use malipo_core::Provider;
use malipo_store::{NewEvent, SqliteOptions, SqliteStore, Store};
use tempfile::TempDir;

/// A store in its own temporary directory; the directory lives as long as the value.
pub struct TestStore {
    /// The store behind the port, as the gateway holds it.
    pub store: Arc<dyn Store>,
    /// The same store, for adapter-specific calls.
    pub sqlite: SqliteStore,
    /// Where the database lives.
    pub dir: TempDir,
}

impl TestStore {
    /// A fresh, migrated store.
    pub fn open() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sqlite = SqliteStore::open(dir.path().join("malipo.db"), SqliteOptions::default())
            .expect("open the store");
        TestStore {
            store: Arc::new(sqlite.clone()),
            sqlite,
            dir,
        }
    }

    /// The database file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("malipo.db")
    }
}

/// A received Paystack event whose dedup key is `key`.
pub fn paystack_event(key: &str) -> NewEvent {
    let body = include_bytes!("../fixtures/paystack/charge-success.json");
    NewEvent::received(Provider::Paystack, "charge.success", key, &body[..])
}

/// Counts rows of a table straight from the file, bypassing the store.
pub fn count_rows(path: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count rows")
}
mod keys;
