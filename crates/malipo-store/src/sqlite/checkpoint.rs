//! WAL checkpoints on their own thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold, on the
//! writer thread: copying the WAL into the database file and fsyncing it stalls every caller
//! of that batch. Here the writer only rings a doorbell after each commit and this thread
//! copies frames with PASSIVE checkpoints, which never block the writer.
//!
//! Under a write load that never pauses, a PASSIVE checkpoint running beside the writer never
//! catches up completely, and SQLite rewinds the WAL only after one has: the file would grow
//! without bound. Past `SqliteOptions::wal_limit_bytes` this thread therefore asks the writer
//! to finish the job: between two batches the writer runs one PASSIVE checkpoint itself, which
//! with no write in flight copies the last frames (the thread already copied the rest), and
//! its next transaction writes the WAL from the start again. That pause is short and involves
//! no lock waits; a RESTART checkpoint from this thread would instead contend with the writer
//! for the write lock through SQLite's sleeping busy handler, stalling commits for hundreds of
//! milliseconds.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::connection::open_writer;
use super::options::SqliteOptions;
use crate::StoreError;

/// The least time between two checkpoints, so a steady trickle of commits does not turn into
/// an fsync of the database file per commit.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

struct Shared {
    /// Set by the thread when the WAL passed the limit; taken by the writer.
    wal_full: AtomicBool,
    /// Held while a checkpoint runs, so the writer's waits for the thread's instead of
    /// failing with SQLITE_BUSY.
    running: Mutex<()>,
}

/// The writer's side of the checkpoint thread.
pub(crate) struct Doorbell {
    ring: SyncSender<()>,
    shared: Arc<Shared>,
}

impl Doorbell {
    /// Says a commit happened; never blocks.
    pub(crate) fn ring(&self) {
        match self.ring.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }

    /// Called by the writer between batches: when the WAL is over its limit, copies the frames
    /// the thread could not reach, so the next transaction rewinds the WAL.
    pub(crate) fn catch_up(&self, conn: &Connection) {
        if !self.shared.wal_full.swap(false, Ordering::AcqRel) {
            return;
        }
        let started = Instant::now();
        let _running = self.shared.running.lock();
        match checkpoint(conn) {
            Ok(frames) => tracing::debug!(frames, elapsed = ?started.elapsed(), "WAL caught up"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint on the writer failed"),
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
    let shared = Arc::new(Shared {
        wal_full: AtomicBool::new(false),
        running: Mutex::new(()),
    });
    let (ring, doorbell) = std::sync::mpsc::sync_channel(1);
    let thread_shared = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("malipo-sqlite-checkpoint".into())
        .spawn(move || run(&conn, &doorbell, &thread_shared, limit_frames));
    match spawned {
        Ok(_) => Some(Doorbell { ring, shared }),
        Err(e) => {
            tracing::warn!(error = %e, "no checkpoint thread; checkpoints run inside commits");
            None
        }
    }
}

fn run(conn: &Connection, doorbell: &Receiver<()>, shared: &Shared, limit_frames: i64) {
    // Ends when the writer thread, holding the doorbell, stops.
    while doorbell.recv().is_ok() {
        let result = {
            let _running = shared.running.lock();
            checkpoint(conn)
        };
        match result {
            Ok(frames) if frames > limit_frames => shared.wal_full.store(true, Ordering::Release),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        std::thread::sleep(MIN_INTERVAL);
    }
}

/// Runs a PASSIVE checkpoint; returns the WAL's size in frames.
fn checkpoint(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .map_err(|e| StoreError::database("checkpointing the WAL", e))
}
