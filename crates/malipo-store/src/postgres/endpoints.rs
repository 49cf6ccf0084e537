//! Merchant endpoints: where payment changes are delivered, each with its own secret and filter.
//! The checks on what may be stored are the SQLite adapter's.

use malipo_core::Secret;

use super::db::Db;
use crate::decode::endpoint::{endpoint as decode, COLUMNS};
use crate::{EndpointId, EndpointRecord, NewEndpoint, StoreError};

pub(crate) use crate::model::endpoint::{check, check_secret};

/// One endpoint by id (`ep_…`) or name.
pub(crate) async fn get(db: &Db<'_>, key: &str) -> Result<Option<EndpointRecord>, StoreError> {
    const OP: &str = "reading an endpoint";
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE id = $1 OR name = $1");
    db.opt(&sql, &[&key], OP).await?.as_ref().map(decode).transpose()
}

async fn must_get(db: &Db<'_>, key: &str) -> Result<EndpointRecord, StoreError> {
    get(db, key).await?.ok_or_else(|| StoreError::NotFound {
        what: "endpoint",
        id: key.to_owned(),
    })
}

/// Every endpoint, oldest first.
pub(crate) async fn list(db: &Db<'_>) -> Result<Vec<EndpointRecord>, StoreError> {
    const OP: &str = "listing endpoints";
    let sql = format!("SELECT {COLUMNS} FROM endpoints ORDER BY id");
    db.query(&sql, &[], OP).await?.iter().map(decode).collect()
}

/// The enabled endpoints, for the outbox's fan-out (in the caller's transaction; read once per
/// handle that caches them, see [`Db::with_endpoints`]).
pub(crate) async fn enabled(db: &Db<'_>) -> Result<Vec<EndpointRecord>, StoreError> {
    match db.endpoints_cache() {
        Some(cache) => cache.get_or_try_init(|| read_enabled(db)).await.cloned(),
        None => read_enabled(db).await,
    }
}

async fn read_enabled(db: &Db<'_>) -> Result<Vec<EndpointRecord>, StoreError> {
    const OP: &str = "listing enabled endpoints";
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE enabled ORDER BY id");
    db.query(&sql, &[], OP).await?.iter().map(decode).collect()
}

/// Creates the endpoint named `e.name`, or updates its URL, filter and private-address flag
/// (and rotates its secret when it differs). `enabled` is only used on creation.
pub(crate) async fn upsert(
    db: &Db<'_>,
    e: &NewEndpoint,
    overlap_ms: i64,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "saving an endpoint";
    let types = e.event_types.join(" ");
    // Instances starting together upsert the same configured endpoint: the name's unique index
    // lets one create it, and the others update what it created.
    let created = db
        .execute(
            "INSERT INTO endpoints (id, name, url, secret, event_types, enabled, allow_private, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (name) DO NOTHING",
            &[
                &EndpointId::new().to_string(),
                &e.name,
                &e.url,
                &e.secret.expose(),
                &types,
                &e.enabled,
                &e.allow_private,
                &now,
            ],
            OP,
        )
        .await?;
    if created == 0 {
        let current = lock(db, &e.name).await?;
        db.execute(
            "UPDATE endpoints SET url = $1, event_types = $2, allow_private = $3, updated_at = $4 \
             WHERE id = $5",
            &[&e.url, &types, &e.allow_private, &now, &current.id.to_string()],
            OP,
        )
        .await?;
        if current.secret != e.secret {
            rotate(db, &e.name, &e.secret, overlap_ms, now).await?;
        }
    }
    must_get(db, &e.name).await
}

async fn lock(db: &Db<'_>, key: &str) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "locking an endpoint";
    let sql = format!("SELECT {COLUMNS} FROM endpoints WHERE id = $1 OR name = $1 FOR UPDATE");
    db.opt(&sql, &[&key], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "endpoint",
            id: key.to_owned(),
        })
}

/// Enables or disables an endpoint; its queued deliveries stay either way.
pub(crate) async fn set_enabled(
    db: &Db<'_>,
    key: &str,
    enabled: bool,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "enabling or disabling an endpoint";
    let current = lock(db, key).await?;
    db.execute(
        "UPDATE endpoints SET enabled = $1, updated_at = $2 WHERE id = $3",
        &[&enabled, &now, &current.id.to_string()],
        OP,
    )
    .await?;
    if enabled && !current.enabled {
        // Its deliveries waited; they are due now.
        db.wake().delivery();
    }
    must_get(db, key).await
}

/// Makes `secret` the signing secret; the current one keeps signing for `overlap_ms`.
pub(crate) async fn rotate(
    db: &Db<'_>,
    key: &str,
    secret: &Secret<String>,
    overlap_ms: i64,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "rotating an endpoint's secret";
    check_secret(secret)?;
    let current = lock(db, key).await?;
    db.execute(
        "UPDATE endpoints SET previous_secret = secret, previous_secret_until = $1, secret = $2, \
         updated_at = $3 WHERE id = $4",
        &[
            &now.saturating_add(overlap_ms),
            &secret.expose(),
            &now,
            &current.id.to_string(),
        ],
        OP,
    )
    .await?;
    must_get(db, key).await
}
