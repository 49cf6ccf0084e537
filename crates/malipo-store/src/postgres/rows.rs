//! Reading columns and running listings; the conversions shared with SQLite (times, ids,
//! clipping) are [`crate::convert`]'s.

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use super::db::Db;
use crate::error::Context;
use crate::listing::{Arg, Dialect, Listing};
use crate::StoreError;

/// Column `i` of `row`, with the store's error naming the operation.
pub(crate) fn col<'r, T: FromSql<'r>>(row: &'r Row, i: usize, op: &'static str) -> Result<T, StoreError> {
    row.try_get(i).during(op)
}

crate::decode::columns_of!(Row, try_get);

/// PostgreSQL's spelling of a listing.
pub(crate) struct Postgres;

impl Dialect for Postgres {
    fn placeholder(n: usize) -> String {
        format!("${n}")
    }

    fn last_four(column: &str) -> String {
        format!("right({column}, 4)")
    }
}

/// Runs a listing for at most `limit` rows, newest first.
pub(crate) async fn fetch<T>(
    db: &Db<'_>,
    listing: Listing,
    limit: usize,
    op: &'static str,
    decode: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let (sql, args) = listing.page(limit);
    let args: Vec<Box<dyn ToSql + Sync + Send>> = args
        .into_iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                Arg::Text(t) => Box::new(t),
                Arg::Int(i) => Box::new(i),
            }
        })
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
    db.query(&sql, &params, op).await?.iter().map(decode).collect()
}
