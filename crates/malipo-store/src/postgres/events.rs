//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use malipo_core::EventId;

use super::db::Db;
use super::rows::{fetch, Postgres};
use crate::decode::event::{record, summary};
use crate::listing;
use crate::{EventFilter, EventRecord, EventSummary, StoreError};

/// The columns [`summary`] decodes, in order.
pub(crate) const SUMMARY_COLUMNS: &str = "id, provider, kind, dedup_key, received_at, source_ip, \
     status, attempts, last_error, payment_id, length(body)::bigint, account";

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
    let q = listing::events::<Postgres>(SUMMARY_COLUMNS, filter);
    fetch(db, q, filter.limit, "listing events", summary).await
}
