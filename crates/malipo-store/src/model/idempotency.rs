//! `Idempotency-Key` records of the merchant API: a request is claimed before it runs, and its
//! answer is kept so a retry gets the same answer instead of running twice.

use chrono::{DateTime, Utc};

/// The length of a request fingerprint (SHA-256).
pub const REQUEST_HASH_LEN: usize = 32;

/// An answer as it was sent: replayed byte for byte to a retry.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for StoredResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredResponse")
            .field("status", &self.status)
            .field("body", &super::Withheld(self.body.len()))
            .finish()
    }
}

/// What [`KeyStore::claim_idempotency_key`](crate::KeyStore::claim_idempotency_key) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was free: it is now held by this request, which must complete or release it.
    Claimed,
    /// The key is held by a request still running with the same fingerprint.
    InProgress,
    /// The key's request finished with this answer (same fingerprint).
    Completed(StoredResponse),
    /// The key was used for a request with another fingerprint (another body or path).
    Mismatch,
}

/// A stored key, for inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key (the API key id): keys of two API keys never collide.
    pub scope: String,
    /// The `Idempotency-Key` header's value.
    pub key: String,
    /// The request's fingerprint.
    pub request_hash: [u8; REQUEST_HASH_LEN],
    /// The answer, once the request finished.
    pub response: Option<StoredResponse>,
    /// When it was claimed.
    pub created_at: DateTime<Utc>,
}
