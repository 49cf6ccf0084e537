//! The roles' contract, run against the SQLite adapter, the PostgreSQL adapter and the in-memory
//! fake (`malipo_store::memory`), so neither the second adapter nor the fake the gateway's unit
//! tests use can drift from what the SQLite store does.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use malipo_core::{Currency, EventStatus, JobId, Money, PaymentId, PaymentState, Provider};
use malipo_store::memory::MemoryStore;
use malipo_store::{
    IdempotencyClaim, Ingested, JobOutcome, NewEvent, NewPayment, NewRecord, PaymentChange, RecordFilter,
    RecordSource, Replayed, SettledBy, Store, StoreError, StoredResponse, SyncCheckpoint, TransitionDetail,
};

use crate::paystack_event;

const LEASE: Duration = Duration::from_secs(60);

/// Defines one test per adapter for each contract check.
macro_rules! both {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let t = crate::TestStore::open();
                    super::$check(t.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(db) = crate::pg::PgDb::create().await else {
                        return;
                    };
                    super::$check(db.store.clone()).await;
                }
            )*
        }
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::fake()).await;
                }
            )*
        }
    };
}

both!(
    an_event_is_stored_once_per_provider_and_dedup_key,
    a_received_event_is_queued_with_its_job_and_only_then,
    replay_queues_a_finished_event_once,
    a_payment_moves_only_through_its_state_machine,
    a_move_returns_the_payment_as_stored,
    of_racing_moves_from_pending_exactly_one_wins,
    a_failing_completion_changes_nothing,
    a_batch_completes_each_job_on_its_own,
    stats_count_events_by_status,
    an_idempotency_key_is_claimed_once,
    payments_are_found_by_search_text_and_account,
    records_merge_and_never_go_back_in_time,
    copies_in_one_call_merge_in_their_order,
    a_nul_in_a_record_is_kept_as_a_replacement_character,
    a_sync_page_and_its_checkpoint_are_kept_together,
);

fn fake() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

fn charge(reference: &str) -> NewPayment {
    let mut p = NewPayment::pending(
        Provider::Paystack,
        "charge",
        Money::from_minor(5_000, Currency::Ngn),
    );
    p.provider_reference = Some(reference.into());
    p
}

async fn an_event_is_stored_once_per_provider_and_dedup_key(store: Arc<dyn Store>) {
    let first = store.ingest(paystack_event("k1")).await.unwrap();
    assert!(first.is_new());
    assert_eq!(
        store.ingest(paystack_event("k1")).await.unwrap(),
        Ingested::Duplicate(first.id())
    );
    // Twenty at once: one is new, every caller learns the same id.
    let racing = join_all((0..20).map(|_| {
        let store = store.clone();
        async move { store.ingest(paystack_event("k2")).await.unwrap() }
    }))
    .await;
    assert_eq!(racing.iter().filter(|i| i.is_new()).count(), 1);
    assert!(racing.iter().all(|i| i.id() == racing[0].id()));
    // New keys, stored keys and repeats at once (one batch where the adapter batches): each
    // caller gets the answer for its own key.
    let keys = ["m1", "k1", "m2", "m1", "k2", "m2"];
    let mixed = join_all(keys.iter().map(|key| {
        let store = store.clone();
        async move { store.ingest(paystack_event(key)).await.unwrap() }
    }))
    .await;
    assert_eq!(mixed.iter().filter(|i| i.is_new()).count(), 2);
    for (answer, key) in mixed.iter().zip(keys) {
        let again = store.ingest(paystack_event(key)).await.unwrap();
        assert_eq!(answer.id(), again.id(), "the answer for {key}");
    }
    // The same key at another provider is another event.
    let mpesa = NewEvent::received(Provider::Mpesa, "stk_callback", "k1", &b"{}"[..]);
    assert!(store.ingest(mpesa).await.unwrap().is_new());
    // An empty key would make every keyless event a duplicate of the first.
    let keyless = NewEvent::received(Provider::Paystack, "charge.success", " ", &b"{}"[..]);
    assert!(matches!(store.ingest(keyless).await, Err(StoreError::Invalid(_))));
}

async fn a_received_event_is_queued_with_its_job_and_only_then(store: Arc<dyn Store>) {
    let id = store.ingest(paystack_event("q1")).await.unwrap().id();
    let mut failed = paystack_event("q2");
    failed.status = EventStatus::Failed;
    failed.last_error = Some("unparseable".into());
    store.ingest(failed).await.unwrap();
    // A duplicate queues nothing either.
    store.ingest(paystack_event("q1")).await.unwrap();
    assert_eq!(store.stats().await.unwrap().jobs_queued, 1);
    let jobs = store.claim_jobs("w", 10, LEASE).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].event.id, jobs[0].attempts), (id, 1));
    // Leased: nobody else gets it.
    assert!(store.claim_jobs("w2", 10, LEASE).await.unwrap().is_empty());
}

async fn replay_queues_a_finished_event_once(store: Arc<dyn Store>) {
    let id = store.ingest(paystack_event("r1")).await.unwrap().id();
    assert_eq!(store.replay(id).await.unwrap(), Replayed::AlreadyQueued);
    let job = store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    store.complete_job(job.id, JobOutcome::processed()).await.unwrap();
    assert_eq!(store.replay(id).await.unwrap(), Replayed::Queued);
    assert_eq!(store.replay(id).await.unwrap(), Replayed::AlreadyQueued);
    let event = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Received);
    assert_eq!(store.stats().await.unwrap().jobs_queued, 1);
    assert!(matches!(
        store.replay(malipo_core::EventId::new()).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn a_payment_moves_only_through_its_state_machine(store: Arc<dyn Store>) {
    let p = store.insert_payment(charge("m1")).await.unwrap();
    assert!(matches!(
        store.insert_payment(charge("m1")).await,
        Err(StoreError::Conflict { .. })
    ));
    let detail = TransitionDetail {
        receipt: Some("R1".into()),
        ..TransitionDetail::default()
    };
    let moved = store
        .transition_payment(p.id, PaymentState::Succeeded, detail)
        .await
        .unwrap();
    assert!(moved.changed());
    assert_eq!(moved.payment.receipt.as_deref(), Some("R1"));
    let again = store
        .transition_payment(p.id, PaymentState::Succeeded, TransitionDetail::default())
        .await
        .unwrap();
    assert!(!again.changed());
    assert_eq!(
        again.payment.receipt.as_deref(),
        Some("R1"),
        "a None detail keeps the value"
    );
    let refused = store
        .transition_payment(p.id, PaymentState::Failed, TransitionDetail::default())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::IllegalTransition { .. }),
        "{refused}"
    );
    let stored = store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(stored.state, PaymentState::Succeeded);
    assert!(matches!(
        store
            .transition_payment(
                PaymentId::new(),
                PaymentState::Failed,
                TransitionDetail::default()
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

/// What a move answers is what a later read finds: an adapter that builds the moved payment
/// instead of reading it back must apply the update's rules exactly.
async fn a_move_returns_the_payment_as_stored(store: Arc<dyn Store>) {
    let p = store.insert_payment(charge("as-stored")).await.unwrap();
    let moves = [
        // A repeat of the state it is in, with one field: the others keep their value.
        (
            PaymentState::Pending,
            TransitionDetail {
                result_desc: Some("accepted".into()),
                ..TransitionDetail::default()
            },
        ),
        (
            PaymentState::Succeeded,
            TransitionDetail {
                result_code: Some("0".into()),
                result_desc: Some("paid".into()),
                receipt: Some("R1".into()),
                settled_by: Some(SettledBy::Callback),
            },
        ),
        // A repeat updates the details it brings but not how the payment was settled.
        (
            PaymentState::Succeeded,
            TransitionDetail {
                result_desc: Some("paid, confirmed".into()),
                settled_by: Some(SettledBy::Query),
                ..TransitionDetail::default()
            },
        ),
    ];
    for (to, detail) in moves {
        let moved = store.transition_payment(p.id, to, detail.clone()).await.unwrap();
        let stored = store.get_payment(p.id).await.unwrap().unwrap();
        assert_eq!(moved.payment, stored, "after the move to {to} with {detail:?}");
    }
    let last = store.get_payment(p.id).await.unwrap().unwrap();
    assert_eq!(last.settled_by, Some(SettledBy::Callback));
    assert_eq!(last.result_desc.as_deref(), Some("paid, confirmed"));
    assert_eq!(last.result_code.as_deref(), Some("0"));
    assert_eq!(last.receipt.as_deref(), Some("R1"));
}

async fn of_racing_moves_from_pending_exactly_one_wins(store: Arc<dyn Store>) {
    let p = store.insert_payment(charge("race")).await.unwrap();
    let targets = [
        PaymentState::Succeeded,
        PaymentState::Failed,
        PaymentState::Cancelled,
        PaymentState::Expired,
    ];
    let results = join_all(targets.iter().cycle().take(16).map(|to| {
        let store = store.clone();
        let to = *to;
        async move {
            store
                .transition_payment(p.id, to, TransitionDetail::default())
                .await
                .map(|t| (t.changed(), t.payment.state))
        }
    }))
    .await;
    let changed: Vec<_> = results.iter().filter(|r| matches!(r, Ok((true, _)))).collect();
    assert_eq!(changed.len(), 1, "{results:?}");
    let Ok((_, winner)) = changed[0] else {
        unreachable!()
    };
    for r in &results {
        match r {
            Ok((_, state)) => assert_eq!(state, winner, "only a repeat of the winner is accepted"),
            Err(e) => assert!(matches!(e, StoreError::IllegalTransition { .. }), "{e}"),
        }
    }
}

async fn a_failing_completion_changes_nothing(store: Arc<dyn Store>) {
    let id = store.ingest(paystack_event("f1")).await.unwrap().id();
    let job = store.claim_jobs("w", 1, LEASE).await.unwrap().remove(0);
    // A refund of a payment that does not exist fails after the job was taken.
    let outcome = JobOutcome::apply(
        PaymentChange::Refund {
            id: PaymentId::new(),
            amount: Money::from_minor(1, Currency::Ngn),
            detail: TransitionDetail::default(),
        },
        None,
    );
    assert!(store.complete_job(job.id, outcome).await.is_err());
    let event = store.get_event(id).await.unwrap().unwrap();
    assert_eq!((event.status, event.attempts), (EventStatus::Received, 0));
    assert_eq!(
        store.stats().await.unwrap().jobs_queued,
        1,
        "the job is still queued"
    );
    store.complete_job(job.id, JobOutcome::processed()).await.unwrap();
    assert!(matches!(
        store.complete_job(job.id, JobOutcome::processed()).await,
        Err(StoreError::NotFound { what: "job", .. })
    ));
}

async fn a_batch_completes_each_job_on_its_own(store: Arc<dyn Store>) {
    let p = store.insert_payment(charge("b1")).await.unwrap();
    for key in ["b1", "b2", "b3"] {
        store.ingest(paystack_event(key)).await.unwrap();
    }
    let jobs = store.claim_jobs("w", 10, LEASE).await.unwrap();
    let to = |state| {
        JobOutcome::apply(
            PaymentChange::Transition {
                id: p.id,
                to: state,
                detail: TransitionDetail::default(),
            },
            None,
        )
    };
    let done = store
        .complete_jobs(vec![
            (jobs[0].id, to(PaymentState::Succeeded)),
            (JobId::new(), JobOutcome::processed()),
            (jobs[1].id, to(PaymentState::Cancelled)),
            (jobs[2].id, to(PaymentState::Succeeded)),
        ])
        .await
        .unwrap();
    assert!(matches!(
        &done[0],
        Ok(c) if matches!(c.payment, Some(malipo_store::PaymentEffect::Changed { .. }))
    ));
    assert!(matches!(&done[1], Err(StoreError::NotFound { .. })));
    assert!(matches!(
        &done[2],
        Ok(c) if matches!(c.payment, Some(malipo_store::PaymentEffect::Refused { .. }))
    ));
    assert!(matches!(
        &done[3],
        Ok(c) if matches!(c.payment, Some(malipo_store::PaymentEffect::Unchanged(_)))
    ));
    let refused = store.get_event(jobs[1].event.id).await.unwrap().unwrap();
    assert_eq!(refused.status, EventStatus::Suspicious);
    assert!(refused.last_error.is_some(), "the refusal is kept on the event");
    assert_eq!(refused.payment_id, Some(p.id));
}

async fn stats_count_events_by_status(store: Arc<dyn Store>) {
    for key in ["s1", "s2", "s3", "s4"] {
        store.ingest(paystack_event(key)).await.unwrap();
    }
    let mut rejected = paystack_event("s5");
    rejected.status = EventStatus::RejectedAuthentic;
    store.ingest(rejected).await.unwrap();
    let jobs = store.claim_jobs("w", 10, LEASE).await.unwrap();
    store
        .complete_job(jobs[0].id, JobOutcome::processed())
        .await
        .unwrap();
    store.fail_job(jobs[1].id, "gave up", None).await.unwrap();
    store
        .fail_job(
            jobs[2].id,
            "later",
            Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .await
        .unwrap();
    let stats = store.stats().await.unwrap();
    let counts: Vec<_> = [
        EventStatus::Received,
        EventStatus::Processed,
        EventStatus::Failed,
        EventStatus::RejectedAuthentic,
        EventStatus::Suspicious,
    ]
    .iter()
    .map(|s| stats.events_in(*s))
    .collect();
    assert_eq!(counts, [2, 1, 1, 1, 0]);
    assert_eq!((stats.jobs_queued, stats.jobs_due), (2, 0));
    // The counts follow later writes at once.
    store.ingest(paystack_event("s6")).await.unwrap();
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Received), 3);
    assert_eq!(stats.events_in(EventStatus::Processed), 1);
    assert_eq!(stats.jobs_due, 1);
}

async fn an_idempotency_key_is_claimed_once(store: Arc<dyn Store>) {
    let hash = [7; malipo_store::REQUEST_HASH_LEN];
    let racing = join_all((0..8).map(|_| {
        let store = store.clone();
        async move { store.claim_idempotency_key("key_a", "k", &hash).await.unwrap() }
    }))
    .await;
    assert_eq!(
        racing.iter().filter(|c| **c == IdempotencyClaim::Claimed).count(),
        1
    );
    assert!(racing
        .iter()
        .all(|c| matches!(c, IdempotencyClaim::Claimed | IdempotencyClaim::InProgress)));
    assert_eq!(
        store.claim_idempotency_key("key_a", "k", &[8; 32]).await.unwrap(),
        IdempotencyClaim::Mismatch
    );
    let answer = StoredResponse {
        status: 201,
        body: b"{}".to_vec(),
    };
    store
        .complete_idempotency_key("key_a", "k", answer.clone())
        .await
        .unwrap();
    assert_eq!(
        store.claim_idempotency_key("key_a", "k", &hash).await.unwrap(),
        IdempotencyClaim::Completed(answer)
    );
    // Another API key's scope is its own.
    assert_eq!(
        store.claim_idempotency_key("key_b", "k", &hash).await.unwrap(),
        IdempotencyClaim::Claimed
    );
}

#[tokio::test]
async fn the_memory_store_refuses_writes_once_closed() {
    let store = fake();
    store.close().await.unwrap();
    assert!(matches!(
        store.ingest(paystack_event("c")).await,
        Err(StoreError::Closed)
    ));
}

async fn payments_are_found_by_search_text_and_account(store: Arc<dyn Store>) {
    let mut a = charge("ref-a");
    a.msisdn = Some("0708374149".parse().unwrap());
    a.merchant_reference = Some("order-1".into());
    let a = store.insert_payment(a).await.unwrap();
    let mut b = charge("ref-b");
    b.account = "ghana".parse().unwrap();
    let b = store.insert_payment(b).await.unwrap();
    let find = |filter: malipo_store::PaymentFilter| {
        let store = store.clone();
        async move {
            store
                .list_payments(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .collect::<Vec<_>>()
        }
    };
    let search = |q: &str| malipo_store::PaymentFilter {
        search: Some(q.into()),
        ..Default::default()
    };
    assert_eq!(find(search("ref-b")).await, [b.id]);
    assert_eq!(find(search("order-1")).await, [a.id]);
    assert_eq!(find(search("4149")).await, [a.id]);
    assert!(find(search("49")).await.is_empty());
    let account = |name: &str| malipo_store::PaymentFilter {
        account: Some(name.parse().unwrap()),
        ..Default::default()
    };
    assert_eq!(find(account("ghana")).await, [b.id]);
    assert_eq!(find(account("default")).await, [a.id]);
}

fn record(id: &str, data: serde_json::Value, updated: Option<&str>) -> NewRecord {
    NewRecord {
        provider: Provider::Paystack,
        account: malipo_core::AccountName::default_account(),
        kind: "customer".into(),
        id: id.into(),
        data: data.as_object().expect("an object").clone(),
        updated_at: updated.map(|t| t.parse().expect("a time")),
        source: RecordSource::Sync,
    }
}

async fn copies_in_one_call_merge_in_their_order(store: Arc<dyn Store>) {
    let default = malipo_core::AccountName::default_account();
    let copies = vec![
        record(
            "CUS_A",
            serde_json::json!({"email": "a1@example.com", "phone": "1"}),
            Some("2026-01-02T00:00:00Z"),
        ),
        record("CUS_B", serde_json::json!({"email": "b@example.com"}), None),
        // The same record again in the same call: merged over the first copy.
        record(
            "CUS_A",
            serde_json::json!({"email": "a2@example.com"}),
            Some("2026-01-03T00:00:00Z"),
        ),
        // Then an older copy of it: skipped, as it would be in a call of its own.
        record(
            "CUS_A",
            serde_json::json!({"email": "old@example.com"}),
            Some("2026-01-01T00:00:00Z"),
        ),
        record("CUS_C", serde_json::json!({"email": "c@example.com"}), None),
    ];
    assert_eq!(store.upsert_records(copies).await.unwrap(), 4);
    let a = store
        .get_record(Provider::Paystack, "customer", &default, "CUS_A")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.data["email"], "a2@example.com");
    assert_eq!(a.data["phone"], "1");
    assert_eq!(a.updated_at, Some("2026-01-03T00:00:00Z".parse().unwrap()));
    assert_eq!(
        store
            .count_records(Provider::Paystack, "customer", None)
            .await
            .unwrap(),
        3
    );
}

/// Regression: PostgreSQL's jsonb refuses `\u0000`, and a worker keeps a batch's records in one
/// statement, so one customer name with a NUL failed every job of its batch.
async fn a_nul_in_a_record_is_kept_as_a_replacement_character(store: Arc<dyn Store>) {
    let default = malipo_core::AccountName::default_account();
    let copies = vec![
        record(
            "CUS_NUL",
            serde_json::json!({"first_name": "Ada\0", "metadata": {"no\0te": ["x\0"]}}),
            None,
        ),
        record("CUS_OK", serde_json::json!({"first_name": "Grace"}), None),
    ];
    assert_eq!(store.upsert_records(copies).await.unwrap(), 2);
    let kept = store
        .get_record(Provider::Paystack, "customer", &default, "CUS_NUL")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(kept.data),
        serde_json::json!({"first_name": "Ada\u{FFFD}", "metadata": {"no\u{FFFD}te": ["x\u{FFFD}"]}})
    );
    // A backslash and a `u0000` as text are not a NUL, and are kept as they are.
    let text = record("CUS_TEXT", serde_json::json!({"note": "\\u0000"}), None);
    store.upsert_records(vec![text]).await.unwrap();
    let kept = store
        .get_record(Provider::Paystack, "customer", &default, "CUS_TEXT")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.data["note"], "\\u0000");
}

async fn records_merge_and_never_go_back_in_time(store: Arc<dyn Store>) {
    let default = malipo_core::AccountName::default_account();
    let full =
        serde_json::json!({"customer_code": "CUS_1", "email": "ada@example.com", "phone": "+2348000000001"});
    let stored = store
        .upsert_records(vec![record("CUS_1", full, Some("2026-01-02T00:00:00Z"))])
        .await
        .unwrap();
    assert_eq!(stored, 1);
    // A webhook's part of the object merges in without erasing the rest.
    let mut part = record(
        "CUS_1",
        serde_json::json!({"identification": {"status": "success"}}),
        None,
    );
    part.source = RecordSource::Webhook;
    store.upsert_records(vec![part]).await.unwrap();
    let kept = store
        .get_record(Provider::Paystack, "customer", &default, "CUS_1")
        .await
        .unwrap()
        .expect("kept");
    assert_eq!(kept.data["email"], "ada@example.com");
    assert_eq!(kept.data["identification"]["status"], "success");
    assert_eq!(kept.source, RecordSource::Webhook);
    assert_eq!(kept.updated_at, Some("2026-01-02T00:00:00Z".parse().unwrap()));
    // An older copy (a page read before the change) is skipped; a newer one replaces the keys it has.
    let old = record(
        "CUS_1",
        serde_json::json!({"email": "old@example.com"}),
        Some("2026-01-01T00:00:00Z"),
    );
    assert_eq!(store.upsert_records(vec![old]).await.unwrap(), 0);
    let new = record(
        "CUS_1",
        serde_json::json!({"email": "new@example.com"}),
        Some("2026-01-03T00:00:00Z"),
    );
    assert_eq!(store.upsert_records(vec![new]).await.unwrap(), 1);
    let kept = store
        .get_record(Provider::Paystack, "customer", &default, "CUS_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.data["email"], "new@example.com");
    assert_eq!(kept.data["phone"], "+2348000000001");
    // Another account's record of the same id is another record.
    let mut other = record("CUS_1", serde_json::json!({"email": "gh@example.com"}), None);
    other.account = "ghana".parse().unwrap();
    store.upsert_records(vec![other]).await.unwrap();
    assert_eq!(
        store
            .count_records(Provider::Paystack, "customer", None)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count_records(Provider::Paystack, "customer", Some(&default))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .count_records(Provider::Paystack, "plan", None)
            .await
            .unwrap(),
        0
    );
    // Found by text inside the object, case-insensitively, and by id.
    let mut filter = RecordFilter::new(Provider::Paystack, "customer");
    filter.search = Some("GH@example".into());
    let found = store.list_records(&filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].account.as_str(), "ghana");
    filter.search = Some("CUS_1".into());
    filter.account = Some(default.clone());
    assert_eq!(store.list_records(&filter).await.unwrap().len(), 1);
}

async fn a_sync_page_and_its_checkpoint_are_kept_together(store: Arc<dyn Store>) {
    let default = malipo_core::AccountName::default_account();
    assert_eq!(
        store
            .sync_checkpoint(Provider::Paystack, &default, "customer")
            .await
            .unwrap(),
        None
    );
    let page: Vec<NewRecord> = (0..5)
        .map(|i| record(&format!("CUS_{i}"), serde_json::json!({"n": i}), None))
        .collect();
    let checkpoint = SyncCheckpoint {
        provider: Provider::Paystack,
        account: default.clone(),
        kind: "customer".into(),
        since: String::new(),
        next_page: 2,
        synced: 5,
        total: Some(12),
        done: false,
    };
    assert_eq!(store.save_sync_page(page, checkpoint.clone()).await.unwrap(), 5);
    assert_eq!(
        store
            .sync_checkpoint(Provider::Paystack, &default, "customer")
            .await
            .unwrap(),
        Some(checkpoint)
    );
    // Listed newest first, paged.
    let mut filter = RecordFilter::new(Provider::Paystack, "customer");
    filter.limit = 2;
    filter.offset = 1;
    let listed = store.list_records(&filter).await.unwrap();
    assert_eq!(listed.len(), 2);
    filter.limit = 50;
    filter.offset = 0;
    assert_eq!(store.list_records(&filter).await.unwrap().len(), 5);
}
