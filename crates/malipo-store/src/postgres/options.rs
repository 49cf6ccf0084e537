use std::time::Duration;

/// How [`PostgresStore::connect`](super::PostgresStore::connect) sets the adapter up.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections the pool opens (reads, writes and the group commit's batches share
    /// them; the LISTEN connection of [`PostgresStore::listen_for_work`](super::PostgresStore::listen_for_work)
    /// is extra).
    pub pool_size: usize,
    /// How long to wait for a connection: to open one, and for a free one when all are busy.
    /// Past it a request fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable).
    pub connect_timeout: Duration,
    /// Apply pending migrations at connect (under an advisory lock, so instances starting
    /// together migrate once); when off, a schema that is not current is refused.
    pub migrate: bool,
    /// Most ingests committed in one transaction by the group commit.
    pub batch_max: usize,
    /// Ingests queued before callers wait for room.
    pub queue_capacity: usize,
    /// Group-commit tasks: while one commits, the next gathers what arrived meanwhile.
    pub ingest_writers: usize,
    /// Longest a statement may run, waits for a lock included (PostgreSQL's
    /// `statement_timeout`, set for each pooled connection): past it the server cancels the
    /// statement and the request fails with [`StoreError::Unavailable`](crate::StoreError::Unavailable)
    /// instead of holding its caller, a connection and its locks for as long as a stuck server
    /// or a forgotten lock lasts. `None` keeps the server's setting (by default no limit); a
    /// `statement_timeout` in the URL's `options` parameter wins. Migrations run without it.
    pub statement_timeout: Option<Duration>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            migrate: true,
            batch_max: 256,
            queue_capacity: 4096,
            ingest_writers: 2,
            statement_timeout: Some(Duration::from_secs(30)),
        }
    }
}
