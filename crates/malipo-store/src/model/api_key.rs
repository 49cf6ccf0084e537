//! Merchant API keys: only their SHA-256 digest is stored.

use chrono::{DateTime, Utc};
use malipo_core::kinds::KeyId;

/// The length of a key digest (SHA-256).
pub const KEY_HASH_LEN: usize = 32;

/// A key to record. The key itself is never stored: only its digest, and a short prefix of it
/// so an operator can tell keys apart in `malipo api-key list`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewApiKey {
    /// Its id.
    pub id: KeyId,
    /// A label chosen by the operator.
    pub name: Option<String>,
    /// `test` (sandbox keys, `mk_test_…`) or `live` (production keys, `mk_live_…`).
    pub environment: String,
    /// The first characters of the key, safe to show (`mk_test_Ab3x`).
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: [u8; KEY_HASH_LEN],
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("environment", &self.environment)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// A stored key.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: KeyId,
    /// The operator's label.
    pub name: Option<String>,
    /// `test` or `live`.
    pub environment: String,
    /// The first characters of the key.
    pub prefix: String,
    /// SHA-256 of the key (not serialised: it is only for comparing).
    #[serde(skip)]
    pub hash: [u8; KEY_HASH_LEN],
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// Whether the key still authenticates.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("environment", &self.environment)
            .field("prefix", &self.prefix)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}
