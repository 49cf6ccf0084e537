//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use malipo_core::EventId;
use rusqlite::{Connection, Row};

use super::rows;
use crate::decode::event;
use crate::error::Context;
use crate::listing;
use crate::{EventFilter, EventRecord, EventSummary, StoreError};

/// The columns [`summary`] decodes, in order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, provider, kind, dedup_key, received_at, source_ip, \
     status, attempts, last_error, payment_id, length(body), account";

/// Decodes the [`SUMMARY_COLUMNS`] starting at column 0.
pub(crate) fn summary(row: &Row<'_>) -> Result<EventSummary, StoreError> {
    event::summary(row)
}

/// One event with its body.
pub(crate) fn get(conn: &Connection, id: EventId) -> Result<Option<EventRecord>, StoreError> {
    const OP: &str = "reading an event";
    // Built once: the worker reads every claimed event.
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {SUMMARY_COLUMNS}, body FROM events WHERE id = ?1"));
    let mut stmt = conn.prepare_cached(&SQL).during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, |row| event::record(row))
}

/// Events matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
    let q = listing::events::<rows::Sqlite>(SUMMARY_COLUMNS, filter);
    rows::fetch(conn, q, filter.limit, "listing events", summary)
}
