//! Local copies of provider resources, and sync checkpoints.

use malipo_core::{AccountName, Provider};
use serde_json::Value;

use super::db::Db;
use super::rows::col;
use crate::convert as rows;
use crate::decode::record::{checkpoint as decode_checkpoint, record as decode, CHECKPOINT_COLUMNS};
use crate::{NewRecord, RecordEntry, RecordFilter, StoreError, SyncCheckpoint};

const COLUMNS: &str =
    "provider, account, kind, record_id, data::text, updated_at, source, first_seen_at, last_seen_at";

/// Merges each copy into its record in one statement each: jsonb's `||` is the key-by-key merge
/// of [`merge_copy`](crate::merge_copy), and the `WHERE` skips a copy older than the kept
/// one, so racing instances need no lock. Returns how many were merged.
pub(crate) async fn upsert(db: &Db<'_>, records: Vec<NewRecord>, now: i64) -> Result<u64, StoreError> {
    const OP: &str = "keeping a record";
    const SQL: &str = "INSERT INTO records (provider, account, kind, record_id, data, updated_at, \
         source, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8, $8) \
         ON CONFLICT (provider, kind, account, record_id) DO UPDATE SET \
         data = records.data || excluded.data, \
         updated_at = COALESCE(excluded.updated_at, records.updated_at), \
         source = excluded.source, last_seen_at = excluded.last_seen_at \
         WHERE excluded.updated_at IS NULL OR records.updated_at IS NULL \
         OR excluded.updated_at >= records.updated_at";
    // All in flight at once: tokio-postgres pipelines them on the connection (a worker's batch
    // carries a few records per event, and one round trip each was most of its time). Each is
    // sent at its first poll and `try_join_all` polls in order, so PostgreSQL still applies
    // them in order, which matters when one record comes twice.
    let merged = futures::future::try_join_all(records.into_iter().map(|mut record| async move {
        let provider = record.provider.to_string();
        let data = Value::Object(std::mem::take(&mut record.data)).to_string();
        let updated_at = record.updated_at.map(rows::to_ms);
        let (account, source) = (record.account.as_str(), record.source.as_str());
        db.execute(
            SQL,
            &[
                &provider,
                &account,
                &record.kind,
                &record.id,
                &data,
                &updated_at,
                &source,
                &now,
            ],
            OP,
        )
        .await
    }))
    .await?;
    Ok(merged.into_iter().sum())
}

/// Saves a sync's checkpoint (in the transaction of its page's records).
pub(crate) async fn save_checkpoint(db: &Db<'_>, c: &SyncCheckpoint, now: i64) -> Result<(), StoreError> {
    const OP: &str = "saving a sync checkpoint";
    db.execute(
        "INSERT INTO sync_checkpoints (provider, account, kind, since, next_page, synced, total, done, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (provider, account, kind) DO UPDATE SET since = excluded.since, \
         next_page = excluded.next_page, synced = excluded.synced, total = excluded.total, \
         done = excluded.done, updated_at = excluded.updated_at",
        &[
            &c.provider.to_string(),
            &c.account.as_str(),
            &c.kind,
            &c.since,
            &i64::from(c.next_page),
            &i64::try_from(c.synced).unwrap_or(i64::MAX),
            &c.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
            &c.done,
            &now,
        ],
        OP,
    )
    .await?;
    Ok(())
}

/// One record.
pub(crate) async fn get(
    db: &Db<'_>,
    provider: Provider,
    kind: &str,
    account: &AccountName,
    id: &str,
) -> Result<Option<RecordEntry>, StoreError> {
    const OP: &str = "reading a record";
    let sql = format!(
        "SELECT {COLUMNS} FROM records WHERE provider = $1 AND kind = $2 AND account = $3 AND record_id = $4"
    );
    db.opt(&sql, &[&provider.to_string(), &kind, &account.as_str(), &id], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Records matching `filter`, the most recently merged first. The search runs in the database
/// (the id, or the JSON text, case-insensitively).
pub(crate) async fn list(db: &Db<'_>, filter: &RecordFilter) -> Result<Vec<RecordEntry>, StoreError> {
    const OP: &str = "listing records";
    let sql = format!(
        "SELECT {COLUMNS} FROM records WHERE provider = $1 AND kind = $2 \
         AND ($3::text IS NULL OR account = $3) \
         AND ($4::text IS NULL OR record_id = $4 OR strpos(lower(data::text), lower($4)) > 0) \
         ORDER BY last_seen_at DESC, record_id LIMIT $5 OFFSET $6"
    );
    let limit = i64::try_from(filter.limit.min(rows::MAX_PAGE)).unwrap_or(0);
    let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
    let rows = db
        .query(
            &sql,
            &[
                &filter.provider.to_string(),
                &filter.kind,
                &filter.account.as_ref().map(AccountName::as_str),
                &filter.search.as_deref(),
                &limit,
                &offset,
            ],
            OP,
        )
        .await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let record = decode(row)?;
        // The database's text search also matches key names and escapes; the port's filter
        // decides, as the other adapters do.
        if filter.matches(&record) {
            found.push(record);
        }
    }
    Ok(found)
}

/// How many records of `kind` are kept.
pub(crate) async fn count(
    db: &Db<'_>,
    provider: Provider,
    kind: &str,
    account: Option<&AccountName>,
) -> Result<u64, StoreError> {
    const OP: &str = "counting records";
    let row = db
        .one(
            "SELECT count(*) FROM records WHERE provider = $1 AND kind = $2 AND ($3::text IS NULL OR account = $3)",
            &[&provider.to_string(), &kind, &account.map(AccountName::as_str)],
            OP,
        )
        .await?;
    let n: i64 = col(&row, 0, OP)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The checkpoint of the latest sync of `kind` for `account`.
pub(crate) async fn checkpoint(
    db: &Db<'_>,
    provider: Provider,
    account: &AccountName,
    kind: &str,
) -> Result<Option<SyncCheckpoint>, StoreError> {
    const OP: &str = "reading a sync checkpoint";
    let sql = format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM sync_checkpoints \
         WHERE provider = $1 AND account = $2 AND kind = $3"
    );
    db.opt(&sql, &[&provider.to_string(), &account.as_str(), &kind], OP)
        .await?
        .map(|row| decode_checkpoint(&row, provider, account, kind))
        .transpose()
}
