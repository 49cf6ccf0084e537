use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{DeliveryId, EventId, JobId, PaymentId, PaymentState, Provider, Secret};

use crate::PaymentCheck;
use crate::{
    ApiKeyRecord, IdempotencyClaim, IdempotencyRecord, NewApiKey, StoredResponse, KEY_HASH_LEN,
    REQUEST_HASH_LEN,
};
use crate::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EventFilter, EventRecord, EventSummary, Ingested, Job,
    JobCompletion, JobOutcome, NewDelivery, NewEvent, NewPayment, PaymentFilter, PaymentKey, PaymentRecord,
    PaymentTransition, StoreError, StoreStats, TransitionDetail,
};
use crate::{EndpointId, EndpointRecord, NewEndpoint};
use crate::{NewRecord, RecordEntry, RecordFilter, SyncCheckpoint};
use malipo_core::kinds::KeyId;
use malipo_core::AccountName;

/// What [`EventStore::replay`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    /// A new processing job was queued and the event is `received` again.
    Queued,
    /// The event was still `received` with its job queued; nothing changed.
    AlreadyQueued,
}

/// The storage port: everything the gateway keeps, as one object-safe trait made of the roles
/// ([`EventStore`], [`PaymentStore`], [`DeliveryStore`], [`KeyStore`], [`RecordStore`],
/// [`OpsStore`]) so the
/// gateway can hold an `Arc<dyn Store>` and the SQLite and PostgreSQL adapters are
/// interchangeable. Implemented for every type that implements all roles; a component that
/// needs one role can take just that role, and a test can give it a fake of that role.
///
/// Every write returns only after its transaction committed at the adapter's durability level;
/// a caller that got `Ok` may acknowledge the provider.
pub trait Store: EventStore + PaymentStore + DeliveryStore + KeyStore + RecordStore + OpsStore {}

impl<T> Store for T where
    T: EventStore + PaymentStore + DeliveryStore + KeyStore + RecordStore + OpsStore + ?Sized
{
}

/// Inbound events and their processing jobs: the inbound half of the outbox. An event and its
/// job are written together (see [`EventStore::ingest`]), and a job's completion applies its
/// payment change and delivery in the same transaction.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores an inbound event and, when its status is `Received`, its processing job, in one
    /// transaction. An event whose `(provider, dedup_key)` is already stored is not stored again:
    /// the answer is [`Ingested::Duplicate`] with the first one's id, also when both arrive at
    /// the same moment. Events stored as failed or rejected get no job but are deduplicated the
    /// same way. An empty dedup key is [`StoreError::Invalid`].
    async fn ingest(&self, event: NewEvent) -> Result<Ingested, StoreError>;

    /// One event with its body.
    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError>;

    /// Events matching `filter`, newest first, without bodies.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError>;

    /// Queues the event for processing again and puts it back to `received` (its
    /// `last_error` is kept until the next attempt finishes). Not found is an error.
    async fn replay(&self, id: EventId) -> Result<Replayed, StoreError>;

    /// Claims up to `limit` due jobs for `worker`, oldest first, leasing each for `lease`.
    /// A job whose lease ran out without completion is due again, so a crashed worker's jobs
    /// are picked up by another.
    async fn claim_jobs(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Job>, StoreError>;

    /// Finishes a job: removes it, sets its event's status, and applies the outcome's payment
    /// change and delivery, all in one transaction. A job that no longer exists (completed by
    /// another worker after this one's lease ran out) is [`StoreError::NotFound`] and changes
    /// nothing.
    async fn complete_job(&self, job: JobId, outcome: JobOutcome) -> Result<JobCompletion, StoreError>;

    /// Finishes several jobs, in order, each exactly as [`EventStore::complete_job`] would and each
    /// all-or-nothing on its own: a job that fails (completed by another worker after its lease
    /// ran out, its payment gone) is undone alone, answered with its error in its slot, and the
    /// others still complete. A job sees the effects of the jobs before it, so two events of one
    /// payment in one batch move it in order (the second of two `succeeded` is
    /// [`PaymentEffect::Unchanged`](crate::PaymentEffect::Unchanged), a `cancelled` after a
    /// `succeeded` is [`PaymentEffect::Refused`](crate::PaymentEffect::Refused)).
    ///
    /// The answer has one result per job, in the same order. The outer error means the batch as
    /// a whole could not be committed (the database failed, the store is closed): then none of
    /// its jobs was completed and each is still leased to its worker.
    ///
    /// The default completes each job in its own transaction, which keeps every guarantee above;
    /// adapters override it to share one commit among the whole batch (the SQLite adapter does).
    async fn complete_jobs(
        &self,
        jobs: Vec<(JobId, JobOutcome)>,
    ) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
        let mut done = Vec::with_capacity(jobs.len());
        for (job, outcome) in jobs {
            done.push(self.complete_job(job, outcome).await);
        }
        Ok(done)
    }

    /// Records a failed attempt. With `retry_at` the job is released to run again then; with
    /// `None` the store gives up: the job is removed and the event becomes `failed` with
    /// `error` as its `last_error`, visible and replayable.
    async fn fail_job(
        &self,
        job: JobId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
}

/// Payments and their state machine: every state change is a compare-and-set against the
/// stored state, and a change that commits is announced to the merchant's endpoints by the same
/// transaction.
#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// The payments named by `keys`, one answer per key in the same order (`None` where there
    /// is none): the lookups of a whole batch of jobs in one round trip.
    ///
    /// The default asks [`PaymentStore::get_payment`] and [`PaymentStore::find_payment_by_provider_ref`] once
    /// per key; adapters override it to answer all keys at once.
    async fn find_payments(&self, keys: &[PaymentKey]) -> Result<Vec<Option<PaymentRecord>>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(match key {
                PaymentKey::Id(id) => self.get_payment(*id).await?,
                PaymentKey::ProviderRef(provider, reference) => {
                    self.find_payment_by_provider_ref(*provider, reference).await?
                }
            });
        }
        Ok(found)
    }

    /// Records a payment. An id or provider reference already stored is
    /// [`StoreError::Conflict`].
    async fn insert_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError>;

    /// One payment.
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError>;

    /// The payment with this provider reference (CheckoutRequestID, Paystack reference,
    /// ConversationID).
    async fn find_payment_by_provider_ref(
        &self,
        provider: Provider,
        reference: &str,
    ) -> Result<Option<PaymentRecord>, StoreError>;

    /// Sets the provider reference once the provider answered the request. Setting the same
    /// value again is fine; one used by another payment is [`StoreError::Conflict`].
    async fn set_payment_provider_ref(
        &self,
        id: PaymentId,
        reference: &str,
    ) -> Result<PaymentRecord, StoreError>;

    /// Moves a payment through its state machine atomically (compare-and-set against the
    /// stored state): of two racing moves from `pending`, one wins and the other is
    /// [`StoreError::IllegalTransition`]. Repeating the current state is accepted and changes
    /// nothing but the detail ([`PaymentTransition::changed`] is false).
    async fn transition_payment(
        &self,
        id: PaymentId,
        to: PaymentState,
        detail: TransitionDetail,
    ) -> Result<PaymentTransition, StoreError>;

    /// Payments matching `filter`, newest first.
    async fn list_payments(&self, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError>;

    /// Pending payments created at least `age` ago, oldest first (for the reconciler).
    async fn pending_payments_older_than(
        &self,
        age: Duration,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError>;

    // Reconciliation, payouts and refunds.

    /// Pending payments the reconciler should look at by `now`: those it never scheduled and
    /// those whose next check is due, not held for a person; the longest waiting first.
    async fn due_payment_checks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError>;

    /// Records the reconciler's schedule on a pending payment. A payment that is no longer
    /// pending (a callback settled it meanwhile) is returned as it is, unchanged.
    async fn record_payment_check(
        &self,
        id: PaymentId,
        check: PaymentCheck,
    ) -> Result<PaymentRecord, StoreError>;

    /// The refunds and reversals of `parent`, oldest first.
    async fn child_payments(&self, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError>;

    /// Records a refund or reversal of `payment.parent_id`, checking in the same transaction
    /// that the parent is succeeded (or partly refunded) and that the amount fits in what is
    /// left of it (its amount less its refunds that are pending or succeeded), so two refunds
    /// racing cannot give back more than was paid. A parent that does not exist is
    /// [`StoreError::NotFound`]; the other refusals are [`StoreError::Invalid`].
    async fn insert_child_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError>;

    // Settlement: the ids a callback must repeat before it may move a payment.

    /// Sets both ids the provider gave a request once it answered: the provider reference
    /// (CheckoutRequestID) and the request id (MerchantRequestID), in one write. Setting the same
    /// values again is fine; a reference used by another payment, or a request id other than the
    /// one already stored, is [`StoreError::Conflict`].
    async fn set_payment_references(
        &self,
        id: PaymentId,
        reference: &str,
        request_id: &str,
    ) -> Result<PaymentRecord, StoreError>;
}

/// Outbound deliveries to the merchant and the endpoints they go to.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Queues a notification to the merchant.
    async fn enqueue_delivery(&self, delivery: NewDelivery) -> Result<DeliveryId, StoreError>;

    /// Claims up to `limit` due deliveries for `worker`, oldest due first, leasing each for
    /// `lease` (an attempt counts from its claim; an expired lease makes it due again).
    async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Marks a delivery delivered with the merchant's HTTP status.
    async fn complete_delivery(&self, id: DeliveryId, http_status: u16) -> Result<(), StoreError>;

    /// Records a failed attempt: with `next_attempt_at` it is retried then; with `None` it is
    /// dead-lettered. Returns the resulting status.
    async fn fail_delivery(
        &self,
        id: DeliveryId,
        http_status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<DeliveryStatus, StoreError>;

    /// Puts a delivered or dead-lettered delivery back in the queue, due now (manual replay).
    async fn redeliver(&self, id: DeliveryId) -> Result<(), StoreError>;

    /// One delivery.
    async fn get_delivery(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Deliveries matching `filter`, newest first.
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError>;

    // Delivery to merchant endpoints (signed webhooks, the outbox's fan-out). The defaults refuse,
    // for adapters and test doubles that do not keep endpoints.

    /// Creates the endpoint named `endpoint.name`, or updates its URL, event filter and
    /// private-address flag; a different secret is rotated in, the current one signing for
    /// `overlap` more. `enabled` is only applied on creation (an operator's `disable` survives a
    /// restart).
    async fn upsert_endpoint(
        &self,
        endpoint: NewEndpoint,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        let _ = (endpoint, overlap);
        Err(unsupported("merchant endpoints"))
    }

    /// One endpoint, by id (`ep_…`) or name.
    async fn get_endpoint(&self, id_or_name: &str) -> Result<Option<EndpointRecord>, StoreError> {
        let _ = id_or_name;
        Err(unsupported("merchant endpoints"))
    }

    /// Every endpoint, oldest first.
    async fn list_endpoints(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        Err(unsupported("merchant endpoints"))
    }

    /// Enables or disables an endpoint. A disabled one gets no new deliveries and its queued ones
    /// wait (they are kept, and go out once it is enabled again).
    async fn set_endpoint_enabled(
        &self,
        id_or_name: &str,
        enabled: bool,
    ) -> Result<EndpointRecord, StoreError> {
        let _ = (id_or_name, enabled);
        Err(unsupported("merchant endpoints"))
    }

    /// Makes `secret` the endpoint's signing secret; the current one keeps signing beside it for
    /// `overlap`, so receivers can switch without losing a delivery.
    async fn rotate_endpoint_secret(
        &self,
        id_or_name: &str,
        secret: Secret<String>,
        overlap: Duration,
    ) -> Result<EndpointRecord, StoreError> {
        let _ = (id_or_name, secret, overlap);
        Err(unsupported("merchant endpoints"))
    }

    /// Claims up to `limit` due deliveries of one endpoint for `worker`, leasing each for
    /// `lease`. A payment's delivery is held back while an earlier one of the same payment to
    /// the same endpoint is pending, so they arrive in order; a disabled endpoint's are not
    /// claimed.
    async fn claim_endpoint_deliveries(
        &self,
        endpoint: EndpointId,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let _ = (endpoint, worker, limit, lease);
        Err(unsupported("merchant endpoints"))
    }
}

/// The merchant API's keys: API keys (only their digest) and Idempotency-Key records.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    // The merchant API: API keys and Idempotency-Key records. Each has a default that refuses
    // (an adapter without these tables cannot serve the API) so adapters written before the
    // API keep compiling; the SQLite adapter implements them all.

    /// Records an API key (only its digest). A taken id or digest is [`StoreError::Conflict`].
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StoreError> {
        let _ = key;
        Err(unsupported("API keys"))
    }

    /// The key whose SHA-256 digest is `hash`, revoked or not.
    async fn find_api_key_by_hash(
        &self,
        hash: &[u8; KEY_HASH_LEN],
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let _ = hash;
        Err(unsupported("API keys"))
    }

    /// Every API key, newest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Err(unsupported("API keys"))
    }

    /// Revokes a key (revoking twice keeps the first time); not found is an error.
    async fn revoke_api_key(&self, id: KeyId) -> Result<ApiKeyRecord, StoreError> {
        let _ = id;
        Err(unsupported("API keys"))
    }

    /// Claims `key` in `scope` for a request with fingerprint `request_hash`: atomically, so of
    /// any number of racing requests exactly one gets [`IdempotencyClaim::Claimed`] and the
    /// others learn it is in progress, finished (with its answer) or used for another request.
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &[u8; REQUEST_HASH_LEN],
    ) -> Result<IdempotencyClaim, StoreError> {
        let _ = (scope, key, request_hash);
        Err(unsupported("idempotency keys"))
    }

    /// Records the answer of a key this caller claimed.
    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let _ = (scope, key, response);
        Err(unsupported("idempotency keys"))
    }

    /// Frees a key this caller claimed whose request did nothing (so a retry runs it).
    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let _ = (scope, key);
        Err(unsupported("idempotency keys"))
    }

    /// One idempotency record.
    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let _ = (scope, key);
        Err(unsupported("idempotency keys"))
    }

    /// Deletes idempotency records claimed before `before`; returns how many.
    async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let _ = before;
        Err(unsupported("idempotency keys"))
    }
}

/// Local copies of provider resources (customers, plans, subscriptions, transfers, dedicated
/// accounts) and the checkpoints of the syncs that fill them. The defaults refuse, for adapters
/// that do not keep them.
#[async_trait]
pub trait RecordStore: Send + Sync + 'static {
    /// Merges each copy into the record it names, creating it when new, all in one transaction
    /// (see [`NewRecord::is_not_older_than`] and [`merge_copy`](crate::merge_copy)): a copy
    /// older than the kept record is skipped. Returns how many copies were merged.
    async fn upsert_records(&self, records: Vec<NewRecord>) -> Result<u64, StoreError> {
        let _ = records;
        Err(unsupported("local records"))
    }

    /// Merges a sync's page of records as [`RecordStore::upsert_records`] does and saves the
    /// sync's checkpoint, in one transaction: a sync killed at any moment resumes after the last
    /// page it stored, and never skips one.
    async fn save_sync_page(
        &self,
        records: Vec<NewRecord>,
        checkpoint: SyncCheckpoint,
    ) -> Result<u64, StoreError> {
        let _ = (records, checkpoint);
        Err(unsupported("local records"))
    }

    /// One record.
    async fn get_record(
        &self,
        provider: Provider,
        kind: &str,
        account: &AccountName,
        id: &str,
    ) -> Result<Option<RecordEntry>, StoreError> {
        let _ = (provider, kind, account, id);
        Err(unsupported("local records"))
    }

    /// Records matching `filter`, the most recently merged first.
    async fn list_records(&self, filter: &RecordFilter) -> Result<Vec<RecordEntry>, StoreError> {
        let _ = filter;
        Err(unsupported("local records"))
    }

    /// How many records of `kind` are kept (of one account, or all).
    async fn count_records(
        &self,
        provider: Provider,
        kind: &str,
        account: Option<&AccountName>,
    ) -> Result<u64, StoreError> {
        let _ = (provider, kind, account);
        Err(unsupported("local records"))
    }

    /// The checkpoint of the latest sync of `kind` for `account`.
    async fn sync_checkpoint(
        &self,
        provider: Provider,
        account: &AccountName,
        kind: &str,
    ) -> Result<Option<SyncCheckpoint>, StoreError> {
        let _ = (provider, account, kind);
        Err(unsupported("local records"))
    }
}

/// What operations ask of the store as a whole: readiness, counts for `/metrics`, shutdown.
#[async_trait]
pub trait OpsStore: Send + Sync + 'static {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Queue depths and counts by status (for `/metrics` and the dashboard); cheap enough to
    /// call on every scrape.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Commits every write already queued, then stops taking writes (later ones fail with
    /// [`StoreError::Closed`]); for a graceful shutdown. Reads keep working.
    async fn close(&self) -> Result<(), StoreError>;

    /// Whether every process using this store runs on this machine, so that the process
    /// behind a lease's owner can be looked for here. True of an SQLite file (its write-ahead
    /// log works on one machine only); false of a server several machines may share.
    fn is_machine_local(&self) -> bool {
        false
    }

    /// The owners of leases that have not run out (claimed jobs and deliveries), once each, in
    /// name order.
    async fn lease_owners(&self) -> Result<Vec<String>, StoreError> {
        Err(unsupported("leases"))
    }

    /// Ends every lease `owner` holds: its jobs and deliveries are due at once instead of when
    /// the lease runs out. Returns how many. Meant for an owner whose process is gone; one
    /// still running would find a job it then completes completed once (see
    /// [`EventStore::complete_job`]), but a delivery it is sending would be sent again.
    async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let _ = owner;
        Err(unsupported("leases"))
    }
}

fn unsupported(what: &str) -> StoreError {
    StoreError::Invalid(format!("this store adapter does not keep {what}"))
}
