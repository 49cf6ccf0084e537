//! Local copies of provider resources, and sync checkpoints. The records' column list stays
//! with the adapters: `data` is text in SQLite and `jsonb` (read as `data::text`) in PostgreSQL.

use malipo_core::{AccountName, Provider};
use serde_json::{Map, Value};

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{RecordEntry, RecordSource, StoreError, SyncCheckpoint};

/// A record's stored data, which is always a JSON object.
pub(crate) fn object(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(corrupt("records.data", "not a JSON object")),
        Err(e) => Err(corrupt("records.data", e.to_string())),
    }
}

/// Decodes a record from columns 0 to 8: `provider, account, kind, record_id, <data as text>,
/// updated_at, source, first_seen_at, last_seen_at`.
pub(crate) fn record(row: &impl Columns) -> Result<RecordEntry, StoreError> {
    const OP: &str = "reading a record";
    let provider = row.text(0, OP)?;
    let account = row.text(1, OP)?;
    let data = row.text(4, OP)?;
    let updated = row.opt_int(5, OP)?;
    let source = row.text(6, OP)?;
    Ok(RecordEntry {
        provider: rows::provider(&provider)?,
        account: account
            .parse()
            .map_err(|e: malipo_core::AccountNameError| corrupt("records.account", e.to_string()))?,
        kind: row.text(2, OP)?,
        id: row.text(3, OP)?,
        data: object(&data)?,
        updated_at: updated
            .map(|ms| rows::from_ms(ms, "records.updated_at"))
            .transpose()?,
        source: RecordSource::parse(&source).ok_or_else(|| corrupt("records.source", source.clone()))?,
        first_seen_at: rows::from_ms(row.int(7, OP)?, "records.first_seen_at")?,
        last_seen_at: rows::from_ms(row.int(8, OP)?, "records.last_seen_at")?,
    })
}

/// The columns [`checkpoint`] decodes, in order.
pub(crate) const CHECKPOINT_COLUMNS: &str = "since, next_page, synced, total, done";

/// Decodes the [`CHECKPOINT_COLUMNS`] of the checkpoint of `provider`'s `account` and `kind`.
pub(crate) fn checkpoint(
    row: &impl Columns,
    provider: Provider,
    account: &AccountName,
    kind: &str,
) -> Result<SyncCheckpoint, StoreError> {
    const OP: &str = "reading a sync checkpoint";
    let next_page = row.int(1, OP)?;
    let synced = row.int(2, OP)?;
    let total = row.opt_int(3, OP)?;
    Ok(SyncCheckpoint {
        provider,
        account: account.clone(),
        kind: kind.to_string(),
        since: row.text(0, OP)?,
        next_page: u32::try_from(next_page)
            .map_err(|_| corrupt("sync_checkpoints.next_page", next_page.to_string()))?,
        synced: u64::try_from(synced).unwrap_or(0),
        total: total.map(|t| u64::try_from(t).unwrap_or(0)),
        done: row.boolean(4, OP)?,
    })
}
