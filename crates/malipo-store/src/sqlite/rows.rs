//! Reading rusqlite rows, running listings; the conversions both adapters share are
//! [`crate::convert`]'s, re-exported here.

use rusqlite::{Params, Row, Statement};

use crate::error::Context;
use crate::listing::{Arg, Dialect, Listing};
use crate::StoreError;

pub(crate) use crate::convert::{
    clip, count, duration_ms, from_ms, id, now_ms, opt_id, page, to_ms, MAX_PAGE,
};

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
