//! Leases and their owners: who holds one, and ending every lease of an owner that is gone.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use malipo_store::{DeliveryStatus, NewDelivery};

use crate::{paystack_event, Adapter};

const LEASE: Duration = Duration::from_secs(60);

fn delivery() -> NewDelivery {
    NewDelivery {
        event_type: "payment.succeeded".into(),
        payload: Bytes::from_static(br#"{"type":"payment.succeeded","data":{}}"#),
        payment_id: Some(malipo_core::PaymentId::new()),
        event_id: None,
        first_attempt_at: None,
    }
}

async fn the_leases_of_a_gone_owner_end_at_once_and_no_one_elses(t: Adapter) {
    let s = &t.store;
    // Jobs: one leased to `gone`, one to `alive`, one whose lease ran out, one never claimed.
    let mut claimed = Vec::new();
    for (key, owner, lease) in [
        ("a", "gone", LEASE),
        ("b", "alive", LEASE),
        ("c", "expired", Duration::ZERO),
    ] {
        let id = s.ingest(paystack_event(key)).await.unwrap().id();
        let jobs = s.claim_jobs(owner, 1, lease).await.unwrap();
        assert_eq!(jobs[0].event.id, id, "{owner} holds {key}");
        claimed.push(id);
    }
    let unclaimed = s.ingest(paystack_event("d")).await.unwrap().id();
    // Deliveries: one leased to `gone`, one to `alive`, and one `gone` tried and scheduled for a
    // retry in an hour (no longer leased: its schedule is not the lease's to change).
    let mut deliveries = Vec::new();
    for owner in ["gone", "alive", "gone"] {
        let id = s.enqueue_delivery(delivery()).await.unwrap();
        assert_eq!(s.claim_deliveries(owner, 1, LEASE).await.unwrap()[0].id, id);
        deliveries.push(id);
    }
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let status = s
        .fail_delivery(deliveries[2], Some(503), "merchant answered 503", Some(later))
        .await
        .unwrap();
    assert_eq!(status, DeliveryStatus::Pending);

    assert_eq!(
        s.lease_owners().await.unwrap(),
        ["alive", "gone"],
        "a lease that ran out is nobody's"
    );
    assert_eq!(
        s.release_leases("gone").await.unwrap(),
        2,
        "one job, one delivery"
    );
    assert_eq!(s.lease_owners().await.unwrap(), ["alive"]);
    assert_eq!(s.release_leases("gone").await.unwrap(), 0);
    assert_eq!(s.release_leases("nobody").await.unwrap(), 0);

    // Due now: the released job, the expired one and the unclaimed one, but not `alive`'s.
    let due: HashSet<_> = s
        .claim_jobs("next", 10, LEASE)
        .await
        .unwrap()
        .iter()
        .map(|j| j.event.id)
        .collect();
    assert_eq!(due, HashSet::from([claimed[0], claimed[2], unclaimed]));
    // The released delivery, and neither `alive`'s nor the one waiting for its retry.
    let due: Vec<_> = s
        .claim_deliveries("next", 10, LEASE)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(due, [deliveries[0]]);
    assert_eq!(s.lease_owners().await.unwrap(), ["alive", "next"]);
}

crate::on_both!(the_leases_of_a_gone_owner_end_at_once_and_no_one_elses);
