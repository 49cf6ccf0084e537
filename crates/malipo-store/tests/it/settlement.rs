//! What settlement needs from the store: both request ids, refunds that keep a total, and
//! suspicious events counted.

use malipo_core::{Currency, EventStatus, Money, PaymentState, Provider};
use malipo_store::{JobOutcome, NewPayment, PaymentChange, PaymentEffect, StoreError, TransitionDetail};

use crate::{paystack_event, Adapter};

fn kes(minor: u64) -> Money {
    Money::from_minor(minor, Currency::Kes)
}

async fn both_request_ids_are_recorded_once_and_never_replaced(t: Adapter) {
    let p = t
        .store
        .insert_payment(NewPayment::pending(Provider::Mpesa, "stk_push", kes(100)))
        .await
        .unwrap();
    assert_eq!(p.provider_request_id, None);
    assert_eq!(p.refunded, kes(0));
    let set = t
        .store
        .set_payment_references(p.id, "ws_CO_1", "29115-1-1")
        .await
        .unwrap();
    assert_eq!(set.provider_reference.as_deref(), Some("ws_CO_1"));
    assert_eq!(set.provider_request_id.as_deref(), Some("29115-1-1"));
    // Again with the same values: fine.
    t.store
        .set_payment_references(p.id, "ws_CO_1", "29115-1-1")
        .await
        .unwrap();
    // Another request id: refused, nothing changed.
    let err = t
        .store
        .set_payment_references(p.id, "ws_CO_1", "other")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let read = t.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(read.provider_request_id.as_deref(), Some("29115-1-1"));
    // A reference another payment holds: refused.
    let q = t
        .store
        .insert_payment(NewPayment::pending(Provider::Mpesa, "stk_push", kes(100)))
        .await
        .unwrap();
    let err = t
        .store
        .set_payment_references(q.id, "ws_CO_1", "29115-2-2")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
}

async fn complete(t: &Adapter, change: PaymentChange) -> Result<PaymentEffect, StoreError> {
    t.store
        .ingest(paystack_event(&malipo_core::EventId::new().to_string()))
        .await
        .unwrap();
    let job = t
        .store
        .claim_jobs("w", 1, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .pop()
        .unwrap();
    t.store
        .complete_job(job.id, JobOutcome::apply(change, None))
        .await
        .map(|c| c.payment.unwrap())
}

async fn a_partial_refund_then_the_rest_refunds_the_payment_in_full(t: Adapter) {
    let p = t
        .store
        .insert_payment(NewPayment {
            state: PaymentState::Succeeded,
            ..NewPayment::pending(Provider::Paystack, "charge", kes(10_000))
        })
        .await
        .unwrap();
    let refund = |minor| PaymentChange::Refund {
        id: p.id,
        amount: kes(minor),
        detail: TransitionDetail::default(),
    };
    let effect = complete(&t, refund(4_000)).await.unwrap();
    assert_eq!(effect.payment().state, PaymentState::PartiallyRefunded);
    assert_eq!(effect.payment().refunded, kes(4_000));
    assert_eq!(effect.payment().refundable(), kes(6_000));
    // More than remains: refused, nothing changed.
    assert!(complete(&t, refund(6_001)).await.is_err());
    let effect = complete(&t, refund(6_000)).await.unwrap();
    assert_eq!(effect.payment().state, PaymentState::Refunded);
    assert_eq!(effect.payment().refunded, kes(10_000));
    assert!(complete(&t, refund(1)).await.is_err());
}

async fn a_refund_of_a_pending_payment_is_refused(t: Adapter) {
    let p = t
        .store
        .insert_payment(NewPayment::pending(Provider::Paystack, "charge", kes(100)))
        .await
        .unwrap();
    let effect = complete(
        &t,
        PaymentChange::Refund {
            id: p.id,
            amount: kes(100),
            detail: TransitionDetail::default(),
        },
    )
    .await
    .unwrap();
    assert!(matches!(effect, PaymentEffect::Refused { .. }));
    assert_eq!(effect.payment().state, PaymentState::Pending);
}

async fn suspicious_events_are_counted_and_listed(t: Adapter) {
    t.store.ingest(paystack_event("s")).await.unwrap();
    let job = t
        .store
        .claim_jobs("w", 1, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .pop()
        .unwrap();
    t.store
        .complete_job(
            job.id,
            JobOutcome {
                event_status: EventStatus::Suspicious,
                note: Some("amount KES 1.00 is not the payment's KES 40.40".into()),
                ..JobOutcome::processed()
            },
        )
        .await
        .unwrap();
    let stats = t.store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Suspicious), 1);
    let listed = t
        .store
        .list_events(&malipo_store::EventFilter {
            status: Some(EventStatus::Suspicious),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_error.as_deref().unwrap().contains("KES 1.00"));
}

crate::on_both!(
    both_request_ids_are_recorded_once_and_never_replaced,
    a_partial_refund_then_the_rest_refunds_the_payment_in_full,
    a_refund_of_a_pending_payment_is_refused,
    suspicious_events_are_counted_and_listed,
);
