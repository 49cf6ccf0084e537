//! The PostgreSQL adapter, for several malipo instances sharing one database.
//!
//! # Why tokio-postgres and deadpool-postgres
//!
//! tokio-postgres is the async-native driver underneath most of the Rust PostgreSQL ecosystem:
//! no blocking thread per query, pipelining, `LISTEN`/`NOTIFY`, and nothing else. sqlx would
//! bring compile-time query checking against a live database (or a checked-in cache of it), a
//! second SQLite driver beside rusqlite and a much larger build for what this adapter needs, a
//! few dozen hand-written statements. deadpool-postgres adds the small pool on top: a closed
//! connection is replaced at checkout, one idle for a second or more is verified with a round
//! trip first (so a restarted server, or a connection a NAT forgot, costs the requests in
//! flight, not the pool), wait and connect timeouts, and a per-connection prepared-statement
//! cache.
//!
//! # How it keeps the port's guarantees with several instances
//!
//! - **Ingest**: a batch's events and their jobs are one statement, its own transaction; the
//!   `(provider, dedup_key)` unique index with `ON CONFLICT DO NOTHING` makes racing ingests of
//!   one key, from any number of connections or instances, store one event and answer the rest
//!   [`Ingested::Duplicate`](crate::Ingested::Duplicate). Ingests are group-committed (see
//!   `group.rs`).
//! - **Jobs and deliveries** are claimed with `FOR UPDATE SKIP LOCKED` and leased by moving
//!   their due time to the lease's end, so an instance that dies mid-job loses nothing: its
//!   jobs come due again and another instance claims them.
//! - **Payment changes** lock the payment row and compare-and-set its state; refunds lock the
//!   parent and check what is left in the same transaction. A job's completion (payment change,
//!   event status, delivery rows) is one transaction, each job of a batch all-or-nothing under
//!   its own savepoint when one fails.
//! - **Wake-ups**: a transaction that queues work sends `NOTIFY malipo_jobs` /
//!   `malipo_deliveries`, delivered at its commit, except the group commit of ingests, whose
//!   notifier sends it just after (see `notifier.rs`); [`PostgresStore::listen_for_work`] turns
//!   them into `tokio::sync::Notify` wake-ups.
//! - **Failures**: a server that cannot be reached is [`StoreError::Unavailable`] (503); the
//!   pool replaces broken connections by itself and reads are retried once.
//! - **Durability**: a write is answered after its `COMMIT` returned, so it survives what the
//!   server's own settings make a commit survive (`synchronous_commit`, replication); the
//!   adapter does not weaken them.

mod connect;
mod copy;
mod db;
mod deliveries;
mod endpoints;
mod errors;
mod events;
mod group;
mod idempotency;
mod inbox;
mod jobs;
mod keys;
mod leases;
mod listen;
mod migrate;
mod notifier;
mod options;
mod outbox;
mod payments;
mod pooler;
mod records;
mod rows;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use malipo_core::{DeliveryId, EventId, JobId, PaymentId, PaymentState, Provider, Secret};
use tokio::sync::{mpsc, oneshot, Notify};

pub use connect::redact as redact_url;
pub use copy::{copy_sqlite_to_postgres, CopyProgress, CopyReport, TableCopy};
pub use db::{DELIVERIES_CHANNEL, JOBS_CHANNEL};
pub use listen::WorkListener;
pub use migrate::POSTGRES_SCHEMA_VERSION;
pub use options::PostgresOptions;

use self::db::{Db, Wake};
use self::errors::from_pool;
use crate::convert::{duration_ms, now_ms, to_ms};
use crate::error::Context;
use crate::port::{DeliveryStore, EventStore, KeyStore, OpsStore, PaymentStore, RecordStore, Replayed};
use crate::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EventFilter, EventRecord, EventSummary, Ingested, Job,
    JobCompletion, JobOutcome, MigrationInfo, MigrationReport, NewDelivery, NewEvent, NewPayment,
    PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, StoreError, StoreStats, TransitionDetail,
    WriterStats,
};
use crate::{EndpointId, EndpointRecord, NewEndpoint};

/// The PostgreSQL adapter of [`Store`](crate::Store) (every role), for several instances
/// sharing one database. Cheap to clone (clones share the pool and the group commit).
///
/// Its `Debug` output and its errors name the database as `postgres://user@host:port/db`,
/// never with the password.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    target: connect::Target,
    ingest: Mutex<Option<mpsc::Sender<group::Request>>>,
    writers: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    counters: Arc<group::Counters>,
    closed: AtomicBool,
    events_total: stats::EventTotal,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.inner.target.described)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`, with
    /// `?sslmode=require` or `verify-full` for TLS and `sslrootcert=FILE` for a private CA),
    /// applies pending migrations unless `options.migrate` is off, and starts the group commit.
    ///
    /// A server that does not answer within `options.connect_timeout` is
    /// [`StoreError::Unavailable`]; a malformed URL is [`StoreError::Invalid`] (its password
    /// redacted). Call it from within a Tokio runtime.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let target = connect::target(url, &options)?;
        {
            let mut client = pooler::connect_keeping_sessions(&target).await?;
            if options.migrate {
                migrate::run(&mut client).await?;
            } else {
                migrate::check_current(&client).await?;
            }
        }
        let pool = connect::pool(&target, &options)?;
        let counters = Arc::new(group::Counters::default());
        let (sender, writers) = group::start(
            pool.clone(),
            options.ingest_writers,
            options.batch_max,
            options.queue_capacity,
            Arc::clone(&counters),
        );
        tracing::info!(database = %target.described, "connected to PostgreSQL");
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                target,
                ingest: Mutex::new(Some(sender)),
                writers: tokio::sync::Mutex::new(writers),
                counters,
                closed: AtomicBool::new(false),
                events_total: stats::EventTotal::default(),
            }),
        })
    }

    /// Applies pending migrations to the database at `url` and says which ran; safe to run any
    /// number of times and from several processes at once (they take turns on an advisory lock).
    pub async fn migrate(url: &str) -> Result<MigrationReport, StoreError> {
        let target = connect::target(url, &PostgresOptions::default())?;
        let mut client = pooler::connect_keeping_sessions(&target).await?;
        migrate::run(&mut client).await
    }

    /// The migrations this build knows, in order (the same versions as the SQLite schema's).
    pub fn migrations() -> Vec<MigrationInfo> {
        migrate::known().collect()
    }

    /// The schema version recorded in the database (compare with [`POSTGRES_SCHEMA_VERSION`]).
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        let client = self.client().await?;
        migrate::version(&client).await
    }

    /// The schema version recorded in the database at `url`, read without migrating or
    /// refusing an old schema (0 for an empty database): what `check-config` compares with
    /// [`POSTGRES_SCHEMA_VERSION`] before anything is started.
    pub async fn schema_version_at(url: &str) -> Result<u32, StoreError> {
        let target = connect::target(url, &PostgresOptions::default())?;
        let client = pooler::connect_keeping_sessions(&target).await?;
        migrate::version(&client).await
    }

    /// The database, as `postgres://user@host:port/db` (never with the password).
    pub fn database(&self) -> &str {
        &self.inner.target.described
    }

    /// How many group commits of ingests ran and how many ingests they carried.
    pub fn ingest_stats(&self) -> WriterStats {
        self.inner.counters.stats()
    }

    /// Starts listening for work queued by any instance: `jobs` is woken (`notify_one`) when a
    /// processing job is queued, `deliveries` when a delivery is due, each right after the
    /// queueing transaction commits. Listening stops when the returned handle is dropped.
    ///
    /// The port has no wake-up hook, so this is the adapter's own: give it the gateway's worker
    /// wake-up to have webhooks ingested by one instance processed by whichever worker is idle.
    /// It spawns its task on the current Tokio runtime, so call it from within one.
    pub fn listen_for_work(&self, jobs: Arc<Notify>, deliveries: Arc<Notify>) -> WorkListener {
        WorkListener::start(self.inner.target.clone(), jobs, deliveries)
    }

    /// A pooled connection; the pool verifies it first and replaces a broken one.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.inner.pool.get().await.map_err(from_pool)
    }

    /// A connection for a write: refused once the store is closed.
    async fn writer(&self) -> Result<deadpool_postgres::Client, StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        self.client().await
    }
}

/// Commits `tx` after queueing its wake-ups when `result` is `Ok`, rolls it back otherwise.
async fn finish<T>(
    tx: deadpool_postgres::Transaction<'_>,
    wake: &Wake,
    result: Result<T, StoreError>,
    op: &'static str,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            if wake.any() {
                wake.notify(&tx).await?;
            }
            tx.commit().await.during(op)?;
            Ok(value)
        }
        Err(e) => {
            // A broken connection cannot roll back; the server already did.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Runs `$body` (with `$db`, a [`Db`] inside a transaction, and `$now`) in a transaction of a
/// pooled connection and commits it. A connection that breaks before the transaction began is
/// retried once on another, since nothing was sent yet.
macro_rules! write_tx {
    ($self:ident, $op:expr, |$db:ident, $now:ident| $body:expr) => {{
        let mut retried = false;
        loop {
            let mut client = $self.writer().await?;
            let tx = match client.transaction().await.during($op) {
                Ok(tx) => tx,
                Err(StoreError::Unavailable(_)) if !retried => {
                    retried = true;
                    continue;
                }
                Err(e) => break Err(e),
            };
            let wake = Wake::default();
            let $now = now_ms();
            let result = {
                let $db = Db::tx(&tx, &wake);
                $body.await
            };
            break finish(tx, &wake, result, $op).await;
        }
    }};
}

/// Runs `$body` (with `$db`, a [`Db`] on a pooled connection) and retries it once on another
/// connection if the server was unreachable: a read changes nothing, so it is safe to repeat.
macro_rules! read {
    ($self:ident, |$db:ident| $body:expr) => {{
        let mut retried = false;
        loop {
            let result = match $self.client().await {
                Ok(client) => {
                    let $db = Db::read(&client);
                    $body.await
                }
                Err(e) => Err(e),
            };
            match result {
                Err(StoreError::Unavailable(_)) if !retried => retried = true,
                other => break other,
            }
        }
    }};
}

/// Runs `$body` (with `$db` on a pooled connection, outside a transaction): a single statement
/// that is all-or-nothing by itself, for writes that need no more.
macro_rules! write_one {
    ($self:ident, |$db:ident, $now:ident| $body:expr) => {{
        let client = $self.writer().await?;
        let $db = Db::read(&client);
        let $now = now_ms();
        $body.await
    }};
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn ingest(&self, event: NewEvent) -> Result<Ingested, StoreError> {
        // Refused before queueing so a bad request never takes a place in a batch.
        inbox::check(&event)?;
        let sender = self
            .inner
            .ingest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(group::Request { event, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer
            .await
            .map_err(|_| StoreError::Task("the group commit stopped before answering this ingest".into()))?
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        read!(self, |db| events::get(&db, id))
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        read!(self, |db| events::list(&db, filter))
    }

    async fn replay(&self, id: EventId) -> Result<Replayed, StoreError> {
        write_tx!(self, "replaying an event", |db, now| inbox::replay(&db, id, now))
    }

    async fn claim_jobs(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Job>, StoreError> {
        // One statement claims (and commits the lease of) the jobs; reading their events after
        // it needs no transaction: a leased job's event does not change under it.
        write_one!(self, |db, now| jobs::claim(
            &db,
            worker,
            limit,
            duration_ms(lease),
            now
        ))
    }

    async fn complete_job(&self, job: JobId, outcome: JobOutcome) -> Result<JobCompletion, StoreError> {
        let job = (job, outcome);
        write_tx!(self, "completing a job", |db, now| jobs::complete(&db, &job, now))
    }

    async fn complete_jobs(
        &self,
        jobs: Vec<(JobId, JobOutcome)>,
    ) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut client = self.writer().await?;
        jobs::complete_each(&mut client, &jobs, now_ms()).await
    }

    async fn fail_job(
        &self,
        job: JobId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        write_tx!(self, "recording a failed job", |db, now| jobs::fail(
            &db,
            job,
            error,
            retry_at.map(to_ms),
            now
        ))
    }
}

#[async_trait]
impl PaymentStore for PostgresStore {
    async fn insert_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        write_tx!(self, "recording a payment", |db, now| payments::insert(
            &db, &payment, now
        ))
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        read!(self, |db| payments::get(&db, id))
    }

    async fn find_payment_by_provider_ref(
        &self,
        provider: Provider,
        reference: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        read!(self, |db| payments::find_by_provider_ref(
            &db, provider, reference
        ))
    }

    async fn find_payments(&self, keys: &[PaymentKey]) -> Result<Vec<Option<PaymentRecord>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        read!(self, |db| async {
            let mut found = Vec::with_capacity(keys.len());
            for key in keys {
                found.push(payments::find(&db, key).await?);
            }
            Ok(found)
        })
    }

    async fn set_payment_provider_ref(
        &self,
        id: PaymentId,
        reference: &str,
    ) -> Result<PaymentRecord, StoreError> {
        write_tx!(self, "setting a payment's provider reference", |db, now| {
            payments::set_provider_ref(&db, id, reference, now)
        })
    }

    async fn transition_payment(
        &self,
        id: PaymentId,
        to: PaymentState,
        detail: TransitionDetail,
    ) -> Result<PaymentTransition, StoreError> {
        write_tx!(
            self,
            "changing a payment's state",
            |db, now| payments::transition(&db, id, to, &detail, now)
        )
    }

    async fn list_payments(&self, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
        read!(self, |db| payments::list(&db, filter))
    }

    async fn pending_payments_older_than(
        &self,
        age: Duration,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let cutoff = now_ms().saturating_sub(duration_ms(age));
        read!(self, |db| payments::pending_before(&db, cutoff, limit))
    }

    async fn due_payment_checks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        read!(self, |db| payments::due_checks(&db, to_ms(now), limit))
    }

    async fn record_payment_check(
        &self,
        id: PaymentId,
        check: crate::PaymentCheck,
    ) -> Result<PaymentRecord, StoreError> {
        write_tx!(self, "recording a payment check", |db, now| {
            payments::record_check(&db, id, &check, now)
        })
    }

    async fn child_payments(&self, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
        read!(self, |db| payments::children(&db, parent))
    }

    async fn insert_child_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        write_tx!(self, "recording a refund", |db, now| payments::insert_child(
            &db, &payment, now
        ))
    }

    async fn set_payment_references(
        &self,
        id: PaymentId,
        reference: &str,
        request_id: &str,
    ) -> Result<PaymentRecord, StoreError> {
        write_tx!(self, "setting a payment's provider ids", |db, now| {
            payments::set_references(&db, id, reference, request_id, now)
        })
    }
}

#[async_trait]
impl DeliveryStore for PostgresStore {
    async fn enqueue_delivery(&self, delivery: NewDelivery) -> Result<DeliveryId, StoreError> {
        write_tx!(self, "queueing a delivery", |db, now| deliveries::enqueue(
            &db, &delivery, now
        ))
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        write_one!(self, |db, now| deliveries::claim(
            &db,
            worker,
            limit,
            duration_ms(lease),
            now
        ))
    }

    async fn complete_delivery(&self, id: DeliveryId, http_status: u16) -> Result<(), StoreError> {
        write_one!(self, |db, now| deliveries::complete(&db, id, http_status, now))
    }

    async fn fail_delivery(
        &self,
        id: DeliveryId,
        http_status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<DeliveryStatus, StoreError> {
        write_one!(self, |db, now| deliveries::fail(
            &db,
            id,
            http_status,
            error,
            next_attempt_at.map(to_ms),
            now
        ))
    }

    async fn redeliver(&self, id: DeliveryId) -> Result<(), StoreError> {
        write_tx!(
            self,
            "queueing a delivery again",
            |db, now| deliveries::redeliver(&db, id, now)
        )
    }

    async fn get_delivery(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
        read!(self, |db| deliveries::get(&db, id))
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        read!(self, |db| deliveries::list(&db, filter))
    }

    async fn upsert_endpoint(
        &self,
        endpoint: NewEndpoint,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        endpoints::check(&endpoint)?;
        write_tx!(self, "saving an endpoint", |db, now| endpoints::upsert(
            &db,
            &endpoint,
            duration_ms(overlap),
            now
        ))
    }

    async fn get_endpoint(&self, id_or_name: &str) -> Result<Option<EndpointRecord>, StoreError> {
        read!(self, |db| endpoints::get(&db, id_or_name))
    }

    async fn list_endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        read!(self, |db| endpoints::list(&db))
    }

    async fn set_endpoint_enabled(
        &self,
        id_or_name: &str,
        enabled: bool,
    ) -> Result<EndpointRecord, StoreError> {
        write_tx!(self, "enabling or disabling an endpoint", |db, now| {
            endpoints::set_enabled(&db, id_or_name, enabled, now)
        })
    }

    async fn rotate_endpoint_secret(
        &self,
        id_or_name: &str,
        secret: Secret<String>,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        endpoints::check_secret(&secret)?;
        write_tx!(
            self,
            "rotating an endpoint's secret",
            |db, now| endpoints::rotate(&db, id_or_name, &secret, duration_ms(overlap), now)
        )
    }

    async fn claim_endpoint_deliveries(
        &self,
        endpoint: EndpointId,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        write_one!(self, |db, now| deliveries::claim_for_endpoint(
            &db,
            endpoint,
            worker,
            limit,
            duration_ms(lease),
            now
        ))
    }
}

#[async_trait]
impl RecordStore for PostgresStore {
    async fn upsert_records(&self, records: Vec<crate::NewRecord>) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        let pieces = records::without_repeats(records);
        if pieces.len() == 1 {
            // One statement is all-or-nothing by itself: no `BEGIN` and `COMMIT` round trips
            // (a worker's batch merges its copies, so this is its every batch).
            return write_one!(self, |db, now| records::upsert(&db, pieces, now));
        }
        write_tx!(self, "keeping records", |db, now| records::upsert(
            &db,
            pieces.clone(),
            now
        ))
    }

    async fn save_sync_page(
        &self,
        page: Vec<crate::NewRecord>,
        checkpoint: crate::SyncCheckpoint,
    ) -> Result<u64, StoreError> {
        write_tx!(self, "saving a sync page", |db, now| async {
            let merged = records::upsert(&db, records::without_repeats(page.clone()), now).await?;
            records::save_checkpoint(&db, &checkpoint, now).await?;
            Ok(merged)
        })
    }

    async fn get_record(
        &self,
        provider: Provider,
        kind: &str,
        account: &malipo_core::AccountName,
        id: &str,
    ) -> Result<Option<crate::RecordEntry>, StoreError> {
        read!(self, |db| records::get(&db, provider, kind, account, id))
    }

    async fn list_records(
        &self,
        filter: &crate::RecordFilter,
    ) -> Result<Vec<crate::RecordEntry>, StoreError> {
        read!(self, |db| records::list(&db, filter))
    }

    async fn count_records(
        &self,
        provider: Provider,
        kind: &str,
        account: Option<&malipo_core::AccountName>,
    ) -> Result<u64, StoreError> {
        read!(self, |db| records::count(&db, provider, kind, account))
    }

    async fn sync_checkpoint(
        &self,
        provider: Provider,
        account: &malipo_core::AccountName,
        kind: &str,
    ) -> Result<Option<crate::SyncCheckpoint>, StoreError> {
        read!(self, |db| records::checkpoint(&db, provider, account, kind))
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_api_key(&self, key: crate::NewApiKey) -> Result<crate::ApiKeyRecord, StoreError> {
        write_one!(self, |db, now| keys::insert(&db, &key, now))
    }

    async fn find_api_key_by_hash(
        &self,
        hash: &[u8; crate::KEY_HASH_LEN],
    ) -> Result<Option<crate::ApiKeyRecord>, StoreError> {
        read!(self, |db| keys::find_by_hash(&db, hash))
    }

    async fn list_api_keys(&self) -> Result<Vec<crate::ApiKeyRecord>, StoreError> {
        read!(self, |db| keys::list(&db))
    }

    async fn revoke_api_key(&self, id: malipo_core::kinds::KeyId) -> Result<crate::ApiKeyRecord, StoreError> {
        write_one!(self, |db, now| keys::revoke(&db, id, now))
    }

    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &[u8; crate::REQUEST_HASH_LEN],
    ) -> Result<crate::IdempotencyClaim, StoreError> {
        // Outside a transaction on purpose: each statement sees what others committed, so the
        // read after a lost insert finds the winner.
        write_one!(self, |db, now| idempotency::claim(
            &db,
            scope,
            key,
            request_hash,
            now
        ))
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: crate::StoredResponse,
    ) -> Result<(), StoreError> {
        write_one!(self, |db, now| idempotency::complete(
            &db, scope, key, &response, now
        ))
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        write_one!(self, |db, _now| idempotency::release(&db, scope, key))
    }

    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<crate::IdempotencyRecord>, StoreError> {
        read!(self, |db| idempotency::get(&db, scope, key))
    }

    async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = to_ms(before);
        write_one!(self, |db, _now| idempotency::prune(&db, cutoff))
    }
}

#[async_trait]
impl OpsStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        read!(self, |db| async {
            db.one("SELECT 1", &[], "checking the database answers").await?;
            Ok(())
        })?;
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let now = now_ms();
        // As `read!`, once more on another connection if the server was out of reach.
        let mut retried = false;
        loop {
            let result = match self.client().await {
                Ok(mut client) => stats::read(&mut client, &self.inner.events_total, now).await,
                Err(e) => Err(e),
            };
            match result {
                Err(StoreError::Unavailable(_)) if !retried => retried = true,
                other => break other,
            }
        }
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.closed.store(true, Ordering::Release);
        // Dropping the last sender lets the group commit drain what is queued and stop.
        drop(self.inner.ingest.lock().unwrap_or_else(|p| p.into_inner()).take());
        let writers = std::mem::take(&mut *self.inner.writers.lock().await);
        for writer in writers {
            writer
                .await
                .map_err(|e| StoreError::Task(format!("the group commit did not finish: {e}")))?;
        }
        Ok(())
    }

    async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        read!(self, |db| leases::owners(&db, now))
    }

    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        write_tx!(self, "releasing leases", |db, now| leases::release(
            &db, owner, now
        ))
    }
}
