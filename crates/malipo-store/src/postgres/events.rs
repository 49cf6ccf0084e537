//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use std::net::IpAddr;

use bytes::Bytes;
use malipo_core::{EventId, EventStatus};
use tokio_postgres::Row;

use super::db::Db;
use super::rows::{col, Listing};
use crate::sqlite::rows;
use crate::{EventFilter, EventRecord, EventSummary, StoreError};

/// The columns [`summary`] decodes, in order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, provider, kind, dedup_key, received_at, source_ip, \
     status, attempts, last_error, payment_id, length(body)::bigint, account";

/// Decodes the [`SUMMARY_COLUMNS`] starting at column 0.
pub(crate) fn summary(row: &Row) -> Result<EventSummary, StoreError> {
    const OP: &str = "reading an event";
    let id: String = col(row, 0, OP)?;
    let provider: String = col(row, 1, OP)?;
    let source_ip: Option<String> = col(row, 5, OP)?;
    let status: i64 = col(row, 6, OP)?;
    let body_len: i64 = col(row, 10, OP)?;
    let account: Option<String> = col(row, 11, OP)?;
    Ok(EventSummary {
        id: rows::id(&id, "events.id")?,
        provider: rows::provider(&provider)?,
        kind: col(row, 2, OP)?,
        dedup_key: col(row, 3, OP)?,
        received_at: rows::from_ms(col(row, 4, OP)?, "events.received_at")?,
        source_ip: source_ip
            .map(|ip| {
                ip.parse::<IpAddr>().map_err(|e| StoreError::Corrupt {
                    what: "events.source_ip",
                    detail: format!("{ip:?}: {e}"),
                })
            })
            .transpose()?,
        status: EventStatus::from_code(status).ok_or_else(|| StoreError::Corrupt {
            what: "events.status",
            detail: format!("unknown status code {status}"),
        })?,
        attempts: rows::count(col(row, 7, OP)?),
        last_error: col(row, 8, OP)?,
        payment_id: rows::opt_id(col(row, 9, OP)?, "events.payment_id")?,
        body_len: u64::try_from(body_len).unwrap_or(0),
        account: account
            .map(|a| {
                a.parse()
                    .map_err(|e: malipo_core::AccountNameError| StoreError::Corrupt {
                        what: "events.account",
                        detail: e.to_string(),
                    })
            })
            .transpose()?,
    })
}

fn record(row: &Row) -> Result<EventRecord, StoreError> {
    let body: Vec<u8> = col(row, 12, "reading an event")?;
    Ok(EventRecord {
        summary: summary(row)?,
        raw_body: Bytes::from(body),
    })
}

/// One event with its body.
pub(crate) async fn get(db: &Db<'_>, id: EventId) -> Result<Option<EventRecord>, StoreError> {
    const OP: &str = "reading an event";
    let sql = format!("SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = $1");
    db.opt(&sql, &[&id.to_string()], OP)
        .await?
        .as_ref()
        .map(record)
        .transpose()
}

/// Several events with their bodies, by id (in no particular order).
pub(crate) async fn get_many(db: &Db<'_>, ids: &[String]) -> Result<Vec<EventRecord>, StoreError> {
    const OP: &str = "reading events";
    let sql = format!("SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = ANY($1)");
    db.query(&sql, &[&ids], OP).await?.iter().map(record).collect()
}

/// Events matching `filter`, newest first.
pub(crate) async fn list(db: &Db<'_>, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
    const OP: &str = "listing events";
    let mut q = Listing::select(SUMMARY_COLUMNS, "events");
    if let Some(p) = filter.provider {
        q.constant(format_args!("provider = '{}'", p.as_str()));
    }
    if let Some(s) = filter.status {
        q.constant(format_args!("status = {}", s.code()));
        // Spelled out so the planner sees that the partial index on events needing attention
        // applies.
        if s.code() >= 2 {
            q.constant(format_args!("status >= 2"));
        }
    }
    // Ids start with their creation time, so a time bound is a range on the id index.
    if let Some(since) = filter.since {
        let millis = u128::try_from(rows::to_ms(since)).unwrap_or(0);
        q.bound("id >=", Box::new(EventId::from_parts(millis, 0).to_string()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Box::new(before.to_string()));
    }
    if let Some(payment) = filter.payment_id {
        q.bound("payment_id =", Box::new(payment.to_string()));
    }
    q.fetch(db, filter.limit, OP, summary).await
}
