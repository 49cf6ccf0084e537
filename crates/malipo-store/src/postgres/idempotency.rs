//! `Idempotency-Key` records of the merchant API.

use super::db::Db;
use super::rows::col;
use crate::sqlite::rows;
use crate::{IdempotencyClaim, IdempotencyRecord, StoreError, StoredResponse, REQUEST_HASH_LEN};

type Fetched = (Vec<u8>, Option<i64>, Option<Vec<u8>>, i64);

async fn fetch(db: &Db<'_>, scope: &str, key: &str, op: &'static str) -> Result<Option<Fetched>, StoreError> {
    let row = db
        .opt(
            "SELECT request_hash, status, body, created_at FROM idempotency_keys \
             WHERE scope = $1 AND key = $2",
            &[&scope, &key],
            op,
        )
        .await?;
    row.map(|r| Ok((col(&r, 0, op)?, col(&r, 1, op)?, col(&r, 2, op)?, col(&r, 3, op)?)))
        .transpose()
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

/// Claims `key` for a request with fingerprint `hash`, or says who holds it. The insert is the
/// claim: of racing requests on any number of instances, the primary key lets exactly one in.
pub(crate) async fn claim(
    db: &Db<'_>,
    scope: &str,
    key: &str,
    hash: &[u8; REQUEST_HASH_LEN],
    now: i64,
) -> Result<IdempotencyClaim, StoreError> {
    const OP: &str = "claiming an idempotency key";
    // A holder that released its claim between our insert and our read leaves nothing to read:
    // try again (a release is rare, so twice more is plenty).
    for _ in 0..3 {
        let inserted = db
            .execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
                &[&scope, &key, &&hash[..], &now],
                OP,
            )
            .await?;
        if inserted == 1 {
            return Ok(IdempotencyClaim::Claimed);
        }
        if let Some((stored_hash, status, body, _)) = fetch(db, scope, key, OP).await? {
            if stored_hash.as_slice() != hash.as_slice() {
                return Ok(IdempotencyClaim::Mismatch);
            }
            return Ok(match response(status, body)? {
                Some(r) => IdempotencyClaim::Completed(r),
                None => IdempotencyClaim::InProgress,
            });
        }
    }
    Ok(IdempotencyClaim::InProgress)
}

/// Records the answer of a claimed key.
pub(crate) async fn complete(
    db: &Db<'_>,
    scope: &str,
    key: &str,
    answer: &StoredResponse,
    now: i64,
) -> Result<(), StoreError> {
    const OP: &str = "recording an idempotent answer";
    let changed = db
        .execute(
            "UPDATE idempotency_keys SET status = $1, body = $2, completed_at = $3 \
             WHERE scope = $4 AND key = $5 AND status IS NULL",
            &[&i64::from(answer.status), &answer.body, &now, &scope, &key],
            OP,
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "idempotency key in progress",
            id: key.to_string(),
        });
    }
    Ok(())
}

/// Frees a claimed key whose request did nothing, so it can be retried.
pub(crate) async fn release(db: &Db<'_>, scope: &str, key: &str) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL",
        &[&scope, &key],
        "releasing an idempotency key",
    )
    .await?;
    Ok(())
}

/// One key.
pub(crate) async fn get(
    db: &Db<'_>,
    scope: &str,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    const OP: &str = "reading an idempotency key";
    let Some((hash, status, body, created)) = fetch(db, scope, key, OP).await? else {
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
pub(crate) async fn prune(db: &Db<'_>, cutoff: i64) -> Result<u64, StoreError> {
    db.execute(
        "DELETE FROM idempotency_keys WHERE created_at < $1",
        &[&cutoff],
        "pruning idempotency keys",
    )
    .await
}
