//! The fake's local records and sync checkpoints.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{AccountName, Provider};

use super::{page, MemoryStore, State};
use crate::port::RecordStore;
use crate::{merge_copy, NewRecord, RecordEntry, RecordFilter, StoreError, SyncCheckpoint};

/// `(provider, kind, account, id)`: a record's key, as the SQLite adapter's primary key.
pub(super) type RecordKey = (String, String, String, String);

/// `(provider, account, kind)`: a checkpoint's key.
pub(super) type CheckpointKey = (String, String, String);

fn upsert(state: &mut State, records: Vec<NewRecord>, now: DateTime<Utc>) -> u64 {
    let mut merged = 0;
    for mut record in records {
        record.data = crate::model::record::without_nul(record.data);
        let key = (
            record.provider.to_string(),
            record.kind.clone(),
            record.account.to_string(),
            record.id.clone(),
        );
        match state.records.get_mut(&key) {
            Some(kept) => {
                if !merge_copy(
                    &mut kept.data,
                    &mut kept.updated_at,
                    record.data,
                    record.updated_at,
                ) {
                    continue;
                }
                kept.source = record.source;
                kept.last_seen_at = now;
            }
            None => {
                state.records.insert(
                    key,
                    RecordEntry {
                        provider: record.provider,
                        account: record.account,
                        kind: record.kind,
                        id: record.id,
                        data: record.data,
                        updated_at: record.updated_at,
                        source: record.source,
                        first_seen_at: now,
                        last_seen_at: now,
                    },
                );
            }
        }
        merged += 1;
    }
    merged
}

#[async_trait]
impl RecordStore for MemoryStore {
    async fn upsert_records(&self, records: Vec<NewRecord>) -> Result<u64, StoreError> {
        self.write(|state, now| Ok(upsert(state, records, now)))
    }

    async fn save_sync_page(
        &self,
        records: Vec<NewRecord>,
        checkpoint: SyncCheckpoint,
    ) -> Result<u64, StoreError> {
        self.write(|state, now| {
            let merged = upsert(state, records, now);
            let key = (
                checkpoint.provider.to_string(),
                checkpoint.account.to_string(),
                checkpoint.kind.clone(),
            );
            state.checkpoints.insert(key, checkpoint);
            Ok(merged)
        })
    }

    async fn get_record(
        &self,
        provider: Provider,
        kind: &str,
        account: &AccountName,
        id: &str,
    ) -> Result<Option<RecordEntry>, StoreError> {
        let key = (
            provider.to_string(),
            kind.to_string(),
            account.to_string(),
            id.to_string(),
        );
        Ok(self.read(|s| s.records.get(&key).cloned()))
    }

    async fn list_records(&self, filter: &RecordFilter) -> Result<Vec<RecordEntry>, StoreError> {
        Ok(self.read(|s| {
            let mut found: Vec<&RecordEntry> = s.records.values().filter(|r| filter.matches(r)).collect();
            found.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then_with(|| a.id.cmp(&b.id)));
            page(found.into_iter().skip(filter.offset).cloned(), filter.limit)
        }))
    }

    async fn count_records(
        &self,
        provider: Provider,
        kind: &str,
        account: Option<&AccountName>,
    ) -> Result<u64, StoreError> {
        Ok(self.read(|s| {
            s.records
                .values()
                .filter(|r| {
                    r.provider == provider && r.kind == kind && account.is_none_or(|a| *a == r.account)
                })
                .count() as u64
        }))
    }

    async fn sync_checkpoint(
        &self,
        provider: Provider,
        account: &AccountName,
        kind: &str,
    ) -> Result<Option<SyncCheckpoint>, StoreError> {
        let key = (provider.to_string(), account.to_string(), kind.to_string());
        Ok(self.read(|s| s.checkpoints.get(&key).cloned()))
    }
}
