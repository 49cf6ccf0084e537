//! Moving a deployment's data from its SQLite file to PostgreSQL (`malipo migrate-data`), table
//! by table in key order, resumable: each batch is inserted with the table's progress in one
//! PostgreSQL transaction, so a copy stopped at any moment continues after the last batch it
//! committed.

use std::path::Path;

use rusqlite::types::Value as Sql;
use tokio_postgres::types::ToSql;

use super::connect;
use crate::error::Context;
use crate::{PostgresOptions, SqliteStore, StoreError};

/// The tables copied, in an order where nothing refers to a row not yet copied, each with the
/// columns it is read in order of (its primary key).
const TABLES: &[(&str, &[&str])] = &[
    ("api_keys", &["id"]),
    ("idempotency_keys", &["scope", "key"]),
    ("endpoints", &["id"]),
    ("events", &["seq"]),
    ("jobs", &["id"]),
    ("payments", &["id"]),
    ("deliveries", &["id"]),
    ("records", &["provider", "kind", "account", "record_id"]),
    ("sync_checkpoints", &["provider", "account", "kind"]),
];

/// Columns PostgreSQL numbers itself: the events' insertion order, kept by copying in it.
const GENERATED: &[(&str, &str)] = &[("events", "seq")];

/// How far the copy of one table got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyProgress {
    /// The table.
    pub table: &'static str,
    /// Rows copied so far (counting those of an interrupted run).
    pub copied: u64,
    /// Rows the SQLite table holds.
    pub total: u64,
}

/// What a copy did, table by table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Each table's rows: copied in all, already in PostgreSQL (skipped), and whether an
    /// interrupted copy was resumed.
    pub tables: Vec<TableCopy>,
}

/// One table's part of a [`CopyReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows copied, by this run and any interrupted one before it.
    pub copied: u64,
    /// Rows whose key PostgreSQL already held (written by a gateway already running on it), left
    /// as they were.
    pub skipped: u64,
    /// Whether this run continued an interrupted one.
    pub resumed: bool,
}

/// Copies every row of the SQLite database at `sqlite` into the PostgreSQL database at `url`,
/// migrating both to the current schema first. Rows whose key PostgreSQL already has are left
/// alone. Run it with no gateway writing to the SQLite file; running it again after an
/// interruption continues where it stopped, and after a finished copy it copies nothing.
pub async fn copy_sqlite_to_postgres(
    sqlite: &Path,
    url: &str,
    batch: usize,
    mut progress: impl FnMut(&CopyProgress),
) -> Result<CopyReport, StoreError> {
    let _alone = crate::sqlite::in_use::exclusive(sqlite)?;
    SqliteStore::migrate(sqlite)?;
    let target = connect::target(url, &PostgresOptions::default())?;
    let mut client = connect::connect_one(&target).await?;
    super::migrate::run(&mut client).await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS malipo_data_copy (\
                 table_name TEXT PRIMARY KEY, last_key TEXT NOT NULL, copied BIGINT NOT NULL, \
                 skipped BIGINT NOT NULL, done BOOLEAN NOT NULL)",
        )
        .await
        .during("preparing the copy's progress table")?;
    let source = rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::Open {
            path: sqlite.to_path_buf(),
            source: std::sync::Arc::new(e),
        })?;
    let batch = batch.clamp(1, 10_000);
    let mut report = CopyReport { tables: Vec::new() };
    for &(table, key) in TABLES {
        report
            .tables
            .push(copy_table(&source, &mut client, table, key, batch, &mut progress).await?);
    }
    Ok(report)
}

async fn copy_table(
    source: &rusqlite::Connection,
    client: &mut tokio_postgres::Client,
    table: &'static str,
    key: &[&str],
    batch: usize,
    progress: &mut impl FnMut(&CopyProgress),
) -> Result<TableCopy, StoreError> {
    const OP: &str = "copying rows to PostgreSQL";
    let total: i64 = source
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .during("counting the SQLite rows")?;
    let total = u64::try_from(total).unwrap_or(0);
    let state = client
        .query_opt(
            "SELECT last_key, copied, skipped, done FROM malipo_data_copy WHERE table_name = $1",
            &[&table],
        )
        .await
        .during(OP)?;
    let (mut last, mut copied, mut skipped, done, resumed) = match &state {
        Some(row) => {
            let last: String = row.get(0);
            let last: Vec<Sql> = serde_json::from_str::<Vec<serde_json::Value>>(&last)
                .unwrap_or_default()
                .into_iter()
                .map(from_json)
                .collect();
            let (copied, skipped, done): (i64, i64, bool) = (row.get(1), row.get(2), row.get(3));
            (Some(last), copied as u64, skipped as u64, done, true)
        }
        None => (None, 0, 0, false, false),
    };
    if done {
        if copied + skipped != total {
            // A gateway wrote to the SQLite file after the copy finished: those rows (and any
            // change to rows already copied) would be left behind without a word.
            return Err(StoreError::Invalid(format!(
                "{table}: the SQLite database now holds {total} rows, but the copy that finished took {}; \
                 rows written since are not copied. Copy again into an empty PostgreSQL database, with no gateway running on the SQLite file",
                copied + skipped
            )));
        }
        return Ok(TableCopy {
            table,
            copied,
            skipped,
            resumed: false,
        });
    }

    // The columns both schemas have, with PostgreSQL's types; generated ones are left out.
    let types: Vec<(String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .during(OP)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .filter(|(name, _): &(String, String)| !GENERATED.contains(&(table, name.as_str())))
        .collect();
    let sqlite_columns: Vec<String> = {
        let mut stmt = source
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .during("reading the SQLite columns")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .during("reading the SQLite columns")?;
        names
            .collect::<Result<_, _>>()
            .during("reading the SQLite columns")?
    };
    let columns: Vec<(String, String)> = types
        .into_iter()
        .filter(|(name, _)| sqlite_columns.contains(name))
        .collect();
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let key_list = key.join(", ");
    let placeholders: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| match ty.as_str() {
            "jsonb" => format!("${}::text::jsonb", i + 1),
            _ => format!("${}", i + 1),
        })
        .collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        names.join(", "),
        placeholders.join(", ")
    );
    let mut select_columns: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    select_columns.extend(key.iter().map(|k| k.to_string()));

    loop {
        let after = match &last {
            Some(_) => format!(
                "WHERE ({key_list}) > ({})",
                (1..=key.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {} FROM {table} {after} ORDER BY {key_list} LIMIT {batch}",
            select_columns.join(", ")
        );
        let rows: Vec<Vec<Sql>> = {
            let mut stmt = source.prepare(&sql).during("reading SQLite rows")?;
            let params: Vec<&dyn rusqlite::ToSql> =
                last.iter().flatten().map(|v| v as &dyn rusqlite::ToSql).collect();
            let width = select_columns.len();
            let mapped = stmt
                .query_map(params.as_slice(), |r| {
                    (0..width).map(|i| r.get::<_, Sql>(i)).collect()
                })
                .during("reading SQLite rows")?;
            mapped.collect::<Result<_, _>>().during("reading SQLite rows")?
        };
        if rows.is_empty() {
            break;
        }
        let tx = client.transaction().await.during(OP)?;
        let stmt = tx.prepare(&insert).await.during(OP)?;
        for row in &rows {
            let values: Vec<Box<dyn ToSql + Sync + Send>> = columns
                .iter()
                .zip(row)
                .map(|((name, ty), v)| to_postgres(table, name, ty, v))
                .collect::<Result<_, _>>()?;
            let params: Vec<&(dyn ToSql + Sync)> =
                values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
            match tx.execute(&stmt, &params).await.during(OP)? {
                0 => skipped += 1,
                _ => copied += 1,
            }
        }
        let key_values: Vec<Sql> = rows
            .last()
            .map(|r| r[columns.len()..].to_vec())
            .unwrap_or_default();
        let key_json = serde_json::Value::Array(key_values.iter().map(to_json).collect()).to_string();
        tx.execute(
            "INSERT INTO malipo_data_copy (table_name, last_key, copied, skipped, done) \
             VALUES ($1, $2, $3, $4, false) ON CONFLICT (table_name) DO UPDATE SET \
             last_key = excluded.last_key, copied = excluded.copied, skipped = excluded.skipped",
            &[&table, &key_json, &(copied as i64), &(skipped as i64)],
        )
        .await
        .during(OP)?;
        tx.commit().await.during(OP)?;
        last = Some(key_values);
        progress(&CopyProgress {
            table,
            copied: copied + skipped,
            total,
        });
        if rows.len() < batch {
            break;
        }
    }
    client
        .execute(
            "INSERT INTO malipo_data_copy (table_name, last_key, copied, skipped, done) \
             VALUES ($1, '[]', $2, $3, true) ON CONFLICT (table_name) DO UPDATE SET done = true, \
             copied = excluded.copied, skipped = excluded.skipped",
            &[&table, &(copied as i64), &(skipped as i64)],
        )
        .await
        .during(OP)?;
    Ok(TableCopy {
        table,
        copied,
        skipped,
        resumed,
    })
}

/// A SQLite value as the PostgreSQL column `name` of type `ty` takes it.
fn to_postgres(
    table: &str,
    name: &str,
    ty: &str,
    value: &Sql,
) -> Result<Box<dyn ToSql + Sync + Send>, StoreError> {
    let mismatch = || StoreError::Corrupt {
        what: "a SQLite value",
        detail: format!(
            "{table}.{name} holds a {} where PostgreSQL expects {ty}",
            kind(value)
        ),
    };
    Ok(match (ty, value) {
        ("bigint", Sql::Null) => Box::new(None::<i64>),
        ("bigint", Sql::Integer(i)) => Box::new(*i),
        ("boolean", Sql::Null) => Box::new(None::<bool>),
        ("boolean", Sql::Integer(i)) => Box::new(*i != 0),
        ("bytea", Sql::Null) => Box::new(None::<Vec<u8>>),
        ("bytea", Sql::Blob(b)) => Box::new(b.clone()),
        ("bytea", Sql::Text(t)) => Box::new(t.as_bytes().to_vec()),
        // Kept by a build before NULs were replaced: jsonb would refuse the row.
        ("jsonb", Sql::Text(t)) if t.contains("\\u0000") => {
            match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(t) {
                Ok(data) => Box::new(crate::model::record::data_text(data)),
                Err(_) => Box::new(t.clone()),
            }
        }
        ("text" | "jsonb", Sql::Null) => Box::new(None::<String>),
        ("text" | "jsonb", Sql::Text(t)) => Box::new(t.clone()),
        ("text", Sql::Integer(i)) => Box::new(i.to_string()),
        _ => return Err(mismatch()),
    })
}

fn kind(value: &Sql) -> &'static str {
    match value {
        Sql::Null => "NULL",
        Sql::Integer(_) => "integer",
        Sql::Real(_) => "real",
        Sql::Text(_) => "text",
        Sql::Blob(_) => "blob",
    }
}

fn to_json(value: &Sql) -> serde_json::Value {
    match value {
        Sql::Integer(i) => serde_json::json!({ "i": i }),
        Sql::Text(t) => serde_json::json!({ "t": t }),
        _ => serde_json::Value::Null,
    }
}

fn from_json(value: serde_json::Value) -> Sql {
    if let Some(i) = value.get("i").and_then(serde_json::Value::as_i64) {
        Sql::Integer(i)
    } else if let Some(t) = value.get("t").and_then(serde_json::Value::as_str) {
        Sql::Text(t.to_owned())
    } else {
        Sql::Null
    }
}
