use std::collections::HashSet;
use std::net::IpAddr;

use malipo_core::{EventStatus, PaymentId, Provider};
use malipo_store::{EventFilter, Ingested, NewEvent, Replayed, StoreError};
use proptest::prelude::*;

use crate::{count_rows, paystack_event, Adapter, TestStore};

async fn ingest_then_read_back_everything(t: Adapter) {
    let mut ev = paystack_event("charge.success:302961");
    let ip: IpAddr = "52.31.139.75".parse().unwrap();
    ev.source_ip = Some(ip);
    let payment = PaymentId::new();
    ev.payment_id = Some(payment);
    let Ingested::New(id) = t.store.ingest(ev.clone()).await.unwrap() else {
        panic!("first ingest must be new");
    };
    let got = t.store.get_event(id).await.unwrap().expect("stored");
    assert_eq!(got.raw_body, ev.raw_body);
    assert_eq!(got.id, id);
    assert_eq!(got.provider, Provider::Paystack);
    assert_eq!(got.kind, "charge.success");
    assert_eq!(got.dedup_key, "charge.success:302961");
    assert_eq!(got.source_ip, Some(ip));
    assert_eq!(got.status, EventStatus::Received);
    assert_eq!(got.attempts, 0);
    assert_eq!(got.payment_id, Some(payment));
    assert_eq!(got.body_len, ev.raw_body.len() as u64);
    assert!(t
        .store
        .get_event(malipo_core::EventId::new())
        .await
        .unwrap()
        .is_none());
    assert_eq!(t.count("jobs").await, 1);
}

async fn the_same_key_fifty_times_at_once_is_one_row_and_one_id(t: Adapter) {
    let calls = (0..50).map(|_| {
        let store = t.store.clone();
        tokio::spawn(async move { store.ingest(paystack_event("charge.success:dup")).await })
    });
    let results: Vec<Ingested> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let ids: HashSet<_> = results.iter().map(|r| r.id()).collect();
    assert_eq!(ids.len(), 1, "every caller gets the same id");
    assert_eq!(results.iter().filter(|r| r.is_new()).count(), 1);
    assert_eq!(t.count("events").await, 1);
    assert_eq!(t.count("jobs").await, 1);
}

async fn dedup_is_per_provider(t: Adapter) {
    let a = t.store.ingest(paystack_event("same-key")).await.unwrap();
    let mut other = paystack_event("same-key");
    other.provider = Provider::Mpesa;
    let b = t.store.ingest(other).await.unwrap();
    assert!(a.is_new() && b.is_new());
    assert_ne!(a.id(), b.id());
}

async fn a_failed_or_rejected_event_is_stored_without_a_job_and_still_deduplicated(t: Adapter) {
    let mut failed = NewEvent::received(Provider::Mpesa, "stk_callback", "bad-body", &b"{not json"[..]);
    failed.status = EventStatus::Failed;
    failed.last_error = Some("expected a JSON object at line 1 column 2".into());
    let first = t.store.ingest(failed.clone()).await.unwrap();
    assert!(first.is_new());
    assert_eq!(
        t.store.ingest(failed).await.unwrap(),
        Ingested::Duplicate(first.id())
    );
    let mut rejected = paystack_event("subscription.create:1");
    rejected.status = EventStatus::RejectedAuthentic;
    t.store.ingest(rejected).await.unwrap();
    assert_eq!(t.count("events").await, 2);
    assert_eq!(t.count("jobs").await, 0);
    let got = t.store.get_event(first.id()).await.unwrap().unwrap();
    assert_eq!(got.status, EventStatus::Failed);
    assert_eq!(
        got.last_error.as_deref(),
        Some("expected a JSON object at line 1 column 2")
    );
    let stats = t.store.stats().await.unwrap();
    assert_eq!(stats.events_in(EventStatus::Failed), 1);
    assert_eq!(stats.events_in(EventStatus::RejectedAuthentic), 1);
    assert_eq!(stats.jobs_queued, 0);
}

async fn list_filters_and_pages_newest_first(t: Adapter) {
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
    let mut mpesa = NewEvent::received(Provider::Mpesa, "stk_callback", "ws_CO_1", &b"{}"[..]);
    mpesa.status = EventStatus::Failed;
    let failed = t.store.ingest(mpesa).await.unwrap().id();

    let all = t.store.list_events(&EventFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let only_failed = t
        .store
        .list_events(&EventFilter {
            status: Some(EventStatus::Failed),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(only_failed.iter().map(|e| e.id).collect::<Vec<_>>(), [failed]);

    let paystack = EventFilter {
        provider: Some(Provider::Paystack),
        limit: 2,
        ..EventFilter::default()
    };
    let page1 = t.store.list_events(&paystack).await.unwrap();
    let page2 = t
        .store
        .list_events(&EventFilter {
            before: page1.last().map(|e| e.id),
            ..paystack.clone()
        })
        .await
        .unwrap();
    assert_eq!(page1.len(), 2);
    assert_eq!(page2.len(), 2);
    assert!(page1.last().unwrap().id > page2[0].id);

    let future = t
        .store
        .list_events(&EventFilter {
            since: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert!(future.is_empty());
    let past = t
        .store
        .list_events(&EventFilter {
            since: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(past.len(), 6);
}

async fn replay_requeues_a_failed_event_and_is_idempotent_while_queued(t: Adapter) {
    let mut ev = paystack_event("k");
    ev.status = EventStatus::Failed;
    let id = t.store.ingest(ev).await.unwrap().id();
    assert_eq!(t.store.replay(id).await.unwrap(), Replayed::Queued);
    assert_eq!(t.store.replay(id).await.unwrap(), Replayed::AlreadyQueued);
    assert_eq!(t.count("jobs").await, 1);
    let got = t.store.get_event(id).await.unwrap().unwrap();
    assert_eq!(got.status, EventStatus::Received);
    let missing = t.store.replay(malipo_core::EventId::new()).await;
    assert!(matches!(missing, Err(StoreError::NotFound { what: "event", .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn row_count_equals_distinct_keys(keys in prop::collection::vec(0u8..12, 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let t = TestStore::open();
            let calls = keys.iter().map(|k| {
                let store = t.store.clone();
                let key = format!("key-{k}");
                tokio::spawn(async move { store.ingest(paystack_event(&key)).await })
            });
            let results: Vec<Ingested> = futures::future::join_all(calls)
                .await
                .into_iter()
                .map(|r| r.unwrap().unwrap())
                .collect();
            let distinct: HashSet<_> = keys.iter().collect();
            prop_assert_eq!(count_rows(&t.path(), "events") as usize, distinct.len());
            prop_assert_eq!(results.iter().filter(|r| r.is_new()).count(), distinct.len());
            let ids: HashSet<_> = results.iter().map(|r| r.id()).collect();
            prop_assert_eq!(ids.len(), distinct.len());
            Ok(())
        })?;
    }
}

async fn debug_output_withholds_bodies(t: Adapter) {
    let ev = paystack_event("k");
    let printed = format!("{ev:?}");
    assert!(!printed.contains("AUTH_"), "{printed}");
    assert!(printed.contains("bytes withheld"), "{printed}");
    let id = t.store.ingest(ev).await.unwrap().id();
    let stored = t.store.get_event(id).await.unwrap().unwrap();
    let printed = format!("{stored:?}");
    assert!(
        !printed.contains("AUTH_") && !printed.contains("bojack"),
        "{printed}"
    );
}

async fn an_empty_dedup_key_is_refused_not_merged_with_others(t: Adapter) {
    let err = t.store.ingest(paystack_event(" ")).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("empty dedup key"), "{err}");
    assert_eq!(t.count("events").await, 0);
}

#[tokio::test]
async fn no_trigger_writes_beside_an_event_and_nothing_is_kept_only_for_metrics() {
    let t = TestStore::open();
    t.store.ingest(paystack_event("t1")).await.unwrap();
    let conn = rusqlite::Connection::open(t.path()).unwrap();
    let left: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' OR name = 'event_counts'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(count_rows(&t.path(), "jobs"), 1, "the inbox queued the job");
}

crate::on_both!(
    ingest_then_read_back_everything,
    the_same_key_fifty_times_at_once_is_one_row_and_one_id,
    dedup_is_per_provider,
    a_failed_or_rejected_event_is_stored_without_a_job_and_still_deduplicated,
    list_filters_and_pages_newest_first,
    replay_requeues_a_failed_event_and_is_idempotent_while_queued,
    debug_output_withholds_bodies,
    an_empty_dedup_key_is_refused_not_merged_with_others,
);
