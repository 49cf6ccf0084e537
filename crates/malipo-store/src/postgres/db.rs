//! One handle over a pooled connection or an open transaction, so every role's queries are
//! written once and run either way.
//!
//! deadpool-postgres's own `GenericClient` trait uses `async fn` without a `Send` bound, so
//! code generic over it cannot be called from the port's `Send` futures; this enum over the two
//! concrete types keeps every future `Send` and still uses the pool's prepared-statement cache.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Client, Transaction};
use tokio::sync::OnceCell;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use crate::error::Context;
use crate::{EndpointRecord, StoreError};

/// The channel a committed job queue change is announced on (`LISTEN malipo_jobs`).
pub const JOBS_CHANNEL: &str = "malipo_jobs";
/// The channel a committed delivery queue change is announced on.
pub const DELIVERIES_CHANNEL: &str = "malipo_deliveries";

/// Parameters of a statement.
pub(crate) type Params<'p> = [&'p (dyn ToSql + Sync)];

enum Conn<'a> {
    Client(&'a Client),
    Tx(&'a Transaction<'a>),
}

/// What a transaction queued, to `NOTIFY` listeners just before it commits (PostgreSQL
/// delivers a notification only if, and when, its transaction commits).
#[derive(Debug, Default)]
pub(crate) struct Wake {
    jobs: AtomicBool,
    deliveries: AtomicBool,
}

impl Wake {
    /// Notes that a job became due.
    pub(crate) fn job(&self) {
        self.jobs.store(true, Ordering::Relaxed);
    }

    /// Notes that a delivery became due.
    pub(crate) fn delivery(&self) {
        self.deliveries.store(true, Ordering::Relaxed);
    }

    /// Queues the notifications in `tx` (sent at its commit).
    pub(crate) async fn notify(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        const OP: &str = "announcing queued work";
        let jobs = self.jobs.load(Ordering::Relaxed);
        let deliveries = self.deliveries.load(Ordering::Relaxed);
        match Self::sql(jobs, deliveries) {
            Some(sql) => tx.batch_execute(sql).await.during(OP),
            None => Ok(()),
        }
    }

    /// The `NOTIFY` statements for what was queued, if anything.
    fn sql(jobs: bool, deliveries: bool) -> Option<&'static str> {
        match (jobs, deliveries) {
            (false, false) => None,
            (true, false) => Some("NOTIFY malipo_jobs"),
            (false, true) => Some("NOTIFY malipo_deliveries"),
            (true, true) => Some("NOTIFY malipo_jobs; NOTIFY malipo_deliveries"),
        }
    }

    /// Adds what this noted to `into`; returns whether it noted anything.
    pub(crate) fn take_into(&self, into: &Wake) -> bool {
        let jobs = self.jobs.load(Ordering::Relaxed);
        let deliveries = self.deliveries.load(Ordering::Relaxed);
        if jobs {
            into.job();
        }
        if deliveries {
            into.delivery();
        }
        jobs || deliveries
    }

    /// Takes what was noted, as the `NOTIFY` statements to send, leaving nothing noted.
    pub(crate) fn take_sql(&self) -> Option<&'static str> {
        let jobs = self.jobs.swap(false, Ordering::AcqRel);
        let deliveries = self.deliveries.swap(false, Ordering::AcqRel);
        Self::sql(jobs, deliveries)
    }

    /// Whether anything was queued.
    pub(crate) fn any(&self) -> bool {
        self.jobs.load(Ordering::Relaxed) || self.deliveries.load(Ordering::Relaxed)
    }
}

/// A connection (reads, single statements) or a transaction (everything that writes more than
/// one row), and the [`Wake`] its writes report to.
pub(crate) struct Db<'a> {
    conn: Conn<'a>,
    wake: &'a Wake,
    endpoints: Option<&'a OnceCell<Vec<EndpointRecord>>>,
}

/// Reads never queue work; they report to this one, which nobody looks at.
static READS: Wake = Wake {
    jobs: AtomicBool::new(false),
    deliveries: AtomicBool::new(false),
};

impl<'a> Db<'a> {
    /// Statements on a pooled connection, each its own transaction.
    pub(crate) fn read(client: &'a Client) -> Self {
        Db {
            conn: Conn::Client(client),
            wake: &READS,
            endpoints: None,
        }
    }

    /// Statements on a pooled connection, each its own transaction, whose queued work is noted
    /// in `wake`: for writes that one statement does whole.
    pub(crate) fn auto(client: &'a Client, wake: &'a Wake) -> Self {
        Db {
            conn: Conn::Client(client),
            wake,
            endpoints: None,
        }
    }

    /// Statements inside `tx`, whose queued work is noted in `wake`.
    pub(crate) fn tx(tx: &'a Transaction<'a>, wake: &'a Wake) -> Self {
        Db {
            conn: Conn::Tx(tx),
            wake,
            endpoints: None,
        }
    }

    /// The same, reading the enabled endpoints at most once into `cache`: for a batch of jobs,
    /// whose every payment change would otherwise read them again (they are read in the
    /// transaction, so the batch sees one set, as if it ran at that moment).
    pub(crate) fn with_endpoints(self, cache: &'a OnceCell<Vec<EndpointRecord>>) -> Self {
        Db {
            endpoints: Some(cache),
            ..self
        }
    }

    /// The cache of enabled endpoints this handle was given, if any.
    pub(crate) fn endpoints_cache(&self) -> Option<&'a OnceCell<Vec<EndpointRecord>>> {
        self.endpoints
    }

    /// Where queued work is noted.
    pub(crate) fn wake(&self) -> &Wake {
        self.wake
    }

    async fn prepare(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        match self.conn {
            Conn::Client(c) => c.prepare_cached(sql).await,
            Conn::Tx(t) => t.prepare_cached(sql).await,
        }
    }

    /// Every row of `sql`, with the driver's error (for callers that look at it).
    pub(crate) async fn query_raw(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let stmt = self.prepare(sql).await?;
        match self.conn {
            Conn::Client(c) => c.query(&stmt, params).await,
            Conn::Tx(t) => t.query(&stmt, params).await,
        }
    }

    /// Every row of `sql`.
    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
        op: &'static str,
    ) -> Result<Vec<Row>, StoreError> {
        self.query_raw(sql, params).await.during(op)
    }

    /// The first row of `sql`, if any.
    pub(crate) async fn opt(
        &self,
        sql: &str,
        params: &Params<'_>,
        op: &'static str,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params, op).await?.into_iter().next())
    }

    /// The one row `sql` returns.
    pub(crate) async fn one(
        &self,
        sql: &str,
        params: &Params<'_>,
        op: &'static str,
    ) -> Result<Row, StoreError> {
        self.opt(sql, params, op)
            .await?
            .ok_or_else(|| StoreError::Database {
                op,
                source: crate::error::Reason::cause("the statement returned no row"),
            })
    }

    /// Runs `sql`; returns how many rows it changed, with the driver's error.
    pub(crate) async fn execute_raw(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<u64, tokio_postgres::Error> {
        let stmt = self.prepare(sql).await?;
        match self.conn {
            Conn::Client(c) => c.execute(&stmt, params).await,
            Conn::Tx(t) => t.execute(&stmt, params).await,
        }
    }

    /// Runs `sql`; returns how many rows it changed.
    pub(crate) async fn execute(
        &self,
        sql: &str,
        params: &Params<'_>,
        op: &'static str,
    ) -> Result<u64, StoreError> {
        self.execute_raw(sql, params).await.during(op)
    }
}
