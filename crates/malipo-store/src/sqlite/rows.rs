//! Conversions between stored columns and the port's types.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_core::{Id, IdKind, Provider};
use rusqlite::{Params, Row, Statement};

use crate::error::Context;
use crate::listing::{Arg, Dialect, Listing};
use crate::StoreError;

/// Longest error text kept on a row; a merchant answering with a megabyte of HTML is clipped.
const MAX_ERROR_BYTES: usize = 2_048;

/// The largest page a listing returns.
pub(crate) const MAX_PAGE: usize = 1_000;

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64, what: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("{ms} is not a time in milliseconds"),
    })
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn page(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_PAGE)).unwrap_or(0)
}

pub(crate) fn id<K: IdKind>(text: &str, what: &'static str) -> Result<Id<K>, StoreError> {
    text.parse()
        .map_err(|e: malipo_core::IdError| StoreError::Corrupt {
            what,
            detail: e.to_string(),
        })
}

pub(crate) fn opt_id<K: IdKind>(
    text: Option<String>,
    what: &'static str,
) -> Result<Option<Id<K>>, StoreError> {
    text.map(|t| id(&t, what)).transpose()
}

pub(crate) fn provider(text: &str) -> Result<Provider, StoreError> {
    text.parse().map_err(|detail| StoreError::Corrupt {
        what: "provider",
        detail,
    })
}

pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Clips an error text on a character boundary.
pub(crate) fn clip(text: &str) -> &str {
    if text.len() <= MAX_ERROR_BYTES {
        return text;
    }
    let mut end = MAX_ERROR_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

crate::decode::columns_of!(Row<'_>, get);

/// A column, with the store's error naming the operation.
pub(crate) fn col<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    i: usize,
    op: &'static str,
) -> Result<T, StoreError> {
    row.get(i).during(op)
}

/// Every row of `stmt`, decoded.
pub(crate) fn all<T>(
    stmt: &mut Statement<'_>,
    params: impl Params,
    op: &'static str,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut rows = stmt.query(params).during(op)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().during(op)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The first row of `stmt`, decoded.
pub(crate) fn first<T>(
    stmt: &mut Statement<'_>,
    params: impl Params,
    op: &'static str,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut rows = stmt.query(params).during(op)?;
    match rows.next().during(op)? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Whether a driver error is a UNIQUE or PRIMARY KEY violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// SQLite's spelling of a listing.
pub(crate) struct Sqlite;

impl Dialect for Sqlite {
    fn placeholder(n: usize) -> String {
        format!("?{n}")
    }

    fn last_four(column: &str) -> String {
        format!("substr({column}, -4)")
    }
}

/// Runs a listing for at most `limit` rows (capped at [`MAX_PAGE`]), newest first.
pub(crate) fn fetch<T>(
    conn: &rusqlite::Connection,
    listing: Listing,
    limit: usize,
    op: &'static str,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    use rusqlite::types::Value;
    let (sql, args) = listing.page(limit);
    let args = args.into_iter().map(|a| match a {
        Arg::Text(t) => Value::Text(t),
        Arg::Int(i) => Value::Integer(i),
    });
    let mut stmt = conn.prepare_cached(&sql).during(op)?;
    all(&mut stmt, rusqlite::params_from_iter(args), op, decode)
}
