//! Merchant API keys.

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{ApiKeyRecord, StoreError, KEY_HASH_LEN};

/// The columns [`api_key`] decodes, in order.
pub(crate) const COLUMNS: &str = "id, name, environment, prefix, key_hash, created_at, revoked_at";

/// Decodes the [`COLUMNS`] starting at column 0.
pub(crate) fn api_key(row: &impl Columns) -> Result<ApiKeyRecord, StoreError> {
    const OP: &str = "reading an API key";
    let id = row.text(0, OP)?;
    let hash = row.blob(4, OP)?;
    let revoked = row.opt_int(6, OP)?;
    Ok(ApiKeyRecord {
        id: rows::id(&id, "api_keys.id")?,
        name: row.opt_text(1, OP)?,
        environment: row.text(2, OP)?,
        prefix: row.text(3, OP)?,
        hash: <[u8; KEY_HASH_LEN]>::try_from(hash.as_slice()).map_err(|_| {
            corrupt(
                "api_keys.key_hash",
                format!("{} bytes, expected {KEY_HASH_LEN}", hash.len()),
            )
        })?,
        created_at: rows::from_ms(row.int(5, OP)?, "api_keys.created_at")?,
        revoked_at: revoked
            .map(|ms| rows::from_ms(ms, "api_keys.revoked_at"))
            .transpose()?,
    })
}
