//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use std::net::IpAddr;

use bytes::Bytes;
use malipo_core::{EventId, EventStatus};
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::rows::{self, col};
use crate::error::Context;
use crate::{EventFilter, EventRecord, EventSummary, NewEvent, StoreError};

/// The columns [`summary`] decodes, in order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, provider, kind, dedup_key, received_at, source_ip, \
     status, attempts, last_error, payment_id, length(body), account";

/// Refuses an event the dedup index would mishandle: with an empty key every keyless event
/// would count as a duplicate of the first and be acknowledged without being stored.
pub(crate) fn check(ev: &NewEvent) -> Result<(), StoreError> {
    if ev.dedup_key.trim().is_empty() {
        return Err(StoreError::Invalid(format!(
            "a {} {:?} event has an empty dedup key; expected the provider's event identity",
            ev.provider, ev.kind
        )));
    }
    Ok(())
}

/// Decodes the [`SUMMARY_COLUMNS`] starting at column 0.
pub(crate) fn summary(row: &Row<'_>) -> Result<EventSummary, StoreError> {
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

/// One event with its body.
pub(crate) fn get(conn: &Connection, id: EventId) -> Result<Option<EventRecord>, StoreError> {
    const OP: &str = "reading an event";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = ?1"
        ))
        .during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, |row| {
        let body: Vec<u8> = col(row, 12, OP)?;
        Ok(EventRecord {
            summary: summary(row)?,
            raw_body: Bytes::from(body),
        })
    })
}

/// Events matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
    const OP: &str = "listing events";
    // Provider and status are our own constants, written into the SQL so the planner can use
    // the partial index on failed/rejected events; everything from outside is bound.
    let mut q = rows::Listing::select(SUMMARY_COLUMNS, "events");
    if let Some(p) = filter.provider {
        q.constant(format_args!("provider = '{}'", p.as_str()));
    }
    if let Some(s) = filter.status {
        q.constant(format_args!("status = {}", s.code()));
        // Spelled out so the planner sees that the partial index on events needing attention
        // applies: otherwise a rare status is looked for by walking every event newest first.
        if s.code() >= 2 {
            q.constant(format_args!("status >= 2"));
        }
    }
    // Ids start with their creation time, so a time bound is a range on the id index.
    if let Some(since) = filter.since {
        let millis = u128::try_from(rows::to_ms(since)).unwrap_or(0);
        q.bound("id >=", Value::Text(EventId::from_parts(millis, 0).to_string()));
    }
    if let Some(before) = filter.before {
        q.bound("id <", Value::Text(before.to_string()));
    }
    if let Some(payment) = filter.payment_id {
        q.bound("payment_id =", Value::Text(payment.to_string()));
    }
    q.fetch(conn, filter.limit, OP, summary)
}
