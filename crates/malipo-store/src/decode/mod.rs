//! Rows into the port's records, written once for both adapters.
//!
//! Each decoder reads its columns through [`Columns`], which the SQLite adapter implements for
//! `rusqlite::Row` and the PostgreSQL adapter for `tokio_postgres::Row`. The schemas store the
//! same values in the same columns (times as milliseconds, ids as text, codes as integers), so
//! what a column means is decided here, once; what differs by dialect (how a row is fetched,
//! a cast in the column list) stays in the adapter. Each decoder's column list is next to it, in
//! the order it reads.

pub(crate) mod api_key;
pub(crate) mod delivery;
pub(crate) mod endpoint;
pub(crate) mod event;
pub(crate) mod idempotency;
pub(crate) mod payment;
pub(crate) mod record;

use crate::StoreError;

/// The columns of one row, by position, as the store's types. A driver error (a NULL where a
/// value is required, a column of another type) is a [`StoreError::Database`] naming `op`, as
/// each adapter reports its driver's errors.
pub(crate) trait Columns {
    /// A `TEXT` column.
    fn text(&self, i: usize, op: &'static str) -> Result<String, StoreError>;
    /// A nullable `TEXT` column.
    fn opt_text(&self, i: usize, op: &'static str) -> Result<Option<String>, StoreError>;
    /// An integer column (`INTEGER` in SQLite, `BIGINT` in PostgreSQL).
    fn int(&self, i: usize, op: &'static str) -> Result<i64, StoreError>;
    /// A nullable integer column.
    fn opt_int(&self, i: usize, op: &'static str) -> Result<Option<i64>, StoreError>;
    /// A `BLOB` (SQLite) or `BYTEA` (PostgreSQL) column.
    fn blob(&self, i: usize, op: &'static str) -> Result<Vec<u8>, StoreError>;
    /// A nullable `BLOB` or `BYTEA` column.
    fn opt_blob(&self, i: usize, op: &'static str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A flag: an integer other than 0 in SQLite, a `BOOLEAN` in PostgreSQL.
    fn boolean(&self, i: usize, op: &'static str) -> Result<bool, StoreError>;
}

/// Implements [`Columns`] for a driver's row type whose method `$get` reads a column as any type
/// the driver converts (`get` for rusqlite, `try_get` for tokio-postgres), its errors named by
/// `op` through [`Context`](crate::error::Context). A flag is the driver's `bool`: rusqlite reads
/// an integer other than 0 as `true`, tokio-postgres a `BOOLEAN`.
macro_rules! columns_of {
    ($row:ty, $get:ident) => {
        impl $crate::decode::Columns for $row {
            fn text(&self, i: usize, op: &'static str) -> Result<String, StoreError> {
                self.$get(i).during(op)
            }

            fn opt_text(&self, i: usize, op: &'static str) -> Result<Option<String>, StoreError> {
                self.$get(i).during(op)
            }

            fn int(&self, i: usize, op: &'static str) -> Result<i64, StoreError> {
                self.$get(i).during(op)
            }

            fn opt_int(&self, i: usize, op: &'static str) -> Result<Option<i64>, StoreError> {
                self.$get(i).during(op)
            }

            fn blob(&self, i: usize, op: &'static str) -> Result<Vec<u8>, StoreError> {
                self.$get(i).during(op)
            }

            fn opt_blob(&self, i: usize, op: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
                self.$get(i).during(op)
            }

            fn boolean(&self, i: usize, op: &'static str) -> Result<bool, StoreError> {
                self.$get(i).during(op)
            }
        }
    };
}
pub(crate) use columns_of;

/// A [`StoreError::Corrupt`] for column `what`.
pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}
