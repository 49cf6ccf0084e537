//! Local copies of provider resources, and sync checkpoints.

use malipo_core::{AccountName, Provider};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::rows;
use crate::decode::record::{self as decode_record, object, CHECKPOINT_COLUMNS};
use crate::error::Context;
use crate::{merge_copy, NewRecord, RecordEntry, RecordFilter, StoreError, SyncCheckpoint};

const COLUMNS: &str =
    "provider, account, kind, record_id, data, updated_at, source, first_seen_at, last_seen_at";

fn decode(row: &Row<'_>) -> Result<RecordEntry, StoreError> {
    decode_record::record(row)
}

/// Merges each copy into its record; runs on the writer, whose one thread makes the
/// read-merge-write of each record atomic. Returns how many were merged.
pub(crate) fn upsert(conn: &Connection, records: Vec<NewRecord>, now: i64) -> Result<u64, StoreError> {
    const OP: &str = "keeping a record";
    let mut merged = 0;
    for record in records {
        let provider = record.provider.to_string();
        let kept = conn
            .prepare_cached(
                "SELECT data, updated_at FROM records \
                 WHERE provider = ?1 AND kind = ?2 AND account = ?3 AND record_id = ?4",
            )
            .during(OP)?
            .query_row(
                params![provider, record.kind, record.account.as_str(), record.id],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, Option<i64>>(1)?)),
            )
            .optional()
            .during(OP)?;
        let (data, updated_at) = match kept {
            None => (record.data, record.updated_at.map(rows::to_ms)),
            Some((text, kept_ms)) => {
                let mut kept_at = kept_ms
                    .map(|ms| rows::from_ms(ms, "records.updated_at"))
                    .transpose()?;
                let mut data = object(&text)?;
                if !merge_copy(&mut data, &mut kept_at, record.data, record.updated_at) {
                    continue;
                }
                (data, kept_at.map(rows::to_ms))
            }
        };
        conn.prepare_cached(
            "INSERT INTO records (provider, account, kind, record_id, data, updated_at, source, \
             first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) \
             ON CONFLICT (provider, kind, account, record_id) DO UPDATE SET \
             data = excluded.data, updated_at = excluded.updated_at, source = excluded.source, \
             last_seen_at = excluded.last_seen_at",
        )
        .during(OP)?
        .execute(params![
            provider,
            record.account.as_str(),
            record.kind,
            record.id,
            crate::model::record::data_text(data),
            updated_at,
            record.source.as_str(),
            now
        ])
        .during(OP)?;
        merged += 1;
    }
    Ok(merged)
}

/// Saves a sync's checkpoint (on the writer, in the transaction of its page's records).
pub(crate) fn save_checkpoint(conn: &Connection, c: &SyncCheckpoint, now: i64) -> Result<(), StoreError> {
    const OP: &str = "saving a sync checkpoint";
    conn.prepare_cached(
        "INSERT INTO sync_checkpoints (provider, account, kind, since, next_page, synced, total, done, \
         updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (provider, account, kind) DO UPDATE SET since = excluded.since, \
         next_page = excluded.next_page, synced = excluded.synced, total = excluded.total, \
         done = excluded.done, updated_at = excluded.updated_at",
    )
    .during(OP)?
    .execute(params![
        c.provider.to_string(),
        c.account.as_str(),
        c.kind,
        c.since,
        c.next_page,
        i64::try_from(c.synced).unwrap_or(i64::MAX),
        c.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
        c.done,
        now
    ])
    .during(OP)?;
    Ok(())
}

/// One record.
pub(crate) fn get(
    conn: &Connection,
    provider: Provider,
    kind: &str,
    account: &AccountName,
    id: &str,
) -> Result<Option<RecordEntry>, StoreError> {
    const OP: &str = "reading a record";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records \
             WHERE provider = ?1 AND kind = ?2 AND account = ?3 AND record_id = ?4"
        ))
        .during(OP)?;
    rows::first(
        &mut stmt,
        params![provider.to_string(), kind, account.as_str(), id],
        OP,
        decode,
    )
}

/// Records matching `filter`, the most recently merged first.
pub(crate) fn list(conn: &Connection, filter: &RecordFilter) -> Result<Vec<RecordEntry>, StoreError> {
    const OP: &str = "listing records";
    // The search looks inside the JSON text too (an email, a phone number), so it is matched in
    // Rust after the indexed part of the query; paging is applied after it.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM records WHERE provider = ?1 AND kind = ?2 \
             AND (?3 IS NULL OR account = ?3) ORDER BY last_seen_at DESC, record_id"
        ))
        .during(OP)?;
    let mut rows_iter = stmt
        .query(params![
            filter.provider.to_string(),
            filter.kind,
            filter.account.as_ref().map(AccountName::as_str)
        ])
        .during(OP)?;
    let limit = filter.limit.min(rows::MAX_PAGE);
    let (mut skipped, mut found) = (0, Vec::new());
    while let Some(row) = rows_iter.next().during(OP)? {
        if found.len() >= limit {
            break;
        }
        let record = decode(row)?;
        if !filter.matches(&record) {
            continue;
        }
        if skipped < filter.offset {
            skipped += 1;
            continue;
        }
        found.push(record);
    }
    Ok(found)
}

/// How many records of `kind` are kept.
pub(crate) fn count(
    conn: &Connection,
    provider: Provider,
    kind: &str,
    account: Option<&AccountName>,
) -> Result<u64, StoreError> {
    const OP: &str = "counting records";
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM records WHERE provider = ?1 AND kind = ?2 AND (?3 IS NULL OR account = ?3)",
        )
        .during(OP)?
        .query_row(
            params![provider.to_string(), kind, account.map(AccountName::as_str)],
            |row| row.get(0),
        )
        .during(OP)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The checkpoint of the latest sync of `kind` for `account`.
pub(crate) fn checkpoint(
    conn: &Connection,
    provider: Provider,
    account: &AccountName,
    kind: &str,
) -> Result<Option<SyncCheckpoint>, StoreError> {
    const OP: &str = "reading a sync checkpoint";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM sync_checkpoints \
             WHERE provider = ?1 AND account = ?2 AND kind = ?3"
        ))
        .during(OP)?;
    rows::first(
        &mut stmt,
        params![provider.to_string(), account.as_str(), kind],
        OP,
        |row| decode_record::checkpoint(row, provider, account, kind),
    )
}
