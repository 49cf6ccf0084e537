//! WAL checkpoints on their own thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, on the
//! writer thread: copying the WAL into the database file and fsyncing it stalls every caller
//! of that batch. Here the writer only signals after each commit and this thread copies frames
//! with PASSIVE checkpoints, which never block the writer. Under a write load that never
//! pauses a PASSIVE checkpoint may never catch up completely, and SQLite restarts the WAL
//! only after one has; past `SqliteOptions::wal_limit_bytes` this thread therefore runs a
//! RESTART checkpoint, which waits for the current batch and makes the next one write the WAL
//! from its start again, so the file stays bounded.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Duration;

use rusqlite::Connection;

use super::connection::open_writer;
use super::options::SqliteOptions;
use crate::StoreError;

/// The least time between two checkpoints, so a steady trickle of commits does not turn into
/// an fsync of the database file per commit.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// The writer's side: a coalescing doorbell.
pub(crate) struct Doorbell(SyncSender<()>);

impl Doorbell {
    /// Says a commit happened; never blocks.
    pub(crate) fn ring(&self) {
        match self.0.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// Starts the checkpoint thread; `None` (with a warning) if it cannot, in which case the
/// caller keeps SQLite's automatic checkpoints.
pub(crate) fn start(path: &Path, options: &SqliteOptions) -> Option<Doorbell> {
    let conn = match open_writer(path, options) {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "no checkpoint thread; checkpoints run inside commits");
            return None;
        }
    };
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    let limit_frames = i64::try_from(options.wal_limit_bytes).unwrap_or(i64::MAX) / page_size.max(512);
    let (ring, doorbell) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("malipo-sqlite-checkpoint".into())
        .spawn(move || run(&conn, &doorbell, limit_frames));
    match spawned {
        Ok(_) => Some(Doorbell(ring)),
        Err(e) => {
            tracing::warn!(error = %e, "no checkpoint thread; checkpoints run inside commits");
            None
        }
    }
}

fn run(conn: &Connection, doorbell: &Receiver<()>, limit_frames: i64) {
    // Ends when the writer thread, holding the doorbell, stops.
    while doorbell.recv().is_ok() {
        match checkpoint(conn, "PASSIVE") {
            Ok(frames) if frames > limit_frames => {
                let started = std::time::Instant::now();
                if let Err(e) = checkpoint(conn, "RESTART") {
                    tracing::warn!(error = %e, "WAL restart checkpoint failed");
                }
                tracing::debug!(frames, elapsed = ?started.elapsed(), "WAL restarted");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        std::thread::sleep(MIN_INTERVAL);
    }
}

/// Runs a checkpoint; returns the WAL's size in frames.
fn checkpoint(conn: &Connection, mode: &str) -> Result<i64, StoreError> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get(1))
        .map_err(|e| StoreError::database("checkpointing the WAL", e))
}
