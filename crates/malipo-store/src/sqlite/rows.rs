//! Conversions between stored columns and the port's types.

use std::time::Duration;

use chrono::{DateTime, Utc};
use malipo_core::{Id, IdKind, Provider};
use rusqlite::{Params, Row, Statement};

use crate::decode::Columns;
use crate::error::Context;
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

impl Columns for Row<'_> {
    fn text(&self, i: usize, op: &'static str) -> Result<String, StoreError> {
        self.get(i).during(op)
    }

    fn opt_text(&self, i: usize, op: &'static str) -> Result<Option<String>, StoreError> {
        self.get(i).during(op)
    }

    fn int(&self, i: usize, op: &'static str) -> Result<i64, StoreError> {
        self.get(i).during(op)
    }

    fn opt_int(&self, i: usize, op: &'static str) -> Result<Option<i64>, StoreError> {
        self.get(i).during(op)
    }

    fn blob(&self, i: usize, op: &'static str) -> Result<Vec<u8>, StoreError> {
        self.get(i).during(op)
    }

    fn opt_blob(&self, i: usize, op: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(i).during(op)
    }

    /// rusqlite reads an integer other than 0 as `true`.
    fn boolean(&self, i: usize, op: &'static str) -> Result<bool, StoreError> {
        self.get(i).during(op)
    }
}

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

/// A listing: optional filters over one table, newest id first, one page — the shape of every
/// `list_*` query. Our own constants (provider names, status codes) go into the SQL text so the
/// planner can use the partial indexes; anything from outside is bound.
pub(crate) struct Listing {
    sql: String,
    args: Vec<rusqlite::types::Value>,
}

impl Listing {
    pub(crate) fn select(columns: &str, table: &str) -> Self {
        Listing {
            sql: format!("SELECT {columns} FROM {table} WHERE 1 = 1"),
            args: Vec::new(),
        }
    }

    /// Adds a condition written from our own constants, such as `status = 2`.
    pub(crate) fn constant(&mut self, condition: std::fmt::Arguments<'_>) {
        self.sql.push_str(&format!(" AND {condition}"));
    }

    /// Adds `column_op ?N` with `value` bound, such as `("id <", before)`.
    pub(crate) fn bound(&mut self, column_op: &str, value: rusqlite::types::Value) {
        self.args.push(value);
        self.sql
            .push_str(&format!(" AND {column_op} ?{}", self.args.len()));
    }

    /// Adds a parenthesised condition whose `?`s take `values` in order.
    pub(crate) fn bound_group(&mut self, condition: &str, values: Vec<rusqlite::types::Value>) {
        let mut sql = String::with_capacity(condition.len() + 8);
        for piece in condition.split('?').enumerate() {
            if piece.0 > 0 {
                self.args.push(values[piece.0 - 1].clone());
                sql.push_str(&format!("?{}", self.args.len()));
            }
            sql.push_str(piece.1);
        }
        self.sql.push_str(&format!(" AND {sql}"));
    }

    /// Runs the query for at most `limit` rows (capped at [`MAX_PAGE`]), newest first.
    pub(crate) fn fetch<T>(
        mut self,
        conn: &rusqlite::Connection,
        limit: usize,
        op: &'static str,
        decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.args.push(rusqlite::types::Value::Integer(page(limit)));
        self.sql
            .push_str(&format!(" ORDER BY id DESC LIMIT ?{}", self.args.len()));
        let mut stmt = conn.prepare_cached(&self.sql).during(op)?;
        all(&mut stmt, rusqlite::params_from_iter(self.args), op, decode)
    }
}
