use malipo_core::EventStatus;
use malipo_store::{Durability, SqliteOptions, SqliteStore, StoreError};
use malipo_store::{EventStore as _, OpsStore as _};

use crate::{count_rows, paystack_event, TestStore};

#[tokio::test]
async fn dropping_the_store_without_closing_keeps_every_acknowledged_write() {
    let t = TestStore::open();
    let path = t.path();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            t.store
                .ingest(paystack_event(&format!("k{i}")))
                .await
                .unwrap()
                .id(),
        );
    }
    // No close(): the handles just go away, as in a crash of the caller.
    let TestStore { store, sqlite, dir } = t;
    drop(store);
    drop(sqlite);
    let reopened = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    for id in ids {
        assert!(reopened.get_event(id).await.unwrap().is_some());
    }
    assert_eq!(count_rows(&path, "events"), 20);
    drop(dir);
}

#[tokio::test]
async fn power_loss_durability_works_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        durability: Durability::PowerLoss,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(dir.path().join("db"), options).unwrap();
    assert_eq!(store.durability(), Durability::PowerLoss);
    assert!(store.ingest(paystack_event("k")).await.unwrap().is_new());
    store.close().await.unwrap();
}

#[test]
fn migrations_are_idempotent_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.db");
    // Derived from the list, so adding a migration does not break this test.
    let known = SqliteStore::migrations();
    let latest = known.iter().map(|m| m.version).max().unwrap();
    let count = i64::try_from(known.len()).unwrap();
    let first = SqliteStore::migrate(&path).unwrap();
    assert_eq!(first.applied, known);
    assert_eq!(first.version, latest);
    let again = SqliteStore::migrate(&path).unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.version, latest);
    assert_eq!(count_rows(&path, "schema_migrations"), count);
    // Opening runs them too and finds nothing to do.
    let _store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(count_rows(&path, "schema_migrations"), count);
}

#[test]
fn a_database_from_a_newer_malipo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.db");
    SqliteStore::migrate(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)",
            [],
        )
        .unwrap();
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, known } if known == SqliteStore::migrations().iter().map(|m| m.version).max().unwrap()),
        "{err}"
    );
}

#[test]
fn opening_without_migrating_refuses_an_old_schema() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        migrate: false,
        ..SqliteOptions::default()
    };
    let err = SqliteStore::open(dir.path().join("db"), options).unwrap_err();
    assert!(err.to_string().contains("malipo migrate"), "{err}");
}

#[test]
fn a_missing_directory_says_which_path_failed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/malipo.db");
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no/such/dir/malipo.db"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[cfg(unix)]
#[test]
fn a_read_only_database_is_reported_as_not_writable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.db");
    SqliteStore::migrate(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    // Root ignores permissions; nothing to check there.
    if std::fs::OpenOptions::new().write(true).open(&path).is_ok() {
        return;
    }
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
    assert!(err.to_string().contains("is not writable"), "{err}");
}

#[tokio::test]
async fn close_commits_what_is_queued_then_refuses_writes() {
    let t = TestStore::open();
    let id = t.store.ingest(paystack_event("k")).await.unwrap().id();
    t.store.close().await.unwrap();
    assert!(matches!(
        t.store.ingest(paystack_event("k2")).await,
        Err(StoreError::Closed)
    ));
    assert!(t.store.ping().await.is_err());
    // Reads still work.
    let got = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(got.status, EventStatus::Received);
}

#[tokio::test]
async fn ping_and_stats_answer_on_a_fresh_database() {
    let t = TestStore::open();
    t.store.ping().await.unwrap();
    let stats = t.store.stats().await.unwrap();
    assert_eq!(stats.jobs_queued, 0);
    assert_eq!(stats.events.len(), EventStatus::ALL.len());
}
