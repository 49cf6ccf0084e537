//! Whether another process has a database file open. Every open store holds a shared lock
//! (`flock`) on its file for as long as it is open, and `migrate-data` takes it exclusively: a
//! copy never starts beside a gateway still writing (rows written after the copy would be left
//! behind), and no gateway starts on a file being copied. These locks are apart from the
//! byte-range locks SQLite takes, and end with their process, `kill -9` included.

use std::fs::File;
use std::path::Path;

use crate::StoreError;

/// A lock held until dropped.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

/// A shared lock on the file, refused while a copy holds it exclusively. `None` where locks
/// are not taken (a platform without `flock`, a file that cannot be opened for it).
pub(crate) fn shared(path: &Path) -> Result<Option<FileLock>, StoreError> {
    lock(path, false).map_err(|held| StoreError::Conflict {
        what: format!("the SQLite database {}", path.display()),
        holder: format!(
            "`malipo migrate-data`, copying it to PostgreSQL ({held}); wait for the copy to finish"
        ),
    })
}

/// The file alone: refused while any store has it open.
pub(crate) fn exclusive(path: &Path) -> Result<Option<FileLock>, StoreError> {
    lock(path, true).map_err(|held| StoreError::Conflict {
        what: format!("the SQLite database {}", path.display()),
        holder: format!(
            "another malipo process ({held}): stop the gateway and any other malipo command using it first, so that no row is written after the copy"
        ),
    })
}

#[cfg(unix)]
fn lock(path: &Path, exclusive: bool) -> Result<Option<FileLock>, String> {
    use rustix::fs::{flock, FlockOperation};

    let Ok(file) = File::open(path) else {
        return Ok(None);
    };
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    match flock(&file, operation) {
        Ok(()) => Ok(Some(FileLock { _file: file })),
        Err(rustix::io::Errno::WOULDBLOCK) => Err("it holds the file's lock".to_string()),
        // A file system without locks: nothing to coordinate with.
        Err(_) => Ok(None),
    }
}

#[cfg(not(unix))]
fn lock(_path: &Path, _exclusive: bool) -> Result<Option<FileLock>, String> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_an_exclusive_one_waits_for_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        std::fs::write(&path, b"").unwrap();
        let a = shared(&path).unwrap().expect("locked");
        let b = shared(&path).unwrap().expect("locked");
        let err = exclusive(&path).unwrap_err().to_string();
        assert!(err.contains("stop the gateway"), "{err}");
        drop((a, b));
        let alone = exclusive(&path).unwrap().expect("locked");
        let err = shared(&path).unwrap_err().to_string();
        assert!(err.contains("migrate-data"), "{err}");
        drop(alone);
        assert!(shared(&path).unwrap().is_some());
        // No file, no lock to take.
        assert!(shared(&dir.path().join("none.db")).unwrap().is_none());
    }
}
