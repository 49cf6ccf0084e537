//! Merchant API keys.

use malipo_core::kinds::KeyId;
use rusqlite::{params, Connection, Row};

use super::rows;
use crate::decode::api_key::{api_key, COLUMNS};
use crate::error::Context;
use crate::{ApiKeyRecord, NewApiKey, StoreError, KEY_HASH_LEN};

fn decode(row: &Row<'_>) -> Result<ApiKeyRecord, StoreError> {
    api_key(row)
}

/// Records a key; a taken id or digest is a conflict.
pub(crate) fn insert(conn: &Connection, key: &NewApiKey, now: i64) -> Result<ApiKeyRecord, StoreError> {
    const OP: &str = "recording an API key";
    let result = conn
        .prepare_cached(
            "INSERT INTO api_keys (id, name, environment, prefix, key_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .during(OP)?
        .execute(params![
            key.id.to_string(),
            key.name,
            key.environment,
            key.prefix,
            &key.hash[..],
            now
        ]);
    match result {
        Ok(_) => {}
        Err(e) if rows::is_unique_violation(&e) => {
            return Err(StoreError::Conflict {
                what: format!("API key {} (or its digest)", key.id),
                holder: "another key".into(),
            })
        }
        Err(e) => return Err(StoreError::database(OP, e)),
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
pub(crate) fn find_by_hash(
    conn: &Connection,
    hash: &[u8; KEY_HASH_LEN],
) -> Result<Option<ApiKeyRecord>, StoreError> {
    const OP: &str = "finding an API key";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = ?1"))
        .during(OP)?;
    rows::first(&mut stmt, [&hash[..]], OP, decode)
}

/// One key.
pub(crate) fn get(conn: &Connection, id: KeyId) -> Result<Option<ApiKeyRecord>, StoreError> {
    const OP: &str = "reading an API key";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1"))
        .during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, decode)
}

/// Every key, newest first.
pub(crate) fn list(conn: &Connection) -> Result<Vec<ApiKeyRecord>, StoreError> {
    const OP: &str = "listing API keys";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys ORDER BY id DESC"))
        .during(OP)?;
    rows::all(&mut stmt, [], OP, decode)
}

/// Revokes a key; revoking it again keeps the first revocation time.
pub(crate) fn revoke(conn: &Connection, id: KeyId, now: i64) -> Result<ApiKeyRecord, StoreError> {
    const OP: &str = "revoking an API key";
    conn.prepare_cached("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2")
        .during(OP)?
        .execute(params![now, id.to_string()])
        .during(OP)?;
    get(conn, id)?.ok_or_else(|| StoreError::NotFound {
        what: "API key",
        id: id.to_string(),
    })
}
