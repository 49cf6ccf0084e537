//! API keys and Idempotency-Key records of the merchant API.

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use malipo_core::kinds::KeyId;
use malipo_store::{IdempotencyClaim, NewApiKey, StoreError, StoredResponse};

use crate::Adapter;

fn key(hash_byte: u8, name: &str) -> NewApiKey {
    NewApiKey {
        id: KeyId::new(),
        name: Some(name.into()),
        environment: "test".into(),
        prefix: "mk_test_Ab3x".into(),
        hash: [hash_byte; 32],
    }
}

async fn a_key_is_found_by_its_digest_listed_and_revoked_once(t: Adapter) {
    let a = t.store.insert_api_key(key(1, "shop")).await.unwrap();
    // Ids are ordered by their millisecond; two made in the same one have no order to check.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let b = t.store.insert_api_key(key(2, "backoffice")).await.unwrap();
    assert!(a.is_active());

    let found = t.store.find_api_key_by_hash(&[1; 32]).await.unwrap().unwrap();
    assert_eq!(found, a);
    assert!(t.store.find_api_key_by_hash(&[9; 32]).await.unwrap().is_none());

    let listed = t.store.list_api_keys().await.unwrap();
    assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [b.id, a.id]);

    let revoked = t.store.revoke_api_key(a.id).await.unwrap();
    let when = revoked.revoked_at.expect("revoked");
    assert!(!revoked.is_active());
    // Revoking again keeps the first time.
    let again = t.store.revoke_api_key(a.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(when));
    assert!(!t
        .store
        .find_api_key_by_hash(&[1; 32])
        .await
        .unwrap()
        .unwrap()
        .is_active());

    let missing = t.store.revoke_api_key(KeyId::new()).await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing:?}");
    // The same digest twice is refused: a digest names one key.
    let dup = t.store.insert_api_key(key(2, "copy")).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict { .. }), "{dup:?}");
    // Neither the digest nor anything but the prefix reaches Debug output.
    assert!(!format!("{b:?}").contains("[2, 2"), "{b:?}");
}

async fn an_idempotency_key_is_claimed_once_then_answers_with_the_stored_response(t: Adapter) {
    let hash = [7; 32];
    assert_eq!(
        t.store.claim_idempotency_key("key_a", "k1", &hash).await.unwrap(),
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        t.store.claim_idempotency_key("key_a", "k1", &hash).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    assert_eq!(
        t.store
            .claim_idempotency_key("key_a", "k1", &[8; 32])
            .await
            .unwrap(),
        IdempotencyClaim::Mismatch
    );
    // Another API key's namespace is separate.
    assert_eq!(
        t.store
            .claim_idempotency_key("key_b", "k1", &[8; 32])
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );

    let answer = StoredResponse {
        status: 201,
        body: br#"{"id":"pay_1"}"#.to_vec(),
    };
    t.store
        .complete_idempotency_key("key_a", "k1", answer.clone())
        .await
        .unwrap();
    assert_eq!(
        t.store.claim_idempotency_key("key_a", "k1", &hash).await.unwrap(),
        IdempotencyClaim::Completed(answer.clone())
    );
    // A finished key is never completed again.
    assert!(t
        .store
        .complete_idempotency_key("key_a", "k1", answer.clone())
        .await
        .is_err());
    let record = t.store.get_idempotency_key("key_a", "k1").await.unwrap().unwrap();
    assert_eq!(record.response, Some(answer));
    assert_eq!(record.request_hash, hash);

    // Releasing frees an unfinished key only.
    t.store.release_idempotency_key("key_b", "k1").await.unwrap();
    assert!(t
        .store
        .get_idempotency_key("key_b", "k1")
        .await
        .unwrap()
        .is_none());
    t.store.release_idempotency_key("key_a", "k1").await.unwrap();
    assert!(t
        .store
        .get_idempotency_key("key_a", "k1")
        .await
        .unwrap()
        .is_some());
}

async fn of_twenty_racing_claims_exactly_one_wins(t: Adapter) {
    let store = Arc::clone(&t.store);
    let claims = futures::future::join_all((0..20).map(|_| {
        let store = Arc::clone(&store);
        async move {
            store
                .claim_idempotency_key("key_a", "race", &[3; 32])
                .await
                .unwrap()
        }
    }))
    .await;
    let won = claims.iter().filter(|c| **c == IdempotencyClaim::Claimed).count();
    let waiting = claims
        .iter()
        .filter(|c| **c == IdempotencyClaim::InProgress)
        .count();
    assert_eq!((won, waiting), (1, 19), "{claims:?}");
}

async fn pruning_removes_only_keys_older_than_the_cutoff(t: Adapter) {
    t.store
        .claim_idempotency_key("key_a", "old", &[1; 32])
        .await
        .unwrap();
    assert_eq!(
        t.store
            .prune_idempotency_keys(Utc::now() - ChronoDuration::hours(24))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        t.store
            .prune_idempotency_keys(Utc::now() + ChronoDuration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(t
        .store
        .get_idempotency_key("key_a", "old")
        .await
        .unwrap()
        .is_none());
}

crate::on_both!(
    a_key_is_found_by_its_digest_listed_and_revoked_once,
    an_idempotency_key_is_claimed_once_then_answers_with_the_stored_response,
    of_twenty_racing_claims_exactly_one_wins,
    pruning_removes_only_keys_older_than_the_cutoff,
);
