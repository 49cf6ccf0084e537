//! `Idempotency-Key` records.

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{IdempotencyClaim, IdempotencyRecord, StoreError, StoredResponse, REQUEST_HASH_LEN};

/// The columns [`stored`] decodes, in order.
pub(crate) const COLUMNS: &str = "request_hash, status, body, created_at";

/// A key's row as stored; its response is decoded only when asked for.
pub(crate) struct Stored {
    hash: Vec<u8>,
    status: Option<i64>,
    body: Option<Vec<u8>>,
    created_at: i64,
}

/// Decodes the [`COLUMNS`] starting at column 0.
pub(crate) fn stored(row: &impl Columns, op: &'static str) -> Result<Stored, StoreError> {
    Ok(Stored {
        hash: row.blob(0, op)?,
        status: row.opt_int(1, op)?,
        body: row.opt_blob(2, op)?,
        created_at: row.int(3, op)?,
    })
}

impl Stored {
    /// The stored response, or `None` while the first request runs.
    fn response(self) -> Result<Option<StoredResponse>, StoreError> {
        match self.status {
            None => Ok(None),
            Some(s) => Ok(Some(StoredResponse {
                status: u16::try_from(s)
                    .map_err(|_| corrupt("idempotency_keys.status", format!("{s} is not an HTTP status")))?,
                body: self.body.unwrap_or_default(),
            })),
        }
    }

    /// What a request with fingerprint `hash` learns from this key, held by an earlier request.
    pub(crate) fn held(self, hash: &[u8; REQUEST_HASH_LEN]) -> Result<IdempotencyClaim, StoreError> {
        if self.hash.as_slice() != hash.as_slice() {
            return Ok(IdempotencyClaim::Mismatch);
        }
        Ok(match self.response()? {
            Some(r) => IdempotencyClaim::Completed(r),
            None => IdempotencyClaim::InProgress,
        })
    }

    /// The record of key `key` of `scope`.
    pub(crate) fn record(self, scope: &str, key: &str) -> Result<IdempotencyRecord, StoreError> {
        let request_hash = <[u8; REQUEST_HASH_LEN]>::try_from(self.hash.as_slice()).map_err(|_| {
            corrupt(
                "idempotency_keys.request_hash",
                format!("{} bytes, expected {REQUEST_HASH_LEN}", self.hash.len()),
            )
        })?;
        let created_at = self.created_at;
        Ok(IdempotencyRecord {
            scope: scope.to_string(),
            key: key.to_string(),
            request_hash,
            response: self.response()?,
            created_at: rows::from_ms(created_at, "idempotency_keys.created_at")?,
        })
    }
}
