//! Reading columns and building listings; the conversions shared with SQLite (times, ids,
//! clipping) are the SQLite adapter's `rows`.

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use super::db::Db;
use crate::decode::Columns;
use crate::error::Context;
use crate::sqlite::rows::page;
use crate::StoreError;

/// Column `i` of `row`, with the store's error naming the operation.
pub(crate) fn col<'r, T: FromSql<'r>>(row: &'r Row, i: usize, op: &'static str) -> Result<T, StoreError> {
    row.try_get(i).during(op)
}

impl Columns for Row {
    fn text(&self, i: usize, op: &'static str) -> Result<String, StoreError> {
        self.try_get(i).during(op)
    }

    fn opt_text(&self, i: usize, op: &'static str) -> Result<Option<String>, StoreError> {
        self.try_get(i).during(op)
    }

    fn int(&self, i: usize, op: &'static str) -> Result<i64, StoreError> {
        self.try_get(i).during(op)
    }

    fn opt_int(&self, i: usize, op: &'static str) -> Result<Option<i64>, StoreError> {
        self.try_get(i).during(op)
    }

    fn blob(&self, i: usize, op: &'static str) -> Result<Vec<u8>, StoreError> {
        self.try_get(i).during(op)
    }

    fn opt_blob(&self, i: usize, op: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(i).during(op)
    }

    fn boolean(&self, i: usize, op: &'static str) -> Result<bool, StoreError> {
        self.try_get(i).during(op)
    }
}

/// A bound value of a listing.
pub(crate) type Value = Box<dyn ToSql + Sync + Send>;

/// A listing: optional filters over one table, newest id first, one page — the shape of every
/// `list_*` query, as in the SQLite adapter. Our own constants go into the SQL text so the
/// planner can use the partial indexes; anything from outside is bound.
pub(crate) struct Listing {
    sql: String,
    args: Vec<Value>,
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

    /// Adds `column_op $N` with `value` bound, such as `("id <", before)`.
    pub(crate) fn bound(&mut self, column_op: &str, value: Value) {
        self.args.push(value);
        self.sql
            .push_str(&format!(" AND {column_op} ${}", self.args.len()));
    }

    /// Adds a parenthesised condition whose `?`s take `values` in order.
    pub(crate) fn bound_group(&mut self, condition: &str, values: Vec<Value>) {
        let mut values = values.into_iter();
        let mut sql = String::with_capacity(condition.len() + 8);
        for (i, piece) in condition.split('?').enumerate() {
            if i > 0 {
                if let Some(v) = values.next() {
                    self.args.push(v);
                }
                sql.push_str(&format!("${}", self.args.len()));
            }
            sql.push_str(piece);
        }
        self.sql.push_str(&format!(" AND {sql}"));
    }

    /// Runs the query for at most `limit` rows, newest first.
    pub(crate) async fn fetch<T>(
        mut self,
        db: &Db<'_>,
        limit: usize,
        op: &'static str,
        decode: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.args.push(Box::new(page(limit)));
        self.sql
            .push_str(&format!(" ORDER BY id DESC LIMIT ${}", self.args.len()));
        let params: Vec<&(dyn ToSql + Sync)> = self
            .args
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect();
        db.query(&self.sql, &params, op)
            .await?
            .iter()
            .map(decode)
            .collect()
    }
}
