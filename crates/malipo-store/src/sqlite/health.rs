//! Whether the database can still take writes, known without a round trip through the writer.
//!
//! Two things make a running SQLite store unable to keep what it acknowledges, and neither shows
//! in a read: commits failing (a full disk, a file made read-only) and the file at the path no
//! longer being the one open (deleted or replaced: SQLite keeps writing into the unlinked inode,
//! and a restart would start from whatever is at the path now). The writer records the first
//! after every commit and checks the second before every batch; `ping` reads both.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::StoreError;

/// The file's identity: device and inode on Unix.
type Identity = (u64, u64);

fn identity(path: &Path) -> std::io::Result<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata(path)?;
        Ok((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).map(|_| (0, 0))
    }
}

/// Shared between the writer thread and the store's handle.
#[derive(Debug)]
pub(crate) struct Health {
    path: PathBuf,
    opened: Option<Identity>,
    failing: AtomicBool,
    replaced: AtomicBool,
}

impl Health {
    /// Remembers which file is open at `path` now.
    pub(crate) fn new(path: &Path) -> Self {
        Health {
            path: path.to_owned(),
            opened: identity(path).ok(),
            failing: AtomicBool::new(false),
            replaced: AtomicBool::new(false),
        }
    }

    /// `Err` once the file at the path is not the one open (deleted, moved, replaced); it stays
    /// so, since what was acknowledged went into a file nobody will open again.
    pub(crate) fn check_identity(&self) -> Result<(), StoreError> {
        if self.replaced.load(Ordering::Relaxed) {
            return Err(self.replaced_error());
        }
        let Some(opened) = self.opened else {
            return Ok(());
        };
        match identity(&self.path) {
            Ok(now) if now == opened => Ok(()),
            // Any other answer (gone, another inode, unreadable) means the open file can no
            // longer be found by the next start.
            _ => {
                if !self.replaced.swap(true, Ordering::Relaxed) {
                    tracing::error!(path = %self.path.display(), "the database file was deleted or replaced while malipo ran; refusing every write from now on (restore it and restart)");
                }
                Err(self.replaced_error())
            }
        }
    }

    fn replaced_error(&self) -> StoreError {
        StoreError::Replaced {
            path: self.path.clone(),
        }
    }

    /// Records how the last group commit went; logs when writes start or stop failing.
    pub(crate) fn record_commit(&self, ok: bool) {
        let was_failing = self.failing.swap(!ok, Ordering::Relaxed);
        match (was_failing, ok) {
            (false, false) => {
                tracing::error!(path = %self.path.display(), "database writes are failing: not ready until one succeeds")
            }
            (true, true) => {
                tracing::info!(path = %self.path.display(), "database writes succeed again: ready")
            }
            _ => {}
        }
    }

    /// Whether the last group commit failed.
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_or_replaced_file_is_noticed_and_stays_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, b"x").unwrap();
        // Held open as SQLite holds the database, so its inode cannot be reused.
        let _open = std::fs::File::open(&path).unwrap();
        let health = Health::new(&path);
        assert!(health.check_identity().is_ok());
        // Replaced by another file at the same path.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(dir.path().join("other"), b"y").unwrap();
        std::fs::rename(dir.path().join("other"), &path).unwrap();
        assert!(matches!(
            health.check_identity(),
            Err(StoreError::Replaced { .. })
        ));
        assert!(health.check_identity().is_err(), "it stays noticed");
    }

    #[test]
    fn commit_failures_flip_the_state_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let health = Health::new(&dir.path().join("db"));
        assert!(!health.is_failing());
        health.record_commit(false);
        assert!(health.is_failing());
        health.record_commit(true);
        assert!(!health.is_failing());
    }
}
