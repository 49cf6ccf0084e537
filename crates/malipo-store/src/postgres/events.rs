//! Reading and listing events; writing them is the inbox's (`inbox.rs`).

use malipo_core::EventId;

use super::db::Db;
use super::rows::Listing;
use crate::decode::event::{record, summary};
use crate::sqlite::rows;
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
