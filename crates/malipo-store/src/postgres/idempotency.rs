//! `Idempotency-Key` records of the merchant API.

use super::db::Db;
use crate::decode::idempotency::{stored, Stored, COLUMNS};
use crate::{IdempotencyClaim, IdempotencyRecord, StoreError, StoredResponse, REQUEST_HASH_LEN};

async fn fetch(db: &Db<'_>, scope: &str, key: &str, op: &'static str) -> Result<Option<Stored>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM idempotency_keys WHERE scope = $1 AND key = $2");
    db.opt(&sql, &[&scope, &key], op)
        .await?
        .map(|r| stored(&r, op))
        .transpose()
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
        if let Some(held) = fetch(db, scope, key, OP).await? {
            return held.held(hash);
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
    fetch(db, scope, key, OP)
        .await?
        .map(|s| s.record(scope, key))
        .transpose()
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
