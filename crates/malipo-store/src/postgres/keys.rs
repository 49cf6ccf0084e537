//! Merchant API keys.

use malipo_core::kinds::KeyId;

use super::db::Db;
use super::errors::is_unique_violation;
use crate::convert as rows;
use crate::decode::api_key::{api_key as decode, COLUMNS};
use crate::error::Context;
use crate::{ApiKeyRecord, NewApiKey, StoreError, KEY_HASH_LEN};

/// Records a key (one statement on its own); a taken id or digest is a conflict.
pub(crate) async fn insert(db: &Db<'_>, key: &NewApiKey, now: i64) -> Result<ApiKeyRecord, StoreError> {
    const OP: &str = "recording an API key";
    let result = db
        .execute_raw(
            "INSERT INTO api_keys (id, name, environment, prefix, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &key.id.to_string(),
                &key.name,
                &key.environment,
                &key.prefix,
                &&key.hash[..],
                &now,
            ],
        )
        .await;
    match result {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: format!("API key {} (or its digest)", key.id),
                holder: "another key".into(),
            })
        }
        Err(e) => return Err(e).during(OP),
    }
    Ok(ApiKeyRecord {
        id: key.id,
        name: key.name.clone(),
        environment: key.environment.clone(),
        prefix: key.prefix.clone(),
        hash: key.hash,
        created_at: rows::from_ms(now, "api_keys.created_at")?,
        revoked_at: None,
    })
}

/// The key whose digest is `hash`, revoked or not.
pub(crate) async fn find_by_hash(
    db: &Db<'_>,
    hash: &[u8; KEY_HASH_LEN],
) -> Result<Option<ApiKeyRecord>, StoreError> {
    const OP: &str = "finding an API key";
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1");
    db.opt(&sql, &[&&hash[..]], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Every key, newest first.
pub(crate) async fn list(db: &Db<'_>) -> Result<Vec<ApiKeyRecord>, StoreError> {
    const OP: &str = "listing API keys";
    let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY id DESC");
    db.query(&sql, &[], OP).await?.iter().map(decode).collect()
}

/// Revokes a key; revoking it again keeps the first revocation time. One statement.
pub(crate) async fn revoke(db: &Db<'_>, id: KeyId, now: i64) -> Result<ApiKeyRecord, StoreError> {
    const OP: &str = "revoking an API key";
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 RETURNING {COLUMNS}"
    );
    db.opt(&sql, &[&now, &id.to_string()], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "API key",
            id: id.to_string(),
        })
}
