//! Integration tests of the SQLite and PostgreSQL adapters through the `Store` port, a fresh
//! database per test.

/// Defines, for each test function taking an [`Adapter`], one test per adapter: `sqlite::name`
/// and `postgres::name` (skipped, saying so, without `MALIPO_TEST_POSTGRES_URL`).
#[macro_export]
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Adapter::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(t) = $crate::Adapter::postgres().await else {
                        return;
                    };
                    super::$test(t).await;
                }
            )*
        }
    };
}

mod batch;
mod behaviour;
mod defaults;
mod deliveries;
mod events;
mod files;
mod jobs;
mod leases;
mod lifecycle;
mod payments;
mod pg;
mod pgbouncer;
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

/// A fresh store of either adapter, for the tests that hold for both.
pub struct Adapter {
    /// The store behind the port, as the gateway holds it.
    pub store: Arc<dyn Store>,
    backing: Backing,
}

enum Backing {
    Sqlite(TestStore),
    Postgres(pg::PgDb),
}

impl Adapter {
    /// A fresh SQLite store.
    pub fn sqlite() -> Self {
        let t = TestStore::open();
        Adapter {
            store: t.store.clone(),
            backing: Backing::Sqlite(t),
        }
    }

    /// A fresh PostgreSQL database and store, or `None` when the PostgreSQL tests are skipped.
    pub async fn postgres() -> Option<Self> {
        let db = pg::PgDb::create().await?;
        Some(Adapter {
            store: db.store.clone(),
            backing: Backing::Postgres(db),
        })
    }

    /// Counts rows of a table, bypassing the store.
    pub async fn count(&self, table: &str) -> i64 {
        match &self.backing {
            Backing::Sqlite(t) => count_rows(&t.path(), table),
            Backing::Postgres(db) => db.count(table).await,
        }
    }
}

/// Either test store, for helpers shared by SQLite-only and both-adapter tests.
pub trait HasStore {
    /// The store behind the port.
    fn store(&self) -> &Arc<dyn Store>;
}

impl HasStore for TestStore {
    fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

impl HasStore for Adapter {
    fn store(&self) -> &Arc<dyn Store> {
        &self.store
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
