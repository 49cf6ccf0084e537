//! The embedded SQLite adapter.

mod checkpoint;
mod connection;
mod deliveries;
pub(crate) mod endpoints;
pub(crate) mod events;
mod health;
mod idempotency;
pub(crate) mod in_use;
mod inbox;
mod jobs;
mod keys;
mod leases;
mod migrate;
mod options;
pub(crate) mod outbox;
mod payments;
mod readers;
mod records;
pub(crate) mod rows;
mod stats;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{DeliveryId, EventId, JobId, PaymentId, PaymentState, Provider, Secret};

pub use options::{Durability, SqliteOptions};
pub use writer::WriterStats;

pub(crate) use crate::model::event::check as check_event;
pub(crate) use rows::{clip, MAX_PAGE};

use self::readers::Readers;
use self::rows::{duration_ms, now_ms, to_ms};
use self::writer::{Batching, Writer};
use crate::error::Context;
use crate::port::{DeliveryStore, EventStore, KeyStore, OpsStore, PaymentStore, RecordStore, Replayed};
use crate::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EventFilter, EventRecord, EventSummary, Ingested, Job,
    JobCompletion, JobOutcome, MigrationInfo, MigrationReport, NewDelivery, NewEvent, NewPayment,
    PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, StoreError, StoreStats, TransitionDetail,
};
use crate::{EndpointId, EndpointRecord, NewEndpoint};

/// The SQLite adapter of [`Store`](crate::Store) (every role): one file in WAL mode, one writer thread doing group commit,
/// a few read-only connections for reads. Cheap to clone (all clones share the same threads).
///
/// See the [crate documentation](crate) for the durability levels.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    durability: Durability,
    writer: Writer,
    readers: Arc<Readers>,
    health: Arc<health::Health>,
    event_total: Arc<stats::EventTotal>,
    /// Held while the store is open (see [`in_use`]).
    _in_use: Option<in_use::FileLock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("durability", &self.inner.durability)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies pending migrations unless
    /// `options.migrate` is off, and starts the writer thread.
    ///
    /// Blocking: call it at start-up (or inside `spawn_blocking`).
    pub fn open(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let mut conn = connection::open_writer(&path, &options)?;
        let in_use = in_use::shared(&path)?;
        if options.migrate {
            migrate::run(&mut conn).map_err(|e| not_writable_if_readonly(&path, e))?;
        } else {
            migrate::check_current(&conn)?;
        }
        // Checkpoints move to their own thread; without it SQLite's automatic ones stay on.
        let doorbell = checkpoint::start(&path, &options);
        if doorbell.is_some() {
            conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
                .during("turning automatic checkpoints off")?;
        }
        let batching = Batching {
            max: options.batch_max,
            capacity: options.queue_capacity,
            commit_delay: options.commit_delay,
        };
        let health = Arc::new(health::Health::new(&path));
        let writer = Writer::start(conn, batching, doorbell, health.clone())?;
        let readers = Arc::new(Readers::new(path.clone(), options.clone()));
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                durability: options.durability,
                writer,
                readers,
                health,
                event_total: Arc::default(),
                _in_use: in_use,
            }),
        })
    }

    /// Applies pending migrations to the database at `path` (creating it if needed) and says
    /// which ran; safe to run any number of times and from several processes at once.
    ///
    /// Blocking, like [`SqliteStore::open`].
    pub fn migrate(path: impl AsRef<Path>) -> Result<MigrationReport, StoreError> {
        let path = path.as_ref();
        let mut conn = connection::open_writer(path, &SqliteOptions::default())?;
        migrate::run(&mut conn).map_err(|e| not_writable_if_readonly(path, e))
    }

    /// The migrations this build knows, in order.
    pub fn migrations() -> Vec<MigrationInfo> {
        migrate::known().collect()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// How many group commits ran and how many write requests they carried.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// The durability level commits are made at.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.writer.write(move |conn| work(conn, now_ms())).await
    }

    /// A write that is all-or-nothing by itself (see [`Writer::write_all_or_nothing`]).
    async fn write_all_or_nothing<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection, i64) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner
            .writer
            .write_all_or_nothing(move |conn| work(conn, now_ms()))
            .await
    }

    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.inner.readers.read(work).await
    }
}

fn not_writable_if_readonly(path: &Path, e: StoreError) -> StoreError {
    match e {
        StoreError::Migration { source, .. }
            if source
                .downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code)
                == Some(rusqlite::ErrorCode::ReadOnly) =>
        {
            StoreError::NotWritable {
                path: path.to_owned(),
                source,
            }
        }
        other => other,
    }
}

/// Bytes the readiness probe writes: about a group commit of events, so a probe that fits where
/// events do not cannot call the store ready.
const PROBE_BYTES: usize = 256 * 1024;

#[async_trait]
impl EventStore for SqliteStore {
    async fn ingest(&self, event: NewEvent) -> Result<Ingested, StoreError> {
        // Refused before queueing so a bad request never takes a place in a batch.
        check_event(&event)?;
        self.write_all_or_nothing(move |conn, now| inbox::ingest(conn, &event, now))
            .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.read(move |conn| events::get(conn, id)).await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| events::list(conn, &filter)).await
    }

    async fn replay(&self, id: EventId) -> Result<Replayed, StoreError> {
        self.write(move |conn, now| inbox::replay(conn, id, now)).await
    }

    async fn claim_jobs(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Job>, StoreError> {
        let worker = worker.to_owned();
        self.write(move |conn, now| jobs::claim(conn, &worker, limit, duration_ms(lease), now))
            .await
    }

    async fn complete_job(&self, job: JobId, outcome: JobOutcome) -> Result<JobCompletion, StoreError> {
        self.write(move |conn, now| jobs::complete(conn, job, &outcome, now))
            .await
    }

    async fn complete_jobs(
        &self,
        jobs: Vec<(JobId, JobOutcome)>,
    ) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        // One write request: the whole batch shares a commit (and the group commit's batch).
        self.write(move |conn, now| jobs::complete_each(conn, &jobs, now))
            .await
    }

    async fn fail_job(
        &self,
        job: JobId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let error = error.to_owned();
        self.write(move |conn, now| jobs::fail(conn, job, &error, retry_at.map(to_ms), now))
            .await
    }
}

#[async_trait]
impl PaymentStore for SqliteStore {
    async fn insert_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.write(move |conn, now| payments::insert(conn, &payment, now))
            .await
    }

    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        self.read(move |conn| payments::get(conn, id)).await
    }

    async fn find_payment_by_provider_ref(
        &self,
        provider: Provider,
        reference: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let reference = reference.to_owned();
        self.read(move |conn| payments::find_by_provider_ref(conn, provider, &reference))
            .await
    }

    async fn find_payments(&self, keys: &[PaymentKey]) -> Result<Vec<Option<PaymentRecord>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        self.read(move |conn| {
            readers::in_one_snapshot(conn, |conn| {
                keys.iter().map(|key| payments::find(conn, key)).collect()
            })
        })
        .await
    }

    async fn set_payment_provider_ref(
        &self,
        id: PaymentId,
        reference: &str,
    ) -> Result<PaymentRecord, StoreError> {
        let reference = reference.to_owned();
        self.write(move |conn, now| payments::set_provider_ref(conn, id, &reference, now))
            .await
    }

    async fn transition_payment(
        &self,
        id: PaymentId,
        to: PaymentState,
        detail: TransitionDetail,
    ) -> Result<PaymentTransition, StoreError> {
        self.write(move |conn, now| payments::transition(conn, id, to, &detail, now))
            .await
    }

    async fn list_payments(&self, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| payments::list(conn, &filter)).await
    }

    async fn pending_payments_older_than(
        &self,
        age: Duration,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        let cutoff = now_ms().saturating_sub(duration_ms(age));
        self.read(move |conn| payments::pending_before(conn, cutoff, limit))
            .await
    }

    async fn due_payment_checks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.read(move |conn| payments::due_checks(conn, to_ms(now), limit))
            .await
    }

    async fn record_payment_check(
        &self,
        id: PaymentId,
        check: crate::PaymentCheck,
    ) -> Result<PaymentRecord, StoreError> {
        self.write(move |conn, now| payments::record_check(conn, id, &check, now))
            .await
    }

    async fn child_payments(&self, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
        self.read(move |conn| payments::children(conn, parent)).await
    }

    async fn insert_child_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.write(move |conn, now| payments::insert_child(conn, &payment, now))
            .await
    }

    async fn set_payment_references(
        &self,
        id: PaymentId,
        reference: &str,
        request_id: &str,
    ) -> Result<PaymentRecord, StoreError> {
        let (reference, request_id) = (reference.to_owned(), request_id.to_owned());
        self.write(move |conn, now| payments::set_references(conn, id, &reference, &request_id, now))
            .await
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn enqueue_delivery(&self, delivery: NewDelivery) -> Result<DeliveryId, StoreError> {
        self.write(move |conn, now| deliveries::enqueue(conn, &delivery, now))
            .await
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let worker = worker.to_owned();
        self.write(move |conn, now| deliveries::claim(conn, &worker, limit, duration_ms(lease), now))
            .await
    }

    async fn complete_delivery(&self, id: DeliveryId, http_status: u16) -> Result<(), StoreError> {
        self.write(move |conn, now| deliveries::complete(conn, id, http_status, now))
            .await
    }

    async fn fail_delivery(
        &self,
        id: DeliveryId,
        http_status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<DeliveryStatus, StoreError> {
        let error = error.to_owned();
        self.write(move |conn, now| {
            deliveries::fail(conn, id, http_status, &error, next_attempt_at.map(to_ms), now)
        })
        .await
    }

    async fn redeliver(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.write(move |conn, now| deliveries::redeliver(conn, id, now))
            .await
    }

    async fn get_delivery(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
        self.read(move |conn| deliveries::get(conn, id)).await
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| deliveries::list(conn, &filter)).await
    }

    async fn upsert_endpoint(
        &self,
        endpoint: NewEndpoint,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        endpoints::check(&endpoint)?;
        self.write(move |conn, now| endpoints::upsert(conn, &endpoint, duration_ms(overlap), now))
            .await
    }

    async fn get_endpoint(&self, id_or_name: &str) -> Result<Option<EndpointRecord>, StoreError> {
        let key = id_or_name.to_owned();
        self.read(move |conn| endpoints::get(conn, &key)).await
    }

    async fn list_endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        self.read(endpoints::list).await
    }

    async fn set_endpoint_enabled(
        &self,
        id_or_name: &str,
        enabled: bool,
    ) -> Result<EndpointRecord, StoreError> {
        let key = id_or_name.to_owned();
        self.write(move |conn, now| endpoints::set_enabled(conn, &key, enabled, now))
            .await
    }

    async fn rotate_endpoint_secret(
        &self,
        id_or_name: &str,
        secret: Secret<String>,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        endpoints::check_secret(&secret)?;
        let key = id_or_name.to_owned();
        self.write(move |conn, now| endpoints::rotate(conn, &key, &secret, duration_ms(overlap), now))
            .await
    }

    async fn claim_endpoint_deliveries(
        &self,
        endpoint: EndpointId,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let worker = worker.to_owned();
        self.write(move |conn, now| {
            deliveries::claim_for_endpoint(conn, endpoint, &worker, limit, duration_ms(lease), now)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(&self, key: crate::NewApiKey) -> Result<crate::ApiKeyRecord, StoreError> {
        self.write_all_or_nothing(move |conn, now| keys::insert(conn, &key, now))
            .await
    }

    async fn find_api_key_by_hash(
        &self,
        hash: &[u8; crate::KEY_HASH_LEN],
    ) -> Result<Option<crate::ApiKeyRecord>, StoreError> {
        let hash = *hash;
        self.read(move |conn| keys::find_by_hash(conn, &hash)).await
    }

    async fn list_api_keys(&self) -> Result<Vec<crate::ApiKeyRecord>, StoreError> {
        self.read(keys::list).await
    }

    async fn revoke_api_key(&self, id: malipo_core::kinds::KeyId) -> Result<crate::ApiKeyRecord, StoreError> {
        self.write(move |conn, now| keys::revoke(conn, id, now)).await
    }

    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &[u8; crate::REQUEST_HASH_LEN],
    ) -> Result<crate::IdempotencyClaim, StoreError> {
        let (scope, key, hash) = (scope.to_owned(), key.to_owned(), *request_hash);
        // Through the writer: its single thread makes the read-then-insert atomic.
        self.write(move |conn, now| idempotency::claim(conn, &scope, &key, &hash, now))
            .await
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: crate::StoredResponse,
    ) -> Result<(), StoreError> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write_all_or_nothing(move |conn, now| idempotency::complete(conn, &scope, &key, &response, now))
            .await
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.write_all_or_nothing(move |conn, _| idempotency::release(conn, &scope, &key))
            .await
    }

    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<crate::IdempotencyRecord>, StoreError> {
        let (scope, key) = (scope.to_owned(), key.to_owned());
        self.read(move |conn| idempotency::get(conn, &scope, &key)).await
    }

    async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff = to_ms(before);
        self.write_all_or_nothing(move |conn, _| idempotency::prune(conn, cutoff))
            .await
    }
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn upsert_records(&self, records: Vec<crate::NewRecord>) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        self.write_all_or_nothing(move |conn, now| records::upsert(conn, records, now))
            .await
    }

    async fn save_sync_page(
        &self,
        page: Vec<crate::NewRecord>,
        checkpoint: crate::SyncCheckpoint,
    ) -> Result<u64, StoreError> {
        self.write_all_or_nothing(move |conn, now| {
            let merged = records::upsert(conn, page, now)?;
            records::save_checkpoint(conn, &checkpoint, now)?;
            Ok(merged)
        })
        .await
    }

    async fn get_record(
        &self,
        provider: malipo_core::Provider,
        kind: &str,
        account: &malipo_core::AccountName,
        id: &str,
    ) -> Result<Option<crate::RecordEntry>, StoreError> {
        let (kind, account, id) = (kind.to_owned(), account.clone(), id.to_owned());
        self.read(move |conn| records::get(conn, provider, &kind, &account, &id))
            .await
    }

    async fn list_records(
        &self,
        filter: &crate::RecordFilter,
    ) -> Result<Vec<crate::RecordEntry>, StoreError> {
        let filter = filter.clone();
        self.read(move |conn| records::list(conn, &filter)).await
    }

    async fn count_records(
        &self,
        provider: malipo_core::Provider,
        kind: &str,
        account: Option<&malipo_core::AccountName>,
    ) -> Result<u64, StoreError> {
        let (kind, account) = (kind.to_owned(), account.cloned());
        self.read(move |conn| records::count(conn, provider, &kind, account.as_ref()))
            .await
    }

    async fn sync_checkpoint(
        &self,
        provider: malipo_core::Provider,
        account: &malipo_core::AccountName,
        kind: &str,
    ) -> Result<Option<crate::SyncCheckpoint>, StoreError> {
        let (kind, account) = (kind.to_owned(), account.clone());
        self.read(move |conn| records::checkpoint(conn, provider, &account, &kind))
            .await
    }
}

#[async_trait]
impl OpsStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        // Cheap while all is well: the writer's last commit and the file's identity are known
        // without queueing behind the webhooks being stored.
        self.inner.health.check_identity()?;
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM schema_migrations", [], |_| Ok(()))
                .during("checking the database answers")
        })
        .await?;
        if self.inner.writer.is_stopped() {
            return Err(StoreError::Closed);
        }
        if self.inner.health.is_failing() {
            // Once traffic stops, nothing else would find out that writes work again: probe
            // with a write the size of a busy batch of events, inserted and deleted in one
            // committed transaction (the pages still reach the WAL, so a full disk fails it).
            self.write(|conn, now| {
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (-1, ?1, ?2)",
                    rusqlite::params!["probe".repeat(PROBE_BYTES / 5), now],
                )
                .during("probing that writes work")?;
                conn.execute("DELETE FROM schema_migrations WHERE version = -1", [])
                    .during("probing that writes work")
                    .map(|_| ())
            })
            .await?;
            if self.inner.health.is_failing() {
                return Err(StoreError::Database {
                    op: "probing that writes work",
                    source: crate::error::Reason::cause("the last commit failed"),
                });
            }
        }
        Ok(())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let total = Arc::clone(&self.inner.event_total);
        let mut stats = self.read(move |conn| stats::read(conn, &total, now_ms())).await?;
        stats.group_commits = Some(self.writer_stats());
        Ok(stats)
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.inner.writer.shutdown().await
    }

    fn is_machine_local(&self) -> bool {
        true
    }

    async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        self.read(move |conn| leases::owners(conn, now)).await
    }

    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let owner = owner.to_owned();
        self.write(move |conn, now| leases::release(conn, &owner, now))
            .await
    }
}
