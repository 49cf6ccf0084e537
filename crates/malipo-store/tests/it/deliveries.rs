use std::time::Duration;

use bytes::Bytes;
use malipo_store::{DeliveryFilter, DeliveryStatus, NewDelivery, StoreError};

use crate::{Adapter, TestStore};

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

async fn a_delivery_is_leased_retried_and_delivered(t: Adapter) {
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

async fn retries_running_out_dead_letter_and_redeliver_brings_it_back(t: Adapter) {
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
    let again = t.store.claim_deliveries("d", 1, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1, "a manual retry starts the schedule over");
    assert_eq!(
        again[0].last_error.as_deref(),
        Some("connection refused"),
        "the last failure stays visible"
    );
    assert!(matches!(
        t.store.redeliver(malipo_core::DeliveryId::new()).await,
        Err(StoreError::NotFound { what: "delivery", .. })
    ));
}

async fn scheduled_and_expired_leases(t: Adapter) {
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

async fn list_by_payment(t: Adapter) {
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

async fn debug_output_withholds_payloads(t: Adapter) {
    let mut d = new("payment.succeeded");
    d.payload = Bytes::from_static(br#"{"customer":{"phone":"254712345678"}}"#);
    assert!(!format!("{d:?}").contains("254712345678"));
    let id = t.store.enqueue_delivery(d).await.unwrap();
    let stored = t.store.get_delivery(id).await.unwrap().unwrap();
    assert!(!format!("{stored:?}").contains("254712345678"));
}

// ---- The outbox: payment changes announced to merchant endpoints ----

fn endpoint(name: &str, types: &[&str]) -> malipo_store::NewEndpoint {
    malipo_store::NewEndpoint {
        name: name.into(),
        url: format!("https://{name}.example/webhooks"),
        secret: malipo_core::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        event_types: types.iter().map(|s| s.to_string()).collect(),
        enabled: true,
        allow_private: false,
    }
}

fn pending(kind: &str) -> malipo_store::NewPayment {
    let mut p = malipo_store::NewPayment::pending(
        malipo_core::Provider::Mpesa,
        kind,
        malipo_core::Money::from_minor(15_050, malipo_core::Currency::Kes),
    );
    p.merchant_reference = Some("order-42".into());
    p.metadata = Some(serde_json::json!({"cart": 7}));
    p
}

const OVERLAP: Duration = Duration::from_secs(24 * 3600);

async fn all_deliveries(t: &Adapter) -> Vec<malipo_store::DeliveryRecord> {
    let mut all = t.store.list_deliveries(&DeliveryFilter::default()).await.unwrap();
    all.sort_by_key(|d| d.created_at);
    all
}

async fn a_state_change_fans_out_one_delivery_per_subscribed_endpoint(t: Adapter) {
    let all = t
        .store
        .upsert_endpoint(endpoint("all", &[]), OVERLAP)
        .await
        .unwrap();
    let failures = t
        .store
        .upsert_endpoint(endpoint("failures", &["payment.failed"]), OVERLAP)
        .await
        .unwrap();
    let off = t
        .store
        .upsert_endpoint(endpoint("off", &[]), OVERLAP)
        .await
        .unwrap();
    t.store.set_endpoint_enabled("off", false).await.unwrap();

    let p = t.store.insert_payment(pending("stk_push")).await.unwrap();
    assert!(all_deliveries(&t).await.is_empty(), "pending is not announced");
    t.store
        .transition_payment(
            p.id,
            malipo_core::PaymentState::Succeeded,
            malipo_store::TransitionDetail {
                receipt: Some("NLJ7RT61SV".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let ds = all_deliveries(&t).await;
    assert_eq!(
        ds.len(),
        1,
        "only the endpoint subscribed and enabled gets it: {ds:?}"
    );
    let d = &ds[0];
    assert_eq!(d.endpoint_id, Some(all.id));
    assert_eq!(d.event_type, "payment.succeeded");
    assert_eq!(d.payment_id, Some(p.id));
    let body: serde_json::Value = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(body["type"], "payment.succeeded");
    assert_eq!(body["version"], 1);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let data = &body["data"];
    assert_eq!(data["id"], p.id.to_string());
    assert_eq!(data["state"], "succeeded");
    assert_eq!(data["provider"], "mpesa");
    assert_eq!(data["kind"], "stk_push");
    assert_eq!(data["amount"]["minor"], 15_050);
    assert_eq!(data["amount"]["currency"], "KES");
    assert_eq!(data["merchant_reference"], "order-42");
    assert_eq!(data["receipt"], "NLJ7RT61SV");
    assert_eq!(data["metadata"]["cart"], 7);

    // Repeating the state announces nothing more.
    t.store
        .transition_payment(p.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await
        .unwrap();
    assert_eq!(all_deliveries(&t).await.len(), 1);

    let q = t.store.insert_payment(pending("stk_push")).await.unwrap();
    t.store
        .transition_payment(q.id, malipo_core::PaymentState::Failed, Default::default())
        .await
        .unwrap();
    let mut targets: Vec<_> = all_deliveries(&t)
        .await
        .into_iter()
        .filter(|d| d.payment_id == Some(q.id))
        .map(|d| d.endpoint_id.unwrap())
        .collect();
    targets.sort();
    let mut expected = vec![all.id, failures.id];
    expected.sort();
    assert_eq!(targets, expected);
    assert!(!targets.contains(&off.id));
}

async fn payouts_and_refunds_have_their_own_families_and_recorded_final_payments_are_announced(t: Adapter) {
    t.store
        .upsert_endpoint(endpoint("payouts", &["payout.*", "refund.*"]), OVERLAP)
        .await
        .unwrap();
    let b2c = t.store.insert_payment(pending("b2c")).await.unwrap();
    t.store
        .transition_payment(b2c.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await
        .unwrap();
    let stk = t.store.insert_payment(pending("stk_push")).await.unwrap();
    t.store
        .transition_payment(stk.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await
        .unwrap();
    let mut refund = pending("reversal");
    refund.state = malipo_core::PaymentState::Succeeded;
    t.store.insert_payment(refund).await.unwrap();
    // Sorted by name: the two deliveries may share a millisecond, and ids within one are random.
    let mut types: Vec<_> = all_deliveries(&t)
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(types, ["payout.succeeded", "refund.succeeded"]);
}

#[tokio::test]
async fn a_change_whose_transaction_rolls_back_announces_nothing() {
    let t = TestStore::open();
    t.store
        .upsert_endpoint(endpoint("all", &[]), OVERLAP)
        .await
        .unwrap();
    let p = t.store.insert_payment(pending("stk_push")).await.unwrap();
    // Make the transaction fail after the payment row moved: the delivery insert aborts.
    let conn = rusqlite::Connection::open(t.path()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER fail_deliveries BEFORE INSERT ON deliveries BEGIN \
         SELECT RAISE(ABORT, 'disk full, say'); END;",
    )
    .unwrap();
    let err = t
        .store
        .transition_payment(p.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await;
    assert!(
        err.is_err(),
        "the change fails when its announcement cannot be written"
    );
    let stored = t.store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        malipo_core::PaymentState::Pending,
        "the change rolled back"
    );
    assert_eq!(crate::count_rows(&t.path(), "deliveries"), 0, "nothing announced");

    conn.execute_batch("DROP TRIGGER fail_deliveries").unwrap();
    t.store
        .transition_payment(p.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await
        .unwrap();
    assert_eq!(
        crate::count_rows(&t.path(), "deliveries"),
        1,
        "the committed change is announced"
    );
}

async fn a_payments_deliveries_to_one_endpoint_are_claimed_in_order(t: Adapter) {
    let e = t
        .store
        .upsert_endpoint(endpoint("all", &[]), OVERLAP)
        .await
        .unwrap();
    let other = t
        .store
        .upsert_endpoint(endpoint("other", &[]), OVERLAP)
        .await
        .unwrap();
    let p = t.store.insert_payment(pending("charge")).await.unwrap();
    t.store
        .transition_payment(p.id, malipo_core::PaymentState::Succeeded, Default::default())
        .await
        .unwrap();
    t.store
        .transition_payment(
            p.id,
            malipo_core::PaymentState::PartiallyRefunded,
            Default::default(),
        )
        .await
        .unwrap();
    let q = t.store.insert_payment(pending("charge")).await.unwrap();
    t.store
        .transition_payment(q.id, malipo_core::PaymentState::Failed, Default::default())
        .await
        .unwrap();

    // The first of p's and q's: p's refund waits behind p's success.
    let first = t
        .store
        .claim_endpoint_deliveries(e.id, "s", 10, LEASE)
        .await
        .unwrap();
    let mut types: Vec<_> = first.iter().map(|d| d.event_type.as_str()).collect();
    types.sort();
    assert_eq!(types, ["payment.failed", "payment.succeeded"]);
    // A failed attempt keeps the order: the refund still waits.
    let succeeded = first
        .iter()
        .find(|d| d.event_type == "payment.succeeded")
        .unwrap();
    t.store
        .fail_delivery(
            succeeded.id,
            Some(500),
            "merchant answered 500",
            Some(chrono::Utc::now()),
        )
        .await
        .unwrap();
    let again = t
        .store
        .claim_endpoint_deliveries(e.id, "s", 10, LEASE)
        .await
        .unwrap();
    assert_eq!(again.iter().map(|d| d.id).collect::<Vec<_>>(), [succeeded.id]);
    t.store.complete_delivery(succeeded.id, 200).await.unwrap();
    let next = t
        .store
        .claim_endpoint_deliveries(e.id, "s", 10, LEASE)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event_type, "payment.partially_refunded");

    // The other endpoint has its own queue, untouched by the first one's state.
    let theirs = t
        .store
        .claim_endpoint_deliveries(other.id, "s", 10, LEASE)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|d| d.endpoint_id == Some(other.id)));

    // A disabled endpoint keeps its deliveries but none is claimed until it is enabled.
    t.store
        .set_endpoint_enabled(other.id.to_string().as_str(), false)
        .await
        .unwrap();
    for d in &theirs {
        t.store
            .fail_delivery(d.id, None, "x", Some(chrono::Utc::now()))
            .await
            .unwrap();
    }
    assert!(t
        .store
        .claim_endpoint_deliveries(other.id, "s", 10, LEASE)
        .await
        .unwrap()
        .is_empty());
    t.store.set_endpoint_enabled("other", true).await.unwrap();
    assert_eq!(
        t.store
            .claim_endpoint_deliveries(other.id, "s", 10, LEASE)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn endpoints_rotate_keep_disable_across_upserts_and_redact_secrets(t: Adapter) {
    let first = t
        .store
        .upsert_endpoint(endpoint("merchant", &[]), OVERLAP)
        .await
        .unwrap();
    assert_eq!(first.signing_secrets(chrono::Utc::now()).len(), 1);
    assert!(!format!("{first:?}").contains("MfKQ9r8"));

    let new_secret = malipo_core::Secret::new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string());
    let rotated = t
        .store
        .rotate_endpoint_secret("merchant", new_secret.clone(), OVERLAP)
        .await
        .unwrap();
    assert_eq!(rotated.secret, new_secret);
    assert_eq!(rotated.previous_secret, Some(first.secret.clone()));
    let now = chrono::Utc::now();
    assert_eq!(rotated.signing_secrets(now), [&new_secret, &first.secret]);
    assert_eq!(
        rotated.signing_secrets(now + chrono::Duration::hours(25)),
        [&new_secret]
    );

    // Disabled by an operator, re-read from the configuration: stays disabled, URL updated.
    t.store.set_endpoint_enabled("merchant", false).await.unwrap();
    let mut again = endpoint("merchant", &["payment.succeeded"]);
    again.url = "https://new.example/hook".into();
    again.secret = new_secret.clone();
    let updated = t.store.upsert_endpoint(again, OVERLAP).await.unwrap();
    assert_eq!(updated.id, first.id);
    assert!(!updated.enabled);
    assert_eq!(updated.url, "https://new.example/hook");
    assert_eq!(updated.event_types, ["payment.succeeded"]);
    assert_eq!(t.store.list_endpoints().await.unwrap().len(), 1);

    let mut bad = endpoint("x", &[]);
    bad.secret = malipo_core::Secret::new("hunter2-secret".into());
    let err = t
        .store
        .upsert_endpoint(bad, OVERLAP)
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("hunter2"), "{err}");
    let mut bad = endpoint("y", &["payment"]);
    bad.url = "ftp://x".into();
    assert!(matches!(
        t.store.upsert_endpoint(bad, OVERLAP).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        t.store.set_endpoint_enabled("nope", true).await,
        Err(StoreError::NotFound { what: "endpoint", .. })
    ));
}

async fn the_workers_job_completions_announce_in_their_own_transaction(t: Adapter) {
    use malipo_store::{JobOutcome, PaymentChange};
    t.store
        .upsert_endpoint(endpoint("all", &[]), OVERLAP)
        .await
        .unwrap();
    let p = t.store.insert_payment(pending("stk_push")).await.unwrap();
    let change = |to| PaymentChange::Transition {
        id: p.id,
        to,
        detail: Default::default(),
    };
    for key in ["a", "b", "c"] {
        t.store.ingest(crate::paystack_event(key)).await.unwrap();
    }
    let jobs = t.store.claim_jobs("w", 10, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 3);
    // One batch: succeeded, the same again (a repeat), then an illegal move back to failed.
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                JobOutcome::apply(change(malipo_core::PaymentState::Succeeded), None),
            ),
            (
                jobs[1].id,
                JobOutcome::apply(change(malipo_core::PaymentState::Succeeded), None),
            ),
            (
                jobs[2].id,
                JobOutcome::apply(change(malipo_core::PaymentState::Failed), None),
            ),
        ])
        .await
        .unwrap();
    assert!(done.iter().all(Result::is_ok));
    let ds = all_deliveries(&t).await;
    assert_eq!(
        ds.len(),
        1,
        "announced once, by the change that took effect: {ds:?}"
    );
    assert_eq!(ds[0].event_type, "payment.succeeded");

    // A job that fails in a batch is undone alone: its neighbour's change and announcement stay.
    let q = t.store.insert_payment(pending("stk_push")).await.unwrap();
    for key in ["d", "e"] {
        t.store.ingest(crate::paystack_event(key)).await.unwrap();
    }
    let jobs = t.store.claim_jobs("w", 10, LEASE).await.unwrap();
    let done = t
        .store
        .complete_jobs(vec![
            (
                jobs[0].id,
                JobOutcome::apply(
                    PaymentChange::Transition {
                        id: q.id,
                        to: malipo_core::PaymentState::Expired,
                        detail: Default::default(),
                    },
                    None,
                ),
            ),
            // Completed "by another worker" already: NotFound, undone alone.
            (malipo_core::JobId::new(), JobOutcome::processed()),
        ])
        .await
        .unwrap();
    assert!(done[0].is_ok() && done[1].is_err());
    let mut types: Vec<_> = all_deliveries(&t)
        .await
        .into_iter()
        .map(|d| d.event_type)
        .collect();
    types.sort();
    assert_eq!(types, ["payment.expired", "payment.succeeded"]);
}

crate::on_both!(
    the_workers_job_completions_announce_in_their_own_transaction,
    a_delivery_is_leased_retried_and_delivered,
    retries_running_out_dead_letter_and_redeliver_brings_it_back,
    scheduled_and_expired_leases,
    list_by_payment,
    debug_output_withholds_payloads,
    a_state_change_fans_out_one_delivery_per_subscribed_endpoint,
    payouts_and_refunds_have_their_own_families_and_recorded_final_payments_are_announced,
    a_payments_deliveries_to_one_endpoint_are_claimed_in_order,
    endpoints_rotate_keep_disable_across_upserts_and_redact_secrets,
);
