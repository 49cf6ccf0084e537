//! What the reconciler, payouts and refunds keep on payments: how a payment was settled, the
//! check schedule, and refunds checked against what is left of their parent.

use chrono::{Duration, Utc};
use malipo_core::{Currency, Money, PaymentState, Provider};
use malipo_store::{NewPayment, PaymentCheck, SettledBy, StoreError, TransitionDetail};

use crate::Adapter;

fn charge(minor: u64) -> NewPayment {
    NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(minor, Currency::Ngn),
    )
}

fn by(settled_by: SettledBy) -> TransitionDetail {
    TransitionDetail {
        settled_by: Some(settled_by),
        ..TransitionDetail::default()
    }
}

async fn settled_by_is_kept_from_the_move_that_settled(t: Adapter) {
    let p = t.store.insert_payment(charge(100)).await.unwrap();
    assert_eq!(p.settled_by, None);
    let moved = t
        .store
        .transition_payment(p.id, PaymentState::Succeeded, by(SettledBy::Query))
        .await
        .unwrap();
    assert_eq!(moved.payment.settled_by, Some(SettledBy::Query));
    // A late callback repeating the state changes nothing about how it was settled.
    let repeat = t
        .store
        .transition_payment(p.id, PaymentState::Succeeded, by(SettledBy::Callback))
        .await
        .unwrap();
    assert!(!repeat.changed());
    assert_eq!(repeat.payment.settled_by, Some(SettledBy::Query));
    let read = t.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(read.settled_by, Some(SettledBy::Query));
    // A payment learnt of already settled came from the provider's own callback.
    let c2b = t
        .store
        .insert_payment(NewPayment {
            state: PaymentState::Succeeded,
            ..charge(5)
        })
        .await
        .unwrap();
    assert_eq!(c2b.settled_by, Some(SettledBy::Callback));
    let read = t.store.get_payment(c2b.id).await.unwrap().unwrap();
    assert_eq!(read.settled_by, Some(SettledBy::Callback));
}

async fn due_checks_follow_the_schedule_and_skip_held_and_settled_payments(t: Adapter) {
    let now = Utc::now();
    let fresh = t.store.insert_payment(charge(1)).await.unwrap();
    let later = t.store.insert_payment(charge(2)).await.unwrap();
    let held = t.store.insert_payment(charge(3)).await.unwrap();
    let settled = t.store.insert_payment(charge(4)).await.unwrap();
    t.store
        .transition_payment(settled.id, PaymentState::Failed, TransitionDetail::default())
        .await
        .unwrap();
    let scheduled = t
        .store
        .record_payment_check(
            later.id,
            PaymentCheck {
                asked: true,
                next_at: Some(now + Duration::minutes(5)),
                note: Some("still processing".into()),
                hold: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(scheduled.check.attempts, 1);
    assert_eq!(scheduled.check.note.as_deref(), Some("still processing"));
    assert_eq!(
        scheduled.check.next_at.map(|t| t.timestamp_millis()),
        Some((now + Duration::minutes(5)).timestamp_millis())
    );
    t.store
        .record_payment_check(
            held.id,
            PaymentCheck {
                asked: true,
                note: Some("amount differs".into()),
                hold: true,
                ..PaymentCheck::default()
            },
        )
        .await
        .unwrap();

    let due: Vec<_> = t
        .store
        .due_payment_checks(now, 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(due, vec![fresh.id]);
    let due: Vec<_> = t
        .store
        .due_payment_checks(now + Duration::minutes(6), 10)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(due, vec![fresh.id, later.id]);

    // A payment no longer pending keeps its schedule as it was.
    let untouched = t
        .store
        .record_payment_check(
            settled.id,
            PaymentCheck {
                asked: true,
                ..PaymentCheck::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(untouched.check.attempts, 0);
}

async fn refunds_are_refused_beyond_what_is_left_and_move_the_parent(t: Adapter) {
    let parent = t.store.insert_payment(charge(10_000)).await.unwrap();
    let refund = |minor: u64| NewPayment {
        parent_id: Some(parent.id),
        ..NewPayment::pending(
            Provider::Paystack,
            "refund",
            Money::from_minor(minor, Currency::Ngn),
        )
    };
    // Not succeeded yet: no refund.
    assert!(matches!(
        t.store.insert_child_payment(refund(100)).await,
        Err(StoreError::Invalid(_))
    ));
    t.store
        .transition_payment(parent.id, PaymentState::Succeeded, by(SettledBy::Callback))
        .await
        .unwrap();
    let first = t.store.insert_child_payment(refund(4_000)).await.unwrap();
    assert_eq!(first.parent_id, Some(parent.id));
    // The pending refund is spoken for: 6,000 is left, not 10,000.
    let e = t.store.insert_child_payment(refund(7_000)).await.unwrap_err();
    assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    assert!(matches!(
        t.store
            .insert_child_payment(NewPayment {
                parent_id: Some(parent.id),
                ..NewPayment::pending(
                    Provider::Paystack,
                    "refund",
                    Money::from_minor(100, Currency::Ghs)
                )
            })
            .await,
        Err(StoreError::Invalid(_))
    ));
    let second = t.store.insert_child_payment(refund(6_000)).await.unwrap();
    assert_eq!(t.store.child_payments(parent.id).await.unwrap().len(), 2);

    t.store
        .transition_payment(first.id, PaymentState::Succeeded, by(SettledBy::Query))
        .await
        .unwrap();
    let p = t.store.get_payment(parent.id).await.unwrap().unwrap();
    assert_eq!(p.state, PaymentState::PartiallyRefunded);
    assert_eq!(p.settled_by, Some(SettledBy::Callback));
    t.store
        .transition_payment(second.id, PaymentState::Succeeded, by(SettledBy::Callback))
        .await
        .unwrap();
    let p = t.store.get_payment(parent.id).await.unwrap().unwrap();
    assert_eq!(p.state, PaymentState::Refunded);
    // Nothing is left.
    assert!(matches!(
        t.store.insert_child_payment(refund(1)).await,
        Err(StoreError::Invalid(_))
    ));
    let missing = NewPayment {
        parent_id: Some(malipo_core::PaymentId::new()),
        ..refund(1)
    };
    assert!(matches!(
        t.store.insert_child_payment(missing).await,
        Err(StoreError::NotFound { .. })
    ));
}

crate::on_both!(
    settled_by_is_kept_from_the_move_that_settled,
    due_checks_follow_the_schedule_and_skip_held_and_settled_payments,
    refunds_are_refused_beyond_what_is_left_and_move_the_parent,
);
