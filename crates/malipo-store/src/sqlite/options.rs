use std::time::Duration;

/// How much a commit survives before [`Store`](crate::Store) writes return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a committed transaction is in the WAL file in the
    /// operating system's cache before the caller is answered, so it survives the malipo
    /// process being killed (`kill -9`, OOM, panic) but not the machine losing power or the
    /// kernel crashing, which may lose the last commits (never corrupt the database). No fsync
    /// per commit; the WAL is synced at checkpoints. The default.
    #[default]
    ProcessCrash,
    /// `synchronous = FULL`: the WAL is fsynced at every commit before the caller is answered,
    /// so an acknowledged event survives power loss too. Group commit shares one fsync among
    /// every request in the batch.
    PowerLoss,
}

impl Durability {
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        }
    }
}

/// Settings of [`SqliteStore::open`](crate::SqliteStore::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What an acknowledged write survives.
    pub durability: Durability,
    /// The most write requests committed in one transaction (group commit).
    pub batch_max: usize,
    /// The most the writer waits for more requests before a commit, and only when its batch
    /// is much smaller than the previous one (callers it just answered are coming back); at a
    /// low request rate it never waits. Zero turns the wait off.
    pub commit_delay: Duration,
    /// Write requests waiting for the writer beyond this many make callers wait (back-pressure).
    pub queue_capacity: usize,
    /// Read-only connections for concurrent reads.
    pub readers: usize,
    /// How long a statement waits for a lock held by another process before failing.
    pub busy_timeout: Duration,
    /// The WAL size past which the writer pauses between two batches to finish a checkpoint so
    /// the WAL starts over. Under a load that never pauses, checkpoints beside the writer never
    /// catch up and the WAL would grow without bound; larger values make the pause rarer,
    /// smaller ones keep the file smaller.
    pub wal_limit_bytes: u64,
    /// Apply pending migrations when opening (on by default; `malipo migrate` runs them alone).
    pub migrate: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::default(),
            batch_max: 512,
            commit_delay: Duration::from_micros(100),
            queue_capacity: 8_192,
            readers: 4,
            busy_timeout: Duration::from_secs(5),
            wal_limit_bytes: 64 * 1024 * 1024,
            migrate: true,
        }
    }
}
