//! The PostgreSQL schema's migrations, applied under an advisory lock.

use crate::error::Context;
use crate::{MigrationInfo, MigrationReport, StoreError};

/// The PostgreSQL schema's migrations, in order; the same versions as SQLite's, in PostgreSQL's
/// dialect. Never edit one that shipped: add the next.
const MIGRATIONS: &[(MigrationInfo, &str)] = &[
    (
        MigrationInfo {
            version: 1,
            name: "init",
        },
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        MigrationInfo {
            version: 2,
            name: "settlement",
        },
        include_str!("../../migrations/postgres/0002_settlement.sql"),
    ),
    (
        MigrationInfo {
            version: 3,
            name: "merchant_api",
        },
        include_str!("../../migrations/postgres/0003_merchant_api.sql"),
    ),
    (
        MigrationInfo {
            version: 4,
            name: "reconciliation",
        },
        include_str!("../../migrations/postgres/0004_reconciliation.sql"),
    ),
    (
        MigrationInfo {
            version: 5,
            name: "delivery",
        },
        include_str!("../../migrations/postgres/0005_delivery.sql"),
    ),
    (
        MigrationInfo {
            version: 6,
            name: "inbox",
        },
        include_str!("../../migrations/postgres/0006_inbox.sql"),
    ),
    (
        MigrationInfo {
            version: 7,
            name: "accounts",
        },
        include_str!("../../migrations/postgres/0007_accounts.sql"),
    ),
    (
        MigrationInfo {
            version: 8,
            name: "records",
        },
        include_str!("../../migrations/postgres/0008_records.sql"),
    ),
];

/// The newest schema version this build knows (and [`super::PostgresStore::connect`] migrates
/// to); `check-config` compares it with [`super::PostgresStore::schema_version`].
pub const POSTGRES_SCHEMA_VERSION: u32 = 8;

/// The advisory lock key migrations hold: "malipo" in ASCII, a number no other application is
/// likely to use.
const LOCK_KEY: i64 = 0x6d61_6c69_706f;

/// The migrations this build knows.
pub(crate) fn known() -> impl Iterator<Item = MigrationInfo> {
    MIGRATIONS.iter().map(|(info, _)| *info)
}

/// Applies every migration newer than the database's version, each in its own transaction with
/// its `schema_migrations` row. The whole run holds a session advisory lock, so instances
/// starting together wait for the first and then find nothing to do; the lock ends with the
/// session, so a crashed migrator never leaves it held. Run it on a connection of its own.
pub(crate) async fn run(client: &mut tokio_postgres::Client) -> Result<MigrationReport, StoreError> {
    // A migration may index a large table, and the lock waits for another instance's: neither
    // is bounded by the statement timeout the requests run under (this session is its own).
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .during("lifting the statement timeout for migrations")?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .during("waiting for the migration lock")?;
    let result = apply(client).await;
    // Released at once for the instances waiting; the session's end would release it anyway.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    result
}

async fn apply(client: &mut tokio_postgres::Client) -> Result<MigrationReport, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT   NOT NULL,
                 applied_at BIGINT NOT NULL
             )",
        )
        .await
        .during("creating the schema_migrations table")?;
    let mut applied = Vec::new();
    for (info, sql) in MIGRATIONS {
        let fail = |source: tokio_postgres::Error| StoreError::Migration {
            version: info.version,
            name: info.name,
            source: std::sync::Arc::new(source),
        };
        let tx = client.transaction().await.map_err(fail)?;
        let done = tx
            .query_opt(
                "SELECT version FROM schema_migrations WHERE version = $1",
                &[&i64::from(info.version)],
            )
            .await
            .map_err(fail)?;
        if done.is_some() {
            continue;
        }
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[
                &i64::from(info.version),
                &info.name,
                &chrono::Utc::now().timestamp_millis(),
            ],
        )
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(
            version = info.version,
            name = info.name,
            "applied PostgreSQL migration"
        );
        applied.push(*info);
    }
    let version = version(client).await?;
    if version > POSTGRES_SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            known: POSTGRES_SCHEMA_VERSION,
        });
    }
    Ok(MigrationReport { applied, version })
}

/// The newest migration recorded in the database (0 for a fresh one).
pub(crate) async fn version(client: &tokio_postgres::Client) -> Result<u32, StoreError> {
    const OP: &str = "reading the schema version";
    let row = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .during(OP)?;
    if !row.try_get::<_, bool>(0).during(OP)? {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT max(version) FROM schema_migrations", &[])
        .await
        .during(OP)?;
    let v: Option<i64> = row.try_get(0).during(OP)?;
    Ok(u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX))
}

/// Refuses a database without the schema this build needs.
pub(crate) async fn check_current(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    let found = version(client).await?;
    match found.cmp(&POSTGRES_SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(StoreError::SchemaTooNew {
            found,
            known: POSTGRES_SCHEMA_VERSION,
        }),
        std::cmp::Ordering::Less => Err(StoreError::Invalid(format!(
            "the database schema is at version {found} but this build needs {POSTGRES_SCHEMA_VERSION}: run `malipo migrate`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_version_is_the_last_migration_and_matches_sqlite() {
        assert_eq!(known().last().map(|m| m.version), Some(POSTGRES_SCHEMA_VERSION));
        let sqlite: Vec<_> = crate::SqliteStore::migrations();
        assert_eq!(
            known().collect::<Vec<_>>(),
            sqlite,
            "both schemas count the same versions"
        );
    }
}
