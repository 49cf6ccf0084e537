//! `Idempotency-Key` records of the merchant API.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows;
use crate::error::Context;
use crate::{IdempotencyClaim, IdempotencyRecord, StoreError, StoredResponse, REQUEST_HASH_LEN};

type Row = (Vec<u8>, Option<i64>, Option<Vec<u8>>, i64);

fn fetch(conn: &Connection, scope: &str, key: &str, op: &'static str) -> Result<Option<Row>, StoreError> {
    conn.prepare_cached(
        "SELECT request_hash, status, body, created_at FROM idempotency_keys \
         WHERE scope = ?1 AND key = ?2",
    )
    .during(op)?
    .query_row(params![scope, key], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .optional()
    .during(op)
}

fn response(status: Option<i64>, body: Option<Vec<u8>>) -> Result<Option<StoredResponse>, StoreError> {
    match status {
        None => Ok(None),
        Some(s) => Ok(Some(StoredResponse {
            status: u16::try_from(s).map_err(|_| StoreError::Corrupt {
                what: "idempotency_keys.status",
                detail: format!("{s} is not an HTTP status"),
            })?,
            body: body.unwrap_or_default(),
        })),
    }
}

/// Claims `key` for a request with fingerprint `hash`, or says who holds it. The writer thread
/// runs this read-then-insert alone, so two racing requests cannot both claim a key.
pub(crate) fn claim(
    conn: &Connection,
    scope: &str,
    key: &str,
    hash: &[u8; REQUEST_HASH_LEN],
    now: i64,
) -> Result<IdempotencyClaim, StoreError> {
    const OP: &str = "claiming an idempotency key";
    if let Some((stored_hash, status, body, _)) = fetch(conn, scope, key, OP)? {
        if stored_hash.as_slice() != hash.as_slice() {
            return Ok(IdempotencyClaim::Mismatch);
        }
        return Ok(match response(status, body)? {
            Some(r) => IdempotencyClaim::Completed(r),
            None => IdempotencyClaim::InProgress,
        });
    }
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .during(OP)?
    .execute(params![scope, key, &hash[..], now])
    .during(OP)?;
    Ok(IdempotencyClaim::Claimed)
}

/// Records the answer of a claimed key.
pub(crate) fn complete(
    conn: &Connection,
    scope: &str,
    key: &str,
    answer: &StoredResponse,
    now: i64,
) -> Result<(), StoreError> {
    const OP: &str = "recording an idempotent answer";
    let changed = conn
        .prepare_cached(
            "UPDATE idempotency_keys SET status = ?1, body = ?2, completed_at = ?3 \
             WHERE scope = ?4 AND key = ?5 AND status IS NULL",
        )
        .during(OP)?
        .execute(params![i64::from(answer.status), answer.body, now, scope, key])
        .during(OP)?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "idempotency key in progress",
            id: key.to_string(),
        });
    }
    Ok(())
}

/// Frees a claimed key whose request did nothing, so it can be retried.
pub(crate) fn release(conn: &Connection, scope: &str, key: &str) -> Result<(), StoreError> {
    const OP: &str = "releasing an idempotency key";
    conn.prepare_cached("DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND status IS NULL")
        .during(OP)?
        .execute(params![scope, key])
        .during(OP)?;
    Ok(())
}

/// One key.
pub(crate) fn get(
    conn: &Connection,
    scope: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    const OP: &str = "reading an idempotency key";
    let Some((hash, status, body, created)) = fetch(conn, scope, key, OP)? else {
        return Ok(None);
    };
    Ok(Some(IdempotencyRecord {
        scope: scope.to_string(),
        key: key.to_string(),
        request_hash: <[u8; REQUEST_HASH_LEN]>::try_from(hash.as_slice()).map_err(|_| {
            StoreError::Corrupt {
                what: "idempotency_keys.request_hash",
                detail: format!("{} bytes, expected {REQUEST_HASH_LEN}", hash.len()),
            }
        })?,
        response: response(status, body)?,
        created_at: rows::from_ms(created, "idempotency_keys.created_at")?,
    }))
}

/// Deletes keys claimed before `cutoff` (milliseconds); returns how many.
pub(crate) fn prune(conn: &Connection, cutoff: i64) -> Result<u64, StoreError> {
    const OP: &str = "pruning idempotency keys";
    let n = conn
        .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")
        .during(OP)?
        .execute([cutoff])
        .during(OP)?;
    Ok(n as u64)
}
