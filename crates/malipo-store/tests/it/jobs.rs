use std::time::Duration;

use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::{
    JobOutcome, NewDelivery, NewPayment, PaymentChange, PaymentEffect, StoreError, TransitionDetail,
};

use crate::{paystack_event, Adapter};

const LEASE: Duration = Duration::from_secs(60);

async fn claim_leases_a_job_so_nobody_else_gets_it_and_complete_removes_it(t: Adapter) {
    let id = t.store.ingest(paystack_event("k")).await.unwrap().id();
    let jobs = t.store.claim_jobs("w1", 10, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].event.id, id);
    assert_eq!(jobs[0].attempts, 1);
    assert_eq!(&jobs[0].event.raw_body[..], &paystack_event("k").raw_body[..]);
    assert!(t.store.claim_jobs("w2", 10, LEASE).await.unwrap().is_empty());
    let stats = t.store.stats().await.unwrap();
    assert_eq!((stats.jobs_queued, stats.jobs_due), (1, 0));

    let done = t
        .store
        .complete_job(jobs[0].id, JobOutcome::processed())
        .await
        .unwrap();
    assert!(done.payment.is_none() && done.delivery.is_none());
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Processed);
    assert_eq!(ev.attempts, 1);
    assert_eq!(t.count("jobs").await, 0);
    let stats = t.store.stats().await.unwrap();
    assert_eq!(
        stats.events_in(EventStatus::Received),
        0,
        "counts follow status changes"
    );
    assert_eq!(stats.events_in(EventStatus::Processed), 1);
    assert_eq!(stats.jobs_queued, 0);
    // Completing twice (another worker after the lease) changes nothing and says so.
    assert!(matches!(
        t.store.complete_job(jobs[0].id, JobOutcome::processed()).await,
        Err(StoreError::NotFound { what: "job", .. })
    ));
}

async fn an_expired_lease_is_claimed_again(t: Adapter) {
    t.store.ingest(paystack_event("k")).await.unwrap();
    // A zero lease has already run out when the next claim looks: the first worker "crashed".
    let first = t.store.claim_jobs("crashed", 10, Duration::ZERO).await.unwrap();
    let again = t.store.claim_jobs("w2", 10, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);
}

async fn claims_respect_the_limit_and_hand_out_each_job_once(t: Adapter) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            t.store
                .ingest(paystack_event(&format!("k{i}")))
                .await
                .unwrap()
                .id(),
        );
    }
    let a = t.store.claim_jobs("w", 2, LEASE).await.unwrap();
    let b = t.store.claim_jobs("w", 10, LEASE).await.unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 3);
    let mut claimed: Vec<_> = a.iter().chain(&b).map(|j| j.event.id).collect();
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids);
}

async fn fail_with_retry_releases_the_job_then_giving_up_marks_the_event_failed(t: Adapter) {
    let id = t.store.ingest(paystack_event("k")).await.unwrap().id();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    t.store
        .fail_job(job.id, "merchant database down", Some(chrono::Utc::now()))
        .await
        .unwrap();
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Received);
    assert_eq!(ev.last_error.as_deref(), Some("merchant database down"));
    assert_eq!(ev.attempts, 1);

    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    assert_eq!(job.attempts, 2);
    t.store.fail_job(job.id, "still down", None).await.unwrap();
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Failed);
    assert_eq!(ev.last_error.as_deref(), Some("still down"));
    assert_eq!(ev.attempts, 2);
    assert_eq!(t.count("jobs").await, 0);

    // Replay brings it back; success clears the error.
    t.store.replay(id).await.unwrap();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    t.store
        .complete_job(job.id, JobOutcome::processed())
        .await
        .unwrap();
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Processed);
    assert_eq!(ev.last_error, None);
    assert_eq!(ev.attempts, 3);
}

async fn a_retry_in_the_future_is_not_due_yet(t: Adapter) {
    t.store.ingest(paystack_event("k")).await.unwrap();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    t.store.fail_job(job.id, "busy", Some(later)).await.unwrap();
    assert!(t.store.claim_jobs("w", 1, LEASE).await.unwrap().is_empty());
}

fn delivery(kind: &str) -> NewDelivery {
    NewDelivery {
        event_type: kind.into(),
        payload: bytes::Bytes::from_static(br#"{"type":"payment.succeeded"}"#),
        payment_id: None,
        event_id: None,
        first_attempt_at: None,
    }
}

async fn completion_applies_the_payment_change_and_its_delivery_together(t: Adapter) {
    let payment = t
        .store
        .insert_payment(NewPayment::pending(
            Provider::Paystack,
            "charge",
            Money::from_minor(50_000, Currency::Ngn),
        ))
        .await
        .unwrap();
    let id = t.store.ingest(paystack_event("k")).await.unwrap().id();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    let change = PaymentChange::Transition {
        id: payment.id,
        to: PaymentState::Succeeded,
        detail: TransitionDetail {
            result_code: Some("Approved".into()),
            ..TransitionDetail::default()
        },
    };
    let done = t
        .store
        .complete_job(
            job.id,
            JobOutcome::apply(change.clone(), Some(delivery("payment.succeeded"))),
        )
        .await
        .unwrap();
    assert!(matches!(
        done.payment,
        Some(PaymentEffect::Changed {
            previous: Some(PaymentState::Pending),
            ..
        })
    ));
    let delivery_id = done.delivery.expect("a delivery is queued");
    assert!(t.store.get_delivery(delivery_id).await.unwrap().is_some());
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(
        ev.payment_id,
        Some(payment.id),
        "the event is linked to its payment"
    );

    // The same event replayed: the payment is already there, nothing is delivered twice.
    t.store.replay(id).await.unwrap();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    let again = t
        .store
        .complete_job(
            job.id,
            JobOutcome::apply(change, Some(delivery("payment.succeeded"))),
        )
        .await
        .unwrap();
    assert!(matches!(again.payment, Some(PaymentEffect::Unchanged(_))));
    assert_eq!(again.delivery, None);
    assert_eq!(t.count("deliveries").await, 1);
}

async fn a_refused_transition_still_completes_the_job_and_notes_why(t: Adapter) {
    let mut p = NewPayment::pending(Provider::Mpesa, "stk_push", Money::from_minor(100, Currency::Kes));
    p.state = PaymentState::Succeeded;
    let payment = t.store.insert_payment(p).await.unwrap();
    let id = t.store.ingest(paystack_event("late")).await.unwrap().id();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    let change = PaymentChange::Transition {
        id: payment.id,
        to: PaymentState::Failed,
        detail: TransitionDetail::default(),
    };
    let done = t
        .store
        .complete_job(
            job.id,
            JobOutcome::apply(change, Some(delivery("payment.failed"))),
        )
        .await
        .unwrap();
    assert!(matches!(done.payment, Some(PaymentEffect::Refused { .. })));
    assert_eq!(done.delivery, None);
    // Regression: the event stayed processed, so whether a contradiction raised an alert
    // (event.suspicious) depended on whether the worker looked before or after the move.
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Suspicious);
    assert_eq!(
        ev.last_error.as_deref(),
        Some("a payment cannot go from succeeded to failed")
    );
    let stored = t.store.get_payment(payment.id).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Succeeded);
}

async fn a_failing_change_rolls_the_whole_completion_back(t: Adapter) {
    let id = t.store.ingest(paystack_event("k")).await.unwrap().id();
    let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    // The payment does not exist: the completion fails and the job stays.
    let change = PaymentChange::Transition {
        id: malipo_core::PaymentId::new(),
        to: PaymentState::Succeeded,
        detail: TransitionDetail::default(),
    };
    let err = t
        .store
        .complete_job(
            job.id,
            JobOutcome::apply(change, Some(delivery("payment.succeeded"))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "payment", .. }),
        "{err}"
    );
    assert_eq!(t.count("jobs").await, 1);
    assert_eq!(t.count("deliveries").await, 0);
    let ev = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(ev.status, EventStatus::Received);
}

async fn a_c2b_payment_is_recorded_once_from_its_event(t: Adapter) {
    let mut p = NewPayment::pending(Provider::Mpesa, "c2b", Money::from_minor(100, Currency::Kes));
    p.state = PaymentState::Succeeded;
    p.provider_reference = Some("RKTQDM7W6S".into());
    for (i, expect_new) in [(0, true), (1, false)] {
        t.store.ingest(paystack_event(&format!("c2b{i}"))).await.unwrap();
        let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
        let mut again = p.clone();
        again.id = malipo_core::PaymentId::new();
        let done = t
            .store
            .complete_job(
                job.id,
                JobOutcome::apply(PaymentChange::Record(again), Some(delivery("payment.succeeded"))),
            )
            .await
            .unwrap();
        assert_eq!(done.delivery.is_some(), expect_new);
        assert_eq!(
            done.payment.unwrap().payment().provider_reference.as_deref(),
            Some("RKTQDM7W6S")
        );
    }
    assert_eq!(t.count("payments").await, 1);
}

async fn a_payment_without_a_provider_reference_is_recorded_once_by_its_id(t: Adapter) {
    let mut p = NewPayment::pending(Provider::Mpesa, "c2b", Money::from_minor(250, Currency::Kes));
    p.state = PaymentState::Succeeded;
    for (i, expect_new) in [(0, true), (1, false)] {
        t.store
            .ingest(paystack_event(&format!("noref{i}")))
            .await
            .unwrap();
        let job = t.store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
        let done = t
            .store
            .complete_job(
                job.id,
                JobOutcome::apply(
                    PaymentChange::Record(p.clone()),
                    Some(delivery("payment.succeeded")),
                ),
            )
            .await
            .unwrap();
        assert_eq!(done.delivery.is_some(), expect_new, "recording {i}");
        assert_eq!(done.payment.unwrap().payment().id, p.id);
    }
    assert_eq!(t.count("payments").await, 1);
}

crate::on_both!(
    a_payment_without_a_provider_reference_is_recorded_once_by_its_id,
    claim_leases_a_job_so_nobody_else_gets_it_and_complete_removes_it,
    an_expired_lease_is_claimed_again,
    claims_respect_the_limit_and_hand_out_each_job_once,
    fail_with_retry_releases_the_job_then_giving_up_marks_the_event_failed,
    a_retry_in_the_future_is_not_due_yet,
    completion_applies_the_payment_change_and_its_delivery_together,
    a_refused_transition_still_completes_the_job_and_notes_why,
    a_failing_change_rolls_the_whole_completion_back,
    a_c2b_payment_is_recorded_once_from_its_event,
);
