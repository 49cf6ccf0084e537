//! In-memory fakes of the store's roles, for tests that need a store but not a database.
//!
//! [`MemoryStore`] implements every role over plain maps behind one mutex, so it is also a
//! [`Store`](crate::Store) and fits an `Arc<dyn Store>`. It keeps the invariants the SQLite
//! adapter keeps for what it implements, and the shared behaviour tests
//! (`tests/it/behaviour.rs`) run against both so the two cannot drift:
//!
//! - an event is stored once per `(provider, dedup_key)`, and a received event gets its
//!   processing job with it (the inbox's invariant);
//! - a payment moves only through its state machine, compare-and-set against its stored state;
//! - a job's completion (payment change, event status, delivery) is all-or-nothing: a failing
//!   one leaves the store as it was.
//!
//! What it leaves out: merchant endpoints (those methods refuse, as the role's defaults do), so
//! a payment change is never fanned out to deliveries, which is also what the SQLite adapter
//! does when no endpoint exists. Nothing is durable, and writes are not group-committed.

mod deliveries;
mod events;
mod keys;
mod payments;
mod records;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::kinds::KeyId;
use malipo_core::{DeliveryId, EventId, EventStatus, JobId, PaymentId, PaymentState};

use crate::port::OpsStore;
use crate::{
    ApiKeyRecord, DeliveryRecord, DeliveryStatus, EventRecord, IdempotencyRecord, PaymentRecord, StoreError,
    StoreStats,
};

/// An in-memory store implementing every role; cheap to clone (clones share the same data).
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// Everything the fake keeps. Cloned to undo a multi-step write that fails halfway.
#[derive(Clone, Default)]
struct State {
    closed: bool,
    events: BTreeMap<EventId, EventRecord>,
    /// `(provider, dedup_key)` → event: the dedup index.
    dedup: HashMap<(String, String), EventId>,
    jobs: BTreeMap<JobId, QueuedJob>,
    payments: BTreeMap<PaymentId, PaymentRecord>,
    deliveries: BTreeMap<DeliveryId, DeliveryRecord>,
    api_keys: BTreeMap<KeyId, ApiKeyRecord>,
    idempotency: BTreeMap<(String, String), IdempotencyRecord>,
    records: BTreeMap<records::RecordKey, crate::RecordEntry>,
    checkpoints: BTreeMap<records::CheckpointKey, crate::SyncCheckpoint>,
}

#[derive(Clone)]
struct QueuedJob {
    event: EventId,
    run_at: DateTime<Utc>,
    attempts: u32,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test must not poison every later call of the others.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a write: refused once closed, and undone entirely if it fails.
    fn write<T>(
        &self,
        work: impl FnOnce(&mut State, DateTime<Utc>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.lock();
        if state.closed {
            return Err(StoreError::Closed);
        }
        let before = state.clone();
        let result = work(&mut state, now());
        if result.is_err() {
            *state = before;
        }
        result
    }

    fn read<T>(&self, work: impl FnOnce(&State) -> T) -> T {
        work(&self.lock())
    }
}

/// The clock at millisecond precision, as the SQLite adapter stores it.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

fn not_found(what: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        what,
        id: id.to_string(),
    }
}

/// At most `limit` of `items`, as the SQLite adapter caps a page.
fn page<T>(items: impl Iterator<Item = T>, limit: usize) -> Vec<T> {
    items.take(limit.min(crate::sqlite::MAX_PAGE)).collect()
}

#[async_trait]
impl OpsStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let at = now();
        Ok(self.read(|s| StoreStats {
            jobs_queued: s.jobs.len() as u64,
            jobs_due: s.jobs.values().filter(|j| j.run_at <= at).count() as u64,
            events: EventStatus::ALL
                .iter()
                .map(|st| (*st, s.events.values().filter(|e| e.status == *st).count() as u64))
                .collect(),
            payments_pending: s
                .payments
                .values()
                .filter(|p| p.state == PaymentState::Pending)
                .count() as u64,
            deliveries_pending: s
                .deliveries
                .values()
                .filter(|d| d.status == DeliveryStatus::Pending)
                .count() as u64,
            deliveries_dead: s
                .deliveries
                .values()
                .filter(|d| d.status == DeliveryStatus::DeadLetter)
                .count() as u64,
            group_commits: None,
        }))
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.lock().closed = true;
        Ok(())
    }
}
