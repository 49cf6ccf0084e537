use rusqlite::{Connection, OptionalExtension};

use crate::error::Context;
use crate::{MigrationInfo, MigrationReport, StoreError};

/// The SQLite schema's migrations, in order. Never edit one that shipped: add the next.
const MIGRATIONS: &[(MigrationInfo, &str)] = &[
    (
        MigrationInfo {
            version: 1,
            name: "init",
        },
        include_str!("../../migrations/0001_init.sql"),
    ),
    (
        MigrationInfo {
            version: 2,
            name: "settlement",
        },
        include_str!("../../migrations/0002_settlement.sql"),
    ),
    (
        MigrationInfo {
            version: 3,
            name: "merchant_api",
        },
        include_str!("../../migrations/0003_merchant_api.sql"),
    ),
    (
        MigrationInfo {
            version: 4,
            name: "reconciliation",
        },
        include_str!("../../migrations/0004_reconciliation.sql"),
    ),
    (
        MigrationInfo {
            version: 5,
            name: "delivery",
        },
        include_str!("../../migrations/0005_delivery.sql"),
    ),
    (
        MigrationInfo {
            version: 6,
            name: "inbox",
        },
        include_str!("../../migrations/0006_inbox.sql"),
    ),
    (
        MigrationInfo {
            version: 7,
            name: "accounts",
        },
        include_str!("../../migrations/0007_accounts.sql"),
    ),
    (
        MigrationInfo {
            version: 8,
            name: "records",
        },
        include_str!("../../migrations/0008_records.sql"),
    ),
];

/// The migrations this build knows.
pub(crate) fn known() -> impl Iterator<Item = MigrationInfo> {
    MIGRATIONS.iter().map(|(info, _)| *info)
}

fn latest() -> u32 {
    known().map(|m| m.version).max().unwrap_or(0)
}

/// Applies every migration newer than the database's version, each in its own transaction
/// together with its `schema_migrations` row, so a failure leaves the previous version intact.
pub(crate) fn run(conn: &mut Connection) -> Result<MigrationReport, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )
    .during("creating the schema_migrations table")?;
    let mut applied = Vec::new();
    for (info, sql) in MIGRATIONS {
        let fail = |source: rusqlite::Error| StoreError::Migration {
            version: info.version,
            name: info.name,
            source: std::sync::Arc::new(source),
        };
        // IMMEDIATE: two processes migrating at once serialise here instead of both applying.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(fail)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [info.version],
                |r| r.get(0),
            )
            .optional()
            .map_err(fail)?;
        if done.is_some() {
            continue;
        }
        tx.execute_batch(sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![info.version, info.name, chrono::Utc::now().timestamp_millis()],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = info.version, name = info.name, "applied migration");
        applied.push(*info);
    }
    let version = version(conn)?;
    if version > latest() {
        return Err(StoreError::SchemaTooNew {
            found: version,
            known: latest(),
        });
    }
    Ok(MigrationReport { applied, version })
}

/// The newest migration recorded in the database (0 for a fresh one).
pub(crate) fn version(conn: &Connection) -> Result<u32, StoreError> {
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .during("reading the schema version")?;
    if !has_table {
        return Ok(0);
    }
    let v: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| r.get(0))
        .during("reading the schema version")?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX))
}

/// Refuses a database without the schema this build needs.
pub(crate) fn check_current(conn: &Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    match found.cmp(&latest()) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
            found,
            known: latest(),
        }),
        std::cmp::Ordering::Less => Err(StoreError::Invalid(format!(
            "the database schema is at version {found} but this build needs {}: run `malipo migrate`",
            latest()
        ))),
    }
}
