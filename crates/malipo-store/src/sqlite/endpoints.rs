//! Merchant endpoints: where payment changes are delivered, each with its own secret and filter.

use malipo_core::Secret;
use rusqlite::{params, Connection, Row};

use super::rows;
use crate::decode::endpoint::{endpoint, COLUMNS};
use crate::error::Context;
pub(crate) use crate::model::endpoint::{check, check_secret};
use crate::{EndpointId, EndpointRecord, NewEndpoint, StoreError};

fn decode(row: &Row<'_>) -> Result<EndpointRecord, StoreError> {
    endpoint(row)
}

/// One endpoint by id (`ep_…`) or name.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<EndpointRecord>, StoreError> {
    const OP: &str = "reading an endpoint";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM endpoints WHERE id = ?1 OR name = ?1"
        ))
        .during(OP)?;
    rows::first(&mut stmt, [key], OP, decode)
}

fn must_get(conn: &Connection, key: &str) -> Result<EndpointRecord, StoreError> {
    get(conn, key)?.ok_or_else(|| StoreError::NotFound {
        what: "endpoint",
        id: key.to_owned(),
    })
}

/// Every endpoint, oldest first.
pub(crate) fn list(conn: &Connection) -> Result<Vec<EndpointRecord>, StoreError> {
    const OP: &str = "listing endpoints";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM endpoints ORDER BY id"))
        .during(OP)?;
    rows::all(&mut stmt, [], OP, decode)
}

/// The enabled endpoints, for the outbox's fan-out (in the writer's transaction).
pub(crate) fn enabled(conn: &Connection) -> Result<Vec<EndpointRecord>, StoreError> {
    const OP: &str = "listing enabled endpoints";
    // Built once: every payment change asks (the outbox).
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {COLUMNS} FROM endpoints WHERE enabled = 1 ORDER BY id"));
    let mut stmt = conn.prepare_cached(&SQL).during(OP)?;
    rows::all(&mut stmt, [], OP, decode)
}

/// Creates the endpoint named `e.name`, or updates its URL, filter and private-address flag
/// (and rotates its secret when it differs). `enabled` is only used on creation, so an operator's
/// `disable` survives a restart that re-reads the configuration.
pub(crate) fn upsert(
    conn: &Connection,
    e: &NewEndpoint,
    overlap_ms: i64,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "saving an endpoint";
    let types = e.event_types.join(" ");
    match get(conn, &e.name)? {
        None => {
            conn.prepare_cached(
                "INSERT INTO endpoints (id, name, url, secret, event_types, enabled, allow_private, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )
            .during(OP)?
            .execute(params![
                EndpointId::new().to_string(),
                e.name,
                e.url,
                e.secret.expose(),
                types,
                e.enabled,
                e.allow_private,
                now
            ])
            .during(OP)?;
        }
        Some(current) => {
            conn.prepare_cached(
                "UPDATE endpoints SET url = ?1, event_types = ?2, allow_private = ?3, updated_at = ?4 \
                 WHERE id = ?5",
            )
            .during(OP)?
            .execute(params![
                e.url,
                types,
                e.allow_private,
                now,
                current.id.to_string()
            ])
            .during(OP)?;
            if current.secret != e.secret {
                rotate(conn, &e.name, &e.secret, overlap_ms, now)?;
            }
        }
    }
    must_get(conn, &e.name)
}

/// Enables or disables an endpoint; its queued deliveries stay either way.
pub(crate) fn set_enabled(
    conn: &Connection,
    key: &str,
    enabled: bool,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "enabling or disabling an endpoint";
    let current = must_get(conn, key)?;
    conn.prepare_cached("UPDATE endpoints SET enabled = ?1, updated_at = ?2 WHERE id = ?3")
        .during(OP)?
        .execute(params![enabled, now, current.id.to_string()])
        .during(OP)?;
    must_get(conn, key)
}

/// Makes `secret` the signing secret; the current one keeps signing for `overlap_ms`.
pub(crate) fn rotate(
    conn: &Connection,
    key: &str,
    secret: &Secret<String>,
    overlap_ms: i64,
    now: i64,
) -> Result<EndpointRecord, StoreError> {
    const OP: &str = "rotating an endpoint's secret";
    check_secret(secret)?;
    let current = must_get(conn, key)?;
    conn.prepare_cached(
        "UPDATE endpoints SET previous_secret = secret, previous_secret_until = ?1, secret = ?2, \
         updated_at = ?3 WHERE id = ?4",
    )
    .during(OP)?
    .execute(params![
        now.saturating_add(overlap_ms),
        secret.expose(),
        now,
        current.id.to_string()
    ])
    .during(OP)?;
    must_get(conn, key)
}
