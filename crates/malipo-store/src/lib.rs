//! The storage port of malipo and its embedded SQLite adapter.
//!
//! The port is one trait per role: [`EventStore`] (inbound events with their processing jobs),
//! [`PaymentStore`] (payments and their state machine), [`DeliveryStore`] (outbound deliveries
//! to the merchant and their endpoints), [`KeyStore`] (API keys and Idempotency-Key records) and
//! [`OpsStore`] (readiness, counts, shutdown). [`Store`] is all of them, so the gateway holds an
//! `Arc<dyn Store>`; a component that needs one role can take only that one. The SQLite adapter
//! ([`SqliteStore`]) is the embedded default; the PostgreSQL adapter ([`PostgresStore`]), for
//! several instances sharing one database, implements the same roles with the same behaviour. [`memory::MemoryStore`] fakes every role in
//! memory for tests.
//!
//! # The inbound path's guarantees
//!
//! - [`EventStore::ingest`] writes the event and its job in **one transaction** and returns only
//!   after the commit, so a provider is acknowledged only for what is stored.
//! - The dedup key is enforced by a **unique index** per provider: a redelivered event, even
//!   fifty at once, is stored once and every caller learns the same [`EventId`](malipo_core::EventId).
//! - A job's **lease** ends by itself: a worker that dies mid-job loses nothing, another claims
//!   it after the lease.
//! - [`EventStore::complete_job`] applies the payment change, the event status and the merchant
//!   delivery in one transaction: no payment change without its notification.
//!   [`EventStore::complete_jobs`] does the same for a worker's whole batch in one write request,
//!   each job all-or-nothing on its own and applied in order.
//!
//! # Durability of the SQLite adapter
//!
//! The database runs in WAL mode. One writer thread owns the write connection and performs
//! **group commit**: every write request queued while the previous commit ran joins the next
//! transaction (up to [`SqliteOptions::batch_max`]), each inside its own savepoint so one bad
//! request does not fail the others, and each caller is answered after the `COMMIT` returned.
//! Concurrent requests thus share commits and throughput grows with concurrency instead of
//! collapsing to one commit per request. Reads use a small pool of read-only connections, which
//! in WAL mode never block the writer.
//!
//! [`Durability`] chooses what an acknowledged write survives:
//!
//! | level | SQLite | survives |
//! |---|---|---|
//! | [`Durability::ProcessCrash`] (default) | `synchronous = NORMAL` | the process being killed (`kill -9`, OOM, panic); a power loss or kernel crash may lose the last commits, never corrupts |
//! | [`Durability::PowerLoss`] | `synchronous = FULL` | power loss too: the WAL is fsynced at every group commit |
//!
//! # The PostgreSQL adapter
//!
//! [`PostgresStore`] keeps the same guarantees for several instances sharing one database: the
//! unique indexes settle racing ingests and references across instances, jobs and deliveries
//! are claimed with `FOR UPDATE SKIP LOCKED` under leases, payment changes lock their row, and
//! ingests are group-committed as in SQLite. Its schema is `migrations/postgres/`, the same
//! versions as SQLite's, applied at connect under an advisory lock.
//!
//! # Example
//!
//! ```
//! use malipo_core::{EventStatus, Provider};
//! use malipo_store::{Ingested, JobOutcome, NewEvent, SqliteOptions, SqliteStore, Store};
//! use std::{sync::Arc, time::Duration};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), malipo_store::StoreError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
//!     dir.path().join("malipo.db"),
//!     SqliteOptions::default(),
//! )?);
//!
//! let body = br#"{"event":"charge.success","data":{"id":42}}"#;
//! let event = NewEvent::received(Provider::Paystack, "charge.success", "charge.success:42", &body[..]);
//! let first = store.ingest(event.clone()).await?;
//! assert!(first.is_new());
//! // The provider retries: stored once, same id.
//! assert_eq!(store.ingest(event).await?, Ingested::Duplicate(first.id()));
//!
//! // A worker claims the job, applies it and completes it.
//! let jobs = store.claim_jobs("worker-1", 10, Duration::from_secs(30)).await?;
//! assert_eq!(jobs[0].event.id, first.id());
//! store.complete_job(jobs[0].id, JobOutcome::processed()).await?;
//! let stored = store.get_event(first.id()).await?.expect("stored");
//! assert_eq!(stored.status, EventStatus::Processed);
//! # store.close().await?;
//! # Ok(())
//! # }
//! ```

mod convert;
mod decode;
mod error;
mod listing;
pub mod memory;
mod model;
mod outbox;
mod port;
mod postgres;
mod sqlite;

pub use error::{Cause, StoreError};
pub use model::api_key::{ApiKeyRecord, NewApiKey, KEY_HASH_LEN};
pub use model::delivery::{DeliveryFilter, DeliveryRecord, DeliveryStatus, NewDelivery};
pub use model::endpoint::{
    check_endpoint_name, check_event_type, EndpointId, EndpointKind, EndpointRecord, NewEndpoint,
    DEFAULT_EVENT_PREFIXES, EVENT_SUSPICIOUS,
};
pub use model::event::{EventFilter, EventRecord, EventSummary, Ingested, NewEvent};
pub use model::idempotency::{IdempotencyClaim, IdempotencyRecord, StoredResponse, REQUEST_HASH_LEN};
pub use model::job::{Job, JobCompletion, JobOutcome};
pub use model::payment::{CheckSchedule, PaymentCheck, SettledBy};
pub use model::payment::{
    NewPayment, PaymentChange, PaymentEffect, PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition,
    TransitionDetail,
};
pub use model::record::{merge_copy, NewRecord, RecordEntry, RecordFilter, RecordSource, SyncCheckpoint};
pub use model::{MigrationInfo, MigrationReport, StoreStats};
pub use outbox::{event_type as delivery_event_type, PAYLOAD_VERSION};
pub use port::{DeliveryStore, EventStore, KeyStore, OpsStore, PaymentStore, RecordStore, Replayed, Store};
pub use postgres::{
    copy_sqlite_to_postgres, redact_url, CopyProgress, CopyReport, PostgresOptions, PostgresStore, TableCopy,
    WorkListener, DELIVERIES_CHANNEL, JOBS_CHANNEL, POSTGRES_SCHEMA_VERSION,
};
pub use sqlite::{Durability, SqliteOptions, SqliteStore, WriterStats};
