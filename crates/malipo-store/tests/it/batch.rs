//! `complete_jobs` and `find_payments`: a worker's whole batch in one write and one read.

use std::time::Duration;

use malipo_core::{Currency, EventId, EventStatus, JobId, Money, PaymentId, PaymentState, Provider};
use malipo_store::{
    Job, JobOutcome, NewDelivery, NewPayment, PaymentChange, PaymentEffect, PaymentKey, PaymentRecord,
    StoreError, TransitionDetail,
};

use crate::{count_rows, paystack_event, Adapter, HasStore, TestStore};

const LEASE: Duration = Duration::from_secs(60);

/// Ingests `n` events and claims their jobs, oldest first.
async fn claimed(t: &impl HasStore, n: usize) -> (Vec<EventId>, Vec<Job>) {
    let mut events = Vec::new();
    for i in 0..n {
        let key = format!("batch-{i}");
        events.push(t.store().ingest(paystack_event(&key)).await.unwrap().id());
    }
    let jobs = t.store().claim_jobs("w", n, LEASE).await.unwrap();
    assert_eq!(jobs.len(), n);
    let order: Vec<EventId> = jobs.iter().map(|j| j.event.id).collect();
    let mut sorted = order.clone();
    sorted.sort();
    let mut expected = events.clone();
    expected.sort();
    assert_eq!(sorted, expected, "every event's job is claimed");
    (order, jobs)
}

async fn pending_payment(t: &impl HasStore, reference: Option<&str>) -> PaymentRecord {
    let mut p = NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(50_000, Currency::Ngn),
    );
    p.provider_reference = reference.map(str::to_string);
    t.store().insert_payment(p).await.unwrap()
}

fn delivery(kind: &str) -> Option<NewDelivery> {
    Some(NewDelivery {
        event_type: kind.into(),
        payload: bytes::Bytes::from_static(br#"{"type":"payment"}"#),
        payment_id: None,
        event_id: None,
        first_attempt_at: None,
    })
}

fn move_to(payment: PaymentId, to: PaymentState, kind: &str) -> JobOutcome {
    JobOutcome::apply(
        PaymentChange::Transition {
            id: payment,
            to,
            detail: TransitionDetail::default(),
        },
        delivery(kind),
    )
}

async fn status(t: &impl HasStore, id: EventId) -> (EventStatus, Option<String>) {
    let ev = t.store().get_event(id).await.unwrap().unwrap();
    (ev.status, ev.last_error.clone())
}

#[tokio::test]
async fn a_batch_is_one_write_and_answers_each_job_in_order() {
    let t = TestStore::open();
    let (events, jobs) = claimed(&t, 3).await;
    // The middle job was completed by another worker whose lease overlapped.
    t.store
        .complete_job(jobs[1].id, JobOutcome::processed())
        .await
        .unwrap();
    let before = t.sqlite.writer_stats();
    let done = t
        .store
        .complete_jobs(jobs.iter().map(|j| (j.id, JobOutcome::processed())).collect())
        .await
        .unwrap();
    let after = t.sqlite.writer_stats();
    assert_eq!(
        after.requests - before.requests,
        1,
        "one write request for the batch"
    );
    assert_eq!(after.commits - before.commits, 1, "one commit for the batch");

    assert_eq!(done.len(), 3);
    assert!(matches!(&done[0], Ok(c) if c.payment.is_none() && c.delivery.is_none()));
    assert!(
        matches!(&done[1], Err(StoreError::NotFound { what: "job", .. })),
        "{:?}",
        done[1]
    );
    assert!(done[2].is_ok());
    for id in events {
        assert_eq!(status(&t, id).await, (EventStatus::Processed, None));
    }
    assert_eq!(count_rows(&t.path(), "jobs"), 0);
    let stats = t.store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Processed), 3);
    assert_eq!(stats.events_in(EventStatus::Received), 0);
}

#[tokio::test]
async fn an_empty_batch_does_nothing() {
    let t = TestStore::open();
    let before = t.sqlite.writer_stats();
    assert!(t.store.complete_jobs(Vec::new()).await.unwrap().is_empty());
    assert!(t.store.find_payments(&[]).await.unwrap().is_empty());
    assert_eq!(t.sqlite.writer_stats(), before);
}

async fn a_later_job_sees_an_earlier_ones_move_of_the_same_payment(t: Adapter) {
    let payment = pending_payment(&t, None).await;
    let (events, jobs) = claimed(&t, 3).await;
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                move_to(payment.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
            // Paystack sent the success twice under two event ids.
            (
                jobs[1].id,
                move_to(payment.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
            // A late cancellation.
            (
                jobs[2].id,
                move_to(payment.id, PaymentState::Cancelled, "payment.cancelled"),
            ),
        ])
        .await
        .unwrap();
    let [first, repeat, late] = <[_; 3]>::try_from(done).unwrap().map(Result::unwrap);
    assert!(matches!(
        first.payment,
        Some(PaymentEffect::Changed {
            previous: Some(PaymentState::Pending),
            ..
        })
    ));
    assert!(first.delivery.is_some());
    assert!(
        matches!(&repeat.payment, Some(PaymentEffect::Unchanged(p)) if p.state == PaymentState::Succeeded)
    );
    assert_eq!(repeat.delivery, None, "a repeat notifies nobody");
    assert!(matches!(late.payment, Some(PaymentEffect::Refused { .. })));
    assert_eq!(late.delivery, None);

    assert_eq!(t.count("deliveries").await, 1);
    let stored = t.store.get_payment(payment.id).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Succeeded);
    assert_eq!(status(&t, events[1]).await, (EventStatus::Processed, None));
    // A move the store refused is suspicious, as the same event arriving after the move is.
    assert_eq!(
        status(&t, events[2]).await,
        (
            EventStatus::Suspicious,
            Some("a payment cannot go from succeeded to cancelled".into())
        )
    );
}

async fn a_payment_recorded_by_one_job_is_there_for_the_next(t: Adapter) {
    let (_, jobs) = claimed(&t, 3).await;
    let mut charge = NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(700, Currency::Ngn),
    );
    charge.provider_reference = Some("ref-1".into());
    let mut again = charge.clone();
    again.id = PaymentId::new();
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                JobOutcome::apply(PaymentChange::Record(charge.clone()), delivery("payment.pending")),
            ),
            (
                jobs[1].id,
                JobOutcome::apply(PaymentChange::Record(again), delivery("payment.pending")),
            ),
            (
                jobs[2].id,
                move_to(charge.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
        ])
        .await
        .unwrap();
    let [recorded, duplicate, moved] = <[_; 3]>::try_from(done).unwrap().map(Result::unwrap);
    assert!(matches!(
        recorded.payment,
        Some(PaymentEffect::Changed { previous: None, .. })
    ));
    assert!(
        matches!(&duplicate.payment, Some(PaymentEffect::Unchanged(p)) if p.id == charge.id),
        "the same provider reference is recorded once"
    );
    assert_eq!(duplicate.delivery, None);
    assert!(matches!(
        moved.payment,
        Some(PaymentEffect::Changed {
            previous: Some(PaymentState::Pending),
            ..
        })
    ));
    assert_eq!(t.count("payments").await, 1);
    assert_eq!(t.count("deliveries").await, 2);
}

async fn a_recorded_reference_answers_with_its_holder_as_the_jobs_before_left_it(t: Adapter) {
    let a = pending_payment(&t, None).await;
    let holder = pending_payment(&t, Some("held")).await;
    let (_, jobs) = claimed(&t, 4).await;
    let record = || {
        let mut p = NewPayment::pending(
            Provider::Paystack,
            "charge",
            Money::from_minor(50_000, Currency::Ngn),
        );
        p.provider_reference = Some("held".into());
        JobOutcome::apply(PaymentChange::Record(p), None)
    };
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                move_to(a.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
            (jobs[1].id, record()),
            (
                jobs[2].id,
                move_to(holder.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
            (jobs[3].id, record()),
        ])
        .await
        .unwrap();
    let [moved_a, before, moved, after] = <[_; 4]>::try_from(done).unwrap().map(Result::unwrap);
    assert!(matches!(moved_a.payment, Some(PaymentEffect::Changed { .. })));
    assert!(
        matches!(&before.payment, Some(PaymentEffect::Unchanged(p)) if p.id == holder.id && p.state == PaymentState::Pending),
        "{before:?}"
    );
    assert!(matches!(
        moved.payment,
        Some(PaymentEffect::Changed {
            previous: Some(PaymentState::Pending),
            ..
        })
    ));
    assert!(
        matches!(&after.payment, Some(PaymentEffect::Unchanged(p)) if p.id == holder.id && p.state == PaymentState::Succeeded),
        "{after:?}"
    );
    assert_eq!(t.count("payments").await, 2);
}

async fn a_large_batch_records_each_reference_once_in_job_order(t: Adapter) {
    const N: usize = 60;
    let (_, jobs) = claimed(&t, N + 1).await;
    let payment = |i: usize| {
        let mut p = NewPayment::pending(
            Provider::Paystack,
            "charge",
            Money::from_minor(100 + i as u64, Currency::Ngn),
        );
        p.provider_reference = Some(format!("ref-{i}"));
        p
    };
    let mut outcomes: Vec<_> = (0..N)
        .map(|i| {
            (
                jobs[i].id,
                JobOutcome::apply(PaymentChange::Record(payment(i)), None),
            )
        })
        .collect();
    // The last job records the first reference again, under another id.
    outcomes.push((
        jobs[N].id,
        JobOutcome::apply(PaymentChange::Record(payment(0)), None),
    ));
    let done = t.store.complete_jobs(outcomes).await.unwrap();
    for (i, d) in done.iter().take(N).enumerate() {
        match &d.as_ref().unwrap().payment {
            Some(PaymentEffect::Changed {
                payment,
                previous: None,
            }) => {
                assert_eq!(
                    payment.provider_reference.as_deref(),
                    Some(format!("ref-{i}").as_str())
                );
                assert_eq!(payment.amount.minor(), 100 + i as u64);
            }
            other => panic!("job {i}: {other:?}"),
        }
    }
    assert!(
        matches!(&done[N].as_ref().unwrap().payment, Some(PaymentEffect::Unchanged(p)) if p.amount.minor() == 100),
        "{:?}",
        done[N]
    );
    assert_eq!(t.count("payments").await, N as i64);
    assert_eq!(t.count("jobs").await, 0);
}

async fn a_failing_job_is_undone_alone(t: Adapter) {
    let a = pending_payment(&t, None).await;
    let c = pending_payment(&t, None).await;
    let (events, jobs) = claimed(&t, 3).await;
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                move_to(a.id, PaymentState::Succeeded, "payment.succeeded"),
            ),
            // Its payment does not exist: the job, its event status and its delivery all stay
            // as they were.
            (
                jobs[1].id,
                move_to(PaymentId::new(), PaymentState::Succeeded, "payment.succeeded"),
            ),
            (jobs[2].id, move_to(c.id, PaymentState::Failed, "payment.failed")),
        ])
        .await
        .unwrap();
    assert!(done[0].as_ref().unwrap().delivery.is_some());
    assert!(
        matches!(&done[1], Err(StoreError::NotFound { what: "payment", .. })),
        "{:?}",
        done[1]
    );
    assert!(done[2].as_ref().unwrap().delivery.is_some());

    assert_eq!(t.count("jobs").await, 1, "the failed job is still queued");
    assert_eq!(t.count("deliveries").await, 2);
    assert_eq!(status(&t, events[0]).await.0, EventStatus::Processed);
    assert_eq!(status(&t, events[1]).await, (EventStatus::Received, None));
    assert_eq!(status(&t, events[2]).await.0, EventStatus::Processed);
    let stats = t.store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Received), 1);
    assert_eq!(stats.events_in(EventStatus::Processed), 2);
    // The job can still be failed or completed by its worker.
    t.store
        .fail_job(jobs[1].id, "no such payment", None)
        .await
        .unwrap();
    assert_eq!(status(&t, events[1]).await.0, EventStatus::Failed);
    assert_eq!(
        t.store.get_payment(c.id).await.unwrap().unwrap().state,
        PaymentState::Failed
    );
}

async fn unknown_jobs_are_not_found_and_change_nothing(t: Adapter) {
    let done = t
        .store
        .complete_jobs(vec![(JobId::new(), JobOutcome::processed())])
        .await
        .unwrap();
    assert!(matches!(&done[0], Err(StoreError::NotFound { what: "job", .. })));
    assert_eq!(t.count("events").await, 0);
}

async fn a_batch_of_one_job_completes_it_and_its_payment_change(t: Adapter) {
    let p = pending_payment(&t, Some("one")).await;
    let (events, jobs) = claimed(&t, 1).await;
    let done = t
        .store
        .complete_jobs(vec![(
            jobs[0].id,
            move_to(p.id, PaymentState::Succeeded, "payment.succeeded"),
        )])
        .await
        .unwrap();
    assert!(matches!(
        &done[0],
        Ok(c) if matches!(c.payment, Some(PaymentEffect::Changed { .. })) && c.delivery.is_some()
    ));
    assert_eq!(status(&t, events[0]).await, (EventStatus::Processed, None));
    assert_eq!(t.count("jobs").await, 0);
    assert_eq!(t.count("deliveries").await, 1);
    let stored = t.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Succeeded);
}

async fn find_payments_answers_each_key_in_order(t: Adapter) {
    let a = pending_payment(&t, Some("ref-a")).await;
    let b = pending_payment(&t, None).await;
    let found = t
        .store
        .find_payments(&[
            PaymentKey::Id(b.id),
            PaymentKey::ProviderRef(Provider::Paystack, "ref-a".into()),
            PaymentKey::ProviderRef(Provider::Mpesa, "ref-a".into()),
            PaymentKey::Id(PaymentId::new()),
            PaymentKey::Id(a.id),
        ])
        .await
        .unwrap();
    assert_eq!(found, [Some(b), Some(a.clone()), None, None, Some(a)]);
}

crate::on_both!(
    a_recorded_reference_answers_with_its_holder_as_the_jobs_before_left_it,
    a_large_batch_records_each_reference_once_in_job_order,
    a_batch_of_one_job_completes_it_and_its_payment_change,
    a_later_job_sees_an_earlier_ones_move_of_the_same_payment,
    a_payment_recorded_by_one_job_is_there_for_the_next,
    a_failing_job_is_undone_alone,
    unknown_jobs_are_not_found_and_change_nothing,
    find_payments_answers_each_key_in_order,
);
