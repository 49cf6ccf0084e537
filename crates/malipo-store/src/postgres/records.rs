//! Local copies of provider resources, and sync checkpoints.

use malipo_core::{AccountName, Provider};

use super::db::Db;
use super::rows::col;
use crate::convert as rows;
use crate::decode::record::{checkpoint as decode_checkpoint, record as decode, CHECKPOINT_COLUMNS};
use crate::{NewRecord, RecordEntry, RecordFilter, StoreError, SyncCheckpoint};

const COLUMNS: &str =
    "provider, account, kind, record_id, data::text, updated_at, source, first_seen_at, last_seen_at";

/// Merges each copy into its record: jsonb's `||` is the key-by-key merge of
/// [`merge_copy`](crate::merge_copy), and the `WHERE` skips a copy older than the kept one, so
/// racing instances need no lock. Returns how many were merged.
///
/// Each piece of [`without_repeats`] goes in one statement over arrays (a worker's batch
/// carries a few hundred copies, and a statement each was most of its time): one
/// `INSERT … ON CONFLICT DO UPDATE` may not change a row twice, and a record's second copy must
/// merge over the first, as it would one after the other.
pub(crate) async fn upsert(db: &Db<'_>, pieces: Vec<Vec<NewRecord>>, now: i64) -> Result<u64, StoreError> {
    const OP: &str = "keeping a record";
    const SQL: &str = "INSERT INTO records (provider, account, kind, record_id, data, updated_at, \
         source, first_seen_at, last_seen_at) \
         SELECT c.provider, c.account, c.kind, c.record_id, c.data::jsonb, c.updated_at, c.source, $8, $8 \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) \
         WITH ORDINALITY AS c(provider, account, kind, record_id, data, updated_at, source, n) \
         ORDER BY c.n \
         ON CONFLICT (provider, kind, account, record_id) DO UPDATE SET \
         data = records.data || excluded.data, \
         updated_at = COALESCE(excluded.updated_at, records.updated_at), \
         source = excluded.source, last_seen_at = excluded.last_seen_at \
         WHERE excluded.updated_at IS NULL OR records.updated_at IS NULL \
         OR excluded.updated_at >= records.updated_at";
    let mut merged = 0;
    for chunk in pieces {
        let mut columns = Columns::default();
        for mut record in chunk {
            columns.provider.push(record.provider.to_string());
            columns.account.push(record.account.as_str().to_owned());
            columns
                .data
                .push(crate::model::record::data_text(std::mem::take(&mut record.data)));
            columns.updated_at.push(record.updated_at.map(rows::to_ms));
            columns.source.push(record.source.as_str().to_owned());
            columns.kind.push(record.kind);
            columns.id.push(record.id);
        }
        merged += db
            .execute(
                SQL,
                &[
                    &columns.provider,
                    &columns.account,
                    &columns.kind,
                    &columns.id,
                    &columns.data,
                    &columns.updated_at,
                    &columns.source,
                    &now,
                ],
                OP,
            )
            .await?;
    }
    Ok(merged)
}

/// The copies of one statement, column by column.
#[derive(Default)]
struct Columns {
    provider: Vec<String>,
    account: Vec<String>,
    kind: Vec<String>,
    id: Vec<String>,
    data: Vec<String>,
    updated_at: Vec<Option<i64>>,
    source: Vec<String>,
}

/// What makes a record one: its provider, account, kind and id.
fn key(record: &NewRecord) -> (Provider, String, String, String) {
    (
        record.provider,
        record.account.as_str().to_owned(),
        record.kind.clone(),
        record.id.clone(),
    )
}

/// `records` in order, cut before each copy of a record already in the current piece: the
/// statements [`upsert`] writes them in.
pub(crate) fn without_repeats(records: Vec<NewRecord>) -> Vec<Vec<NewRecord>> {
    let mut pieces: Vec<Vec<NewRecord>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for record in records {
        let key = key(&record);
        if !seen.insert(key.clone()) || pieces.is_empty() {
            if !pieces.is_empty() {
                seen.clear();
                seen.insert(key);
            }
            pieces.push(Vec::new());
        }
        if let Some(piece) = pieces.last_mut() {
            piece.push(record);
        }
    }
    pieces
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
