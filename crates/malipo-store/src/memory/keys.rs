//! The key role: API keys by digest, and Idempotency-Key claims (atomic under the lock).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::kinds::KeyId;

use super::{not_found, MemoryStore};
use crate::port::KeyStore;
use crate::{
    ApiKeyRecord, IdempotencyClaim, IdempotencyRecord, NewApiKey, StoreError, StoredResponse, KEY_HASH_LEN,
    REQUEST_HASH_LEN,
};

#[async_trait]
impl KeyStore for MemoryStore {
    async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StoreError> {
        self.write(|s, now| {
            if s.api_keys.contains_key(&key.id) || s.api_keys.values().any(|k| k.hash == key.hash) {
                return Err(StoreError::Conflict {
                    what: format!("API key {} (or its digest)", key.id),
                    holder: "another key".into(),
                });
            }
            let record = ApiKeyRecord {
                id: key.id,
                name: key.name,
                environment: key.environment,
                prefix: key.prefix,
                hash: key.hash,
                created_at: now,
                revoked_at: None,
            };
            s.api_keys.insert(record.id, record.clone());
            Ok(record)
        })
    }

    async fn find_api_key_by_hash(
        &self,
        hash: &[u8; KEY_HASH_LEN],
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.read(|s| s.api_keys.values().find(|k| k.hash == *hash).cloned()))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self.read(|s| s.api_keys.values().rev().cloned().collect()))
    }

    async fn revoke_api_key(&self, id: KeyId) -> Result<ApiKeyRecord, StoreError> {
        self.write(|s, now| {
            let key = s.api_keys.get_mut(&id).ok_or_else(|| not_found("API key", id))?;
            key.revoked_at.get_or_insert(now);
            Ok(key.clone())
        })
    }

    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &[u8; REQUEST_HASH_LEN],
    ) -> Result<IdempotencyClaim, StoreError> {
        self.write(|s, now| {
            let slot = (scope.to_owned(), key.to_owned());
            if let Some(found) = s.idempotency.get(&slot) {
                if found.request_hash != *request_hash {
                    return Ok(IdempotencyClaim::Mismatch);
                }
                return Ok(match &found.response {
                    Some(r) => IdempotencyClaim::Completed(r.clone()),
                    None => IdempotencyClaim::InProgress,
                });
            }
            s.idempotency.insert(
                slot,
                IdempotencyRecord {
                    scope: scope.to_owned(),
                    key: key.to_owned(),
                    request_hash: *request_hash,
                    response: None,
                    created_at: now,
                },
            );
            Ok(IdempotencyClaim::Claimed)
        })
    }

    async fn complete_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        self.write(|s, _| {
            match s
                .idempotency
                .get_mut(&(scope.to_owned(), key.to_owned()))
                .filter(|r| r.response.is_none())
            {
                Some(record) => {
                    record.response = Some(response);
                    Ok(())
                }
                None => Err(not_found("idempotency key in progress", key)),
            }
        })
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.write(|s, _| {
            let slot = (scope.to_owned(), key.to_owned());
            if s.idempotency.get(&slot).is_some_and(|r| r.response.is_none()) {
                s.idempotency.remove(&slot);
            }
            Ok(())
        })
    }

    async fn get_idempotency_key(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self.read(|s| s.idempotency.get(&(scope.to_owned(), key.to_owned())).cloned()))
    }

    async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(|s, _| {
            let n = s.idempotency.len();
            s.idempotency.retain(|_, r| r.created_at >= before);
            Ok((n - s.idempotency.len()) as u64)
        })
    }
}
