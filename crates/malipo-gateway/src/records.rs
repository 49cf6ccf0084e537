//! Local records of Paystack resources (customers, plans, subscriptions, transfers, dedicated
//! accounts): kept up to date from verified webhooks by the worker, and filled by a resumable
//! sync from the API ([`sync`], behind `malipo paystack sync`).

use malipo_core::{AccountName, Provider};
use malipo_paystack::{Client, ListQuery, RecordKind, ResourceCopy};
use malipo_store::{Job, NewRecord, RecordSource, Store, StoreError, SyncCheckpoint};

/// The body of a Paystack job as JSON (`None` for other providers, or a body that is not JSON):
/// the worker parses it once, for the records it carries ([`from_jobs`]) and for its outcome.
pub(crate) fn paystack_json(job: &Job) -> Option<serde_json::Value> {
    (job.event.provider == Provider::Paystack)
        .then(|| serde_json::from_slice(&job.event.raw_body).ok())
        .flatten()
}

/// The records the verified Paystack events of `jobs` carry (`bodies`: each job's
/// [`paystack_json`]), each under the account whose route the event came in on, one per record:
/// copies of one record (a customer paying again and again in one batch) are merged here in
/// event order, so the store writes it once.
pub(crate) fn from_jobs(jobs: &[Job], bodies: &[Option<serde_json::Value>]) -> Vec<NewRecord> {
    let mut merged: Vec<NewRecord> = Vec::new();
    for copy in copies(jobs, bodies) {
        match merged
            .iter_mut()
            .find(|r| r.kind == copy.kind && r.id == copy.id && r.account == copy.account)
        {
            Some(kept) => {
                malipo_store::merge_copy(&mut kept.data, &mut kept.updated_at, copy.data, copy.updated_at);
            }
            None => merged.push(copy),
        }
    }
    merged
}

fn copies(jobs: &[Job], bodies: &[Option<serde_json::Value>]) -> Vec<NewRecord> {
    jobs.iter()
        .zip(bodies)
        .filter(|(job, _)| malipo_paystack::event_carries_resources(&job.event.kind))
        .filter_map(|(job, body)| {
            let body = body.as_ref()?;
            let account = job
                .event
                .summary
                .account
                .clone()
                .unwrap_or_else(AccountName::default_account);
            Some(
                malipo_paystack::resources_in_event(body)
                    .into_iter()
                    .map(move |copy| record(&account, copy, RecordSource::Webhook)),
            )
        })
        .flatten()
        .collect()
}

fn record(account: &AccountName, copy: ResourceCopy, source: RecordSource) -> NewRecord {
    NewRecord {
        provider: Provider::Paystack,
        account: account.clone(),
        kind: copy.kind.as_str().to_string(),
        id: copy.id,
        data: copy.data,
        updated_at: copy.updated_at,
        source,
    }
}

/// What [`sync`] is asked to do.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The kinds to sync, in order.
    pub kinds: Vec<RecordKind>,
    /// Only resources created at or after this ISO 8601 time (Paystack's `from`).
    pub since: Option<String>,
    /// Resources per API page (Paystack allows up to 100).
    pub per_page: u32,
    /// Start every kind from its first page, even where an interrupted sync left a checkpoint.
    pub restart: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            kinds: RecordKind::ALL.to_vec(),
            since: None,
            per_page: 100,
            restart: false,
        }
    }
}

/// Where a sync is, after each page it stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncProgress {
    /// The kind being synced.
    #[serde(serialize_with = "kind_name")]
    pub kind: RecordKind,
    /// The page just stored.
    pub page: u32,
    /// Resources of this kind stored so far (across an interruption).
    pub synced: u64,
    /// How many Paystack says there are.
    pub total: Option<u64>,
}

/// What a sync did for one kind.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KindSummary {
    /// The kind.
    #[serde(serialize_with = "kind_name")]
    pub kind: RecordKind,
    /// Resources stored by this sync, counting those stored before an interruption.
    pub synced: u64,
    /// How many Paystack said there are.
    pub total: Option<u64>,
    /// The page an interrupted sync was resumed from, if it was.
    pub resumed_from_page: Option<u32>,
    /// Resources of this kind now kept for the account.
    pub kept: u64,
    /// Items Paystack listed that had no identifier and were not kept.
    pub skipped: u64,
}

fn kind_name<S: serde::Serializer>(kind: &RecordKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

/// Why a sync stopped. What it stored before is kept, and the next sync resumes after it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Paystack refused or could not be reached.
    #[error(
        "Paystack failed while listing {kind}s (page {page}); run the sync again to resume from that page"
    )]
    Paystack {
        /// The kind being listed.
        kind: RecordKind,
        /// The page asked for.
        page: u32,
        /// The client's error.
        #[source]
        source: malipo_paystack::Error,
    },
    /// The store failed.
    #[error(
        "the store failed while keeping {kind}s (page {page}); run the sync again to resume from that page"
    )]
    Store {
        /// The kind being stored.
        kind: RecordKind,
        /// The page being stored.
        page: u32,
        /// The store's error.
        #[source]
        source: StoreError,
    },
}

/// Copies the account's Paystack resources into the store, page by page. Each page is stored
/// with the sync's checkpoint in one transaction, so a sync stopped at any moment (killed, the
/// network gone) resumes on its next run from the page after the last one stored, and never
/// stores a page twice in its count. A finished kind starts from page 1 on the next run
/// (records already kept are merged, not duplicated). `progress` is called after each page.
pub async fn sync(
    client: &Client,
    store: &dyn Store,
    account: &AccountName,
    options: &SyncOptions,
    mut progress: impl FnMut(&SyncProgress),
) -> Result<Vec<KindSummary>, SyncError> {
    let since = options.since.clone().unwrap_or_default();
    let per_page = options.per_page.clamp(1, 100);
    let mut summaries = Vec::with_capacity(options.kinds.len());
    for &kind in &options.kinds {
        let resume = if options.restart {
            None
        } else {
            store
                .sync_checkpoint(Provider::Paystack, account, kind.as_str())
                .await
                .map_err(|source| SyncError::Store {
                    kind,
                    page: 1,
                    source,
                })?
                .filter(|c| !c.done && c.since == since && c.next_page > 1)
        };
        let mut page = resume.as_ref().map_or(1, |c| c.next_page);
        let mut synced = resume.as_ref().map_or(0, |c| c.synced);
        let mut total = resume.as_ref().and_then(|c| c.total);
        let mut skipped = 0;
        loop {
            let query = ListQuery {
                per_page: Some(per_page),
                page: Some(page),
                from: options.since.clone(),
                ..ListQuery::default()
            };
            let listed = client
                .resource_page(kind, &query)
                .await
                .map_err(|source| SyncError::Paystack { kind, page, source })?;
            total = listed.meta.total.or(total);
            let count = listed.items.len();
            let copies: Vec<NewRecord> = listed
                .items
                .iter()
                .filter_map(|item| ResourceCopy::read(kind, item))
                .map(|copy| record(account, copy, RecordSource::Sync))
                .collect();
            skipped += (count - copies.len()) as u64;
            synced += copies.len() as u64;
            let last = count == 0
                || match listed.meta.page_count {
                    Some(pages) => u64::from(page) >= pages,
                    None => count < per_page as usize,
                };
            let checkpoint = SyncCheckpoint {
                provider: Provider::Paystack,
                account: account.clone(),
                kind: kind.as_str().to_string(),
                since: since.clone(),
                next_page: page + 1,
                synced,
                total,
                done: last,
            };
            store
                .save_sync_page(copies, checkpoint)
                .await
                .map_err(|source| SyncError::Store { kind, page, source })?;
            progress(&SyncProgress {
                kind,
                page,
                synced,
                total,
            });
            if last {
                break;
            }
            page += 1;
        }
        let kept = store
            .count_records(Provider::Paystack, kind.as_str(), Some(account))
            .await
            .map_err(|source| SyncError::Store { kind, page, source })?;
        summaries.push(KindSummary {
            kind,
            synced,
            total,
            resumed_from_page: resume.map(|c| c.next_page),
            kept,
            skipped,
        });
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_store::memory::MemoryStore;
    use malipo_store::{EventStore, NewEvent};

    /// Real jobs of `bodies`, as a worker claims them.
    async fn jobs(bodies: &[serde_json::Value]) -> Vec<Job> {
        let store = MemoryStore::new();
        for (i, body) in bodies.iter().enumerate() {
            let name = body["event"].as_str().unwrap();
            let event = NewEvent::received(
                Provider::Paystack,
                name,
                format!("{name}:{i}"),
                serde_json::to_vec(body).unwrap(),
            );
            store.ingest(event).await.unwrap();
            // Jobs are claimed oldest first, to the millisecond.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        store
            .claim_jobs("test", 100, std::time::Duration::from_secs(60))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn copies_of_one_record_in_a_batch_are_written_once_merged_in_order() {
        let charge = |email: &str, phone: Option<&str>| {
            serde_json::json!({"event": "charge.success", "data": {
                "customer": {"customer_code": "CUS_1", "email": email, "phone": phone}}})
        };
        let jobs = jobs(&[
            charge("a@example.com", Some("+254700000001")),
            charge("b@example.com", None),
            serde_json::json!({"event": "transfer.success", "data": {"transfer_code": "TRF_1"}}),
            serde_json::json!({"event": "refund.processed", "data": {"customer": {"customer_code": "CUS_9"}}}),
        ])
        .await;
        assert_eq!(jobs.len(), 4);
        let bodies: Vec<_> = jobs.iter().map(paystack_json).collect();
        let records = from_jobs(&jobs, &bodies);
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[0].id, "CUS_1");
        assert_eq!(records[0].data["email"], "b@example.com", "the later copy wins");
        assert_eq!(records[0].data["phone"], serde_json::Value::Null);
        assert_eq!(records[1].kind, "transfer");
        assert!(records
            .iter()
            .all(|r| r.account.is_default() && r.source == RecordSource::Webhook));
    }
}
