//! The roles' provided `complete_jobs` and `find_payments`, for adapters that do not
//! override them: an adapter implementing only the required methods (here, delegating to SQLite)
//! gets the same answers as the SQLite adapter's batched versions.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{Currency, DeliveryId, EventId, JobId, Money, PaymentId, PaymentState, Provider};
use malipo_store::{
    DeliveryFilter, DeliveryRecord, DeliveryStatus, EventFilter, EventRecord, EventSummary, Ingested, Job,
    JobCompletion, JobOutcome, NewDelivery, NewEvent, NewPayment, PaymentChange, PaymentEffect,
    PaymentFilter, PaymentKey, PaymentRecord, PaymentTransition, Replayed, SqliteStore, StoreError,
    StoreStats, TransitionDetail,
};
use malipo_store::{DeliveryStore, EventStore, KeyStore, OpsStore, PaymentStore};

use crate::{paystack_event, TestStore};

/// Only the required methods, each handed to SQLite.
struct Plain(SqliteStore);

#[async_trait]
impl EventStore for Plain {
    async fn ingest(&self, event: NewEvent) -> Result<Ingested, StoreError> {
        self.0.ingest(event).await
    }
    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        self.0.get_event(id).await
    }
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        self.0.list_events(filter).await
    }
    async fn replay(&self, id: EventId) -> Result<Replayed, StoreError> {
        self.0.replay(id).await
    }
    async fn claim_jobs(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Job>, StoreError> {
        self.0.claim_jobs(worker, limit, lease).await
    }
    async fn complete_job(&self, job: JobId, outcome: JobOutcome) -> Result<JobCompletion, StoreError> {
        self.0.complete_job(job, outcome).await
    }
    async fn fail_job(
        &self,
        job: JobId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.0.fail_job(job, error, retry_at).await
    }
}

#[async_trait]
impl OpsStore for Plain {
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.0.stats().await
    }
    async fn close(&self) -> Result<(), StoreError> {
        self.0.close().await
    }
}

impl KeyStore for Plain {}

#[async_trait]
impl PaymentStore for Plain {
    async fn insert_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.0.insert_payment(payment).await
    }
    async fn get_payment(&self, id: PaymentId) -> Result<Option<PaymentRecord>, StoreError> {
        self.0.get_payment(id).await
    }
    async fn find_payment_by_provider_ref(
        &self,
        provider: Provider,
        reference: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.0.find_payment_by_provider_ref(provider, reference).await
    }
    async fn set_payment_provider_ref(
        &self,
        id: PaymentId,
        reference: &str,
    ) -> Result<PaymentRecord, StoreError> {
        self.0.set_payment_provider_ref(id, reference).await
    }
    async fn transition_payment(
        &self,
        id: PaymentId,
        to: PaymentState,
        detail: TransitionDetail,
    ) -> Result<PaymentTransition, StoreError> {
        self.0.transition_payment(id, to, detail).await
    }
    async fn list_payments(&self, filter: &PaymentFilter) -> Result<Vec<PaymentRecord>, StoreError> {
        self.0.list_payments(filter).await
    }
    async fn pending_payments_older_than(
        &self,
        age: Duration,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.0.pending_payments_older_than(age, limit).await
    }
    async fn due_payment_checks(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        self.0.due_payment_checks(now, limit).await
    }
    async fn record_payment_check(
        &self,
        id: PaymentId,
        check: malipo_store::PaymentCheck,
    ) -> Result<PaymentRecord, StoreError> {
        self.0.record_payment_check(id, check).await
    }
    async fn child_payments(&self, parent: PaymentId) -> Result<Vec<PaymentRecord>, StoreError> {
        self.0.child_payments(parent).await
    }
    async fn insert_child_payment(&self, payment: NewPayment) -> Result<PaymentRecord, StoreError> {
        self.0.insert_child_payment(payment).await
    }
    async fn set_payment_references(
        &self,
        id: PaymentId,
        reference: &str,
        request_id: &str,
    ) -> Result<PaymentRecord, StoreError> {
        self.0.set_payment_references(id, reference, request_id).await
    }
}

#[async_trait]
impl DeliveryStore for Plain {
    async fn enqueue_delivery(&self, delivery: NewDelivery) -> Result<DeliveryId, StoreError> {
        self.0.enqueue_delivery(delivery).await
    }
    async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.0.claim_deliveries(worker, limit, lease).await
    }
    async fn complete_delivery(&self, id: DeliveryId, http_status: u16) -> Result<(), StoreError> {
        self.0.complete_delivery(id, http_status).await
    }
    async fn fail_delivery(
        &self,
        id: DeliveryId,
        http_status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<DeliveryStatus, StoreError> {
        self.0
            .fail_delivery(id, http_status, error, next_attempt_at)
            .await
    }
    async fn redeliver(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.0.redeliver(id).await
    }
    async fn get_delivery(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
        self.0.get_delivery(id).await
    }
    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.0.list_deliveries(filter).await
    }
}

#[tokio::test]
async fn the_provided_batch_methods_answer_like_the_batched_ones() {
    let t = TestStore::open();
    let plain = Plain(t.sqlite.clone());
    let mut p = NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(900, Currency::Ngn),
    );
    p.provider_reference = Some("ref-d".into());
    let payment = plain.insert_payment(p).await.unwrap();
    let keys = [
        PaymentKey::ProviderRef(Provider::Paystack, "ref-d".into()),
        PaymentKey::Id(PaymentId::new()),
        PaymentKey::Id(payment.id),
    ];
    let found = plain.find_payments(&keys).await.unwrap();
    assert_eq!(found, t.store.find_payments(&keys).await.unwrap());
    assert_eq!(found, [Some(payment.clone()), None, Some(payment.clone())]);

    for key in ["d1", "d2"] {
        plain.ingest(paystack_event(key)).await.unwrap();
    }
    let jobs = plain.claim_jobs("w", 10, Duration::from_secs(60)).await.unwrap();
    let succeed = || {
        JobOutcome::apply(
            PaymentChange::Transition {
                id: payment.id,
                to: PaymentState::Succeeded,
                detail: TransitionDetail::default(),
            },
            None,
        )
    };
    let done = plain
        .complete_jobs(vec![
            (jobs[0].id, succeed()),
            (JobId::new(), JobOutcome::processed()),
            (jobs[1].id, succeed()),
        ])
        .await
        .unwrap();
    assert!(matches!(
        &done[0],
        Ok(JobCompletion {
            payment: Some(PaymentEffect::Changed { .. }),
            ..
        })
    ));
    assert!(matches!(&done[1], Err(StoreError::NotFound { what: "job", .. })));
    assert!(matches!(
        &done[2],
        Ok(JobCompletion {
            payment: Some(PaymentEffect::Unchanged(_)),
            ..
        })
    ));
    assert_eq!(plain.stats().await.unwrap().jobs_queued, 0);
}

#[tokio::test]
async fn an_adapter_without_leases_says_so_and_is_not_taken_for_machine_local() {
    let t = TestStore::open();
    let plain = Plain(t.sqlite.clone());
    assert!(!plain.is_machine_local(), "its owners may run elsewhere");
    for err in [
        plain.lease_owners().await.unwrap_err(),
        plain.release_leases("worker-1@h").await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("leases")),
            "{err}"
        );
    }
    assert!(t.store.is_machine_local(), "an SQLite file is");
}
