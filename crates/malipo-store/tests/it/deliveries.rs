use std::time::Duration;

use bytes::Bytes;
use malipo_store::{DeliveryFilter, DeliveryStatus, NewDelivery, StoreError};

use crate::TestStore;

const LEASE: Duration = Duration::from_secs(30);

fn new(kind: &str) -> NewDelivery {
    NewDelivery {
        event_type: kind.into(),
        payload: Bytes::from_static(br#"{"type":"payment.succeeded","data":{}}"#),
        payment_id: Some(malipo_core::PaymentId::new()),
        event_id: None,
        first_attempt_at: None,
    }
}

#[tokio::test]
async fn a_delivery_is_leased_retried_and_delivered() {
    let t = TestStore::open();
    let id = t.store.enqueue_delivery(new("payment.succeeded")).await.unwrap();
    let claimed = t.store.claim_deliveries("d1", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(&claimed[0].payload[..], &new("x").payload[..]);
    assert!(t
        .store
        .claim_deliveries("d2", 10, LEASE)
        .await
        .unwrap()
        .is_empty());

    let status = t
        .store
        .fail_delivery(id, Some(503), "merchant answered 503", Some(chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(status, DeliveryStatus::Pending);
    let again = t.store.claim_deliveries("d1", 10, LEASE).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].last_status, Some(503));
    t.store.complete_delivery(id, 200).await.unwrap();
    let done = t.store.get_delivery(id).await.unwrap().unwrap();
    assert_eq!(done.status, DeliveryStatus::Delivered);
    assert_eq!(done.last_status, Some(200));
    assert!(t
        .store
        .claim_deliveries("d1", 10, LEASE)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn retries_running_out_dead_letter_and_redeliver_brings_it_back() {
    let t = TestStore::open();
    let id = t.store.enqueue_delivery(new("payment.failed")).await.unwrap();
    t.store.claim_deliveries("d", 1, LEASE).await.unwrap();
    let status = t
        .store
        .fail_delivery(id, None, "connection refused", None)
        .await
        .unwrap();
    assert_eq!(status, DeliveryStatus::DeadLetter);
    let stats = t.store.stats().await.unwrap();
    assert_eq!((stats.deliveries_pending, stats.deliveries_dead), (0, 1));
    let dead = t
        .store
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::DeadLetter),
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("connection refused"));
    assert!(t.store.claim_deliveries("d", 1, LEASE).await.unwrap().is_empty());

    t.store.redeliver(id).await.unwrap();
    assert_eq!(t.store.claim_deliveries("d", 1, LEASE).await.unwrap().len(), 1);
    assert!(matches!(
        t.store.redeliver(malipo_core::DeliveryId::new()).await,
        Err(StoreError::NotFound { what: "delivery", .. })
    ));
}

#[tokio::test]
async fn scheduled_and_expired_leases() {
    let t = TestStore::open();
    let mut later = new("payment.succeeded");
    later.first_attempt_at = Some(chrono::Utc::now() + chrono::Duration::minutes(1));
    t.store.enqueue_delivery(later).await.unwrap();
    assert!(t.store.claim_deliveries("d", 10, LEASE).await.unwrap().is_empty());

    let id = t.store.enqueue_delivery(new("payment.succeeded")).await.unwrap();
    let first = t
        .store
        .claim_deliveries("crashed", 10, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(first[0].id, id);
    let again = t.store.claim_deliveries("d", 10, LEASE).await.unwrap();
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [id]);
}

#[tokio::test]
async fn list_by_payment() {
    let t = TestStore::open();
    let d = new("payment.succeeded");
    let payment = d.payment_id;
    let a = t.store.enqueue_delivery(d.clone()).await.unwrap();
    let b = t.store.enqueue_delivery(d).await.unwrap();
    t.store.enqueue_delivery(new("other")).await.unwrap();
    let listed = t
        .store
        .list_deliveries(&DeliveryFilter {
            payment_id: payment,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let mut listed: Vec<_> = listed.iter().map(|d| d.id).collect();
    listed.sort();
    let mut expected = [a, b];
    expected.sort();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn debug_output_withholds_payloads() {
    let t = TestStore::open();
    let mut d = new("payment.succeeded");
    d.payload = Bytes::from_static(br#"{"customer":{"phone":"254712345678"}}"#);
    assert!(!format!("{d:?}").contains("254712345678"));
    let id = t.store.enqueue_delivery(d).await.unwrap();
    let stored = t.store.get_delivery(id).await.unwrap().unwrap();
    assert!(!format!("{stored:?}").contains("254712345678"));
}
