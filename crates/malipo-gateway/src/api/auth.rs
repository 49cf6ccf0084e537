//! API keys: made here, stored as a digest, checked on every `/v1` request.
//!
//! A key is `mk_test_` (sandbox) or `mk_live_` (production) followed by 32 random bytes in
//! base64url. Only its SHA-256 digest is stored. A plain, fast digest is enough here — unlike
//! for passwords — because the key has 256 bits of entropy: no dictionary exists to try, and
//! brute-forcing the preimage of a digest is infeasible however fast the hash. A fast digest
//! also lets the store find the key by an index on it. The found digest is then compared in
//! constant time, so the answer's timing reveals nothing about how close a guess was.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use malipo_core::kinds::KeyId;
use malipo_core::Secret;
use malipo_store::{NewApiKey, KEY_HASH_LEN};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::AppState;

/// The environment a key is for; it is written in the key so a live key is recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEnvironment {
    /// Sandbox keys: `mk_test_…`.
    Test,
    /// Production keys: `mk_live_…`.
    Live,
}

impl KeyEnvironment {
    /// The environment of a deployment.
    pub fn of(environment: malipo_config::Environment) -> Self {
        match environment {
            malipo_config::Environment::Sandbox => KeyEnvironment::Test,
            malipo_config::Environment::Production => KeyEnvironment::Live,
        }
    }

    /// `test` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEnvironment::Test => "test",
            KeyEnvironment::Live => "live",
        }
    }
}

/// A new key: the record to store and the key itself, to show once.
#[derive(Debug)]
pub struct CreatedKey {
    /// What the store keeps (the digest, not the key).
    pub record: NewApiKey,
    /// The key; shown to the operator once and never stored.
    pub key: Secret<String>,
}

/// Makes a new random key for `environment`, named `name`.
pub fn new_api_key(environment: KeyEnvironment, name: Option<String>) -> CreatedKey {
    let random: [u8; 32] = rand::random();
    let key = format!(
        "mk_{}_{}",
        environment.as_str(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    // The environment prefix and 4 characters: enough to tell keys apart, useless to guess.
    let prefix: String = key.chars().take(8 + 4).collect();
    CreatedKey {
        record: NewApiKey {
            id: KeyId::new(),
            name,
            environment: environment.as_str().to_string(),
            prefix,
            hash: key_hash(&key),
        },
        key: Secret::new(key),
    }
}

/// SHA-256 of a key.
pub fn key_hash(key: &str) -> [u8; KEY_HASH_LEN] {
    Sha256::digest(key.as_bytes()).into()
}

/// The API key a request was authenticated with, set by the auth layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The key's id; idempotency keys are scoped to it.
    pub key_id: KeyId,
}

/// Checks an `Authorization` header's value; the caller on success.
pub(crate) async fn authenticate(state: &AppState, header: Option<&str>) -> Result<Caller, ApiError> {
    let Some(key) = header
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|k| k.starts_with("mk_"))
    else {
        return Err(ApiError::unauthorized());
    };
    let hash = key_hash(key);
    let found = state
        .store
        .find_api_key_by_hash(&hash)
        .await
        .map_err(|e| ApiError::storage(&e))?;
    match found {
        Some(record) if bool::from(record.hash.ct_eq(&hash)) && record.is_active() => {
            Ok(Caller { key_id: record.id })
        }
        _ => Err(ApiError::unauthorized()),
    }
}

/// The layer in front of every `/v1` route but the OpenAPI document.
pub(crate) async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match authenticate(&state, header.as_deref()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_their_environment_and_only_the_digest_is_kept() {
        let made = new_api_key(KeyEnvironment::Test, Some("shop".into()));
        let key = made.key.expose();
        assert!(key.starts_with("mk_test_"), "{key}");
        assert_eq!(key.len(), "mk_test_".len() + 43);
        assert_eq!(made.record.hash, key_hash(key));
        assert!(key.starts_with(&made.record.prefix));
        assert_eq!(made.record.prefix.len(), 12);
        assert!(!format!("{made:?}").contains(key.as_str()));
        let live = new_api_key(KeyEnvironment::Live, None);
        assert!(live.key.expose().starts_with("mk_live_"));
        assert_ne!(live.record.hash, made.record.hash);
    }
}
