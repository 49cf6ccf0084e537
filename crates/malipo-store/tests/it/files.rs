//! The database's files on disk: private to their owner.

use crate::TestStore;
use malipo_core::Provider;
use malipo_store::NewEvent;

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = TestStore::open();
    // A write makes sure the -wal and -shm files exist.
    let event = NewEvent::received(Provider::Paystack, "charge.success", "files:1", &b"{}"[..]);
    t.store.ingest(event).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = t.path().into_os_string();
        name.push(suffix);
        let mode = std::fs::metadata(&name).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name:?} has mode {mode:o}");
    }
}
