//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use malipo_core::EventId;
use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::rows::{self};
use crate::decode::event;
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
    event::summary(row)
}

/// One event with its body.
pub(crate) fn get(conn: &Connection, id: EventId) -> Result<Option<EventRecord>, StoreError> {
    const OP: &str = "reading an event";
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = ?1"
        ))
        .during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, |row| event::record(row))
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
