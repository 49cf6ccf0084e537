//! `Idempotency-Key` records of the merchant API.

use rusqlite::{params, Connection};

use super::rows;
use crate::decode::idempotency::{stored, Stored, COLUMNS};
use crate::error::Context;
use crate::{IdempotencyClaim, IdempotencyRecord, StoreError, StoredResponse, REQUEST_HASH_LEN};

fn fetch(conn: &Connection, scope: &str, key: &str, op: &'static str) -> Result<Option<Stored>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM idempotency_keys WHERE scope = ?1 AND key = ?2"
        ))
        .during(op)?;
    rows::first(&mut stmt, [scope, key], op, |r| stored(r, op))
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
    if let Some(held) = fetch(conn, scope, key, OP)? {
        return held.held(hash);
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
    fetch(conn, scope, key, OP)?
        .map(|s| s.record(scope, key))
        .transpose()
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
