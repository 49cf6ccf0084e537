//! Events. Their column lists stay with the adapters: the body's length is `length(body)` in
//! SQLite and needs a cast to `bigint` in PostgreSQL.

use std::net::IpAddr;

use bytes::Bytes;
use malipo_core::EventStatus;

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{EventRecord, EventSummary, StoreError};

const OP: &str = "reading an event";

/// Decodes an event's summary from columns 0 to 11: `id, provider, kind, dedup_key,
/// received_at, source_ip, status, attempts, last_error, payment_id, <body length>, account`.
pub(crate) fn summary(row: &impl Columns) -> Result<EventSummary, StoreError> {
    let id = row.text(0, OP)?;
    let provider = row.text(1, OP)?;
    let source_ip = row.opt_text(5, OP)?;
    let status = row.int(6, OP)?;
    let body_len = row.int(10, OP)?;
    let account = row.opt_text(11, OP)?;
    Ok(EventSummary {
        id: rows::id(&id, "events.id")?,
        provider: rows::provider(&provider)?,
        kind: row.text(2, OP)?,
        dedup_key: row.text(3, OP)?,
        received_at: rows::from_ms(row.int(4, OP)?, "events.received_at")?,
        source_ip: source_ip
            .map(|ip| {
                ip.parse::<IpAddr>()
                    .map_err(|e| corrupt("events.source_ip", format!("{ip:?}: {e}")))
            })
            .transpose()?,
        status: EventStatus::from_code(status)
            .ok_or_else(|| corrupt("events.status", format!("unknown status code {status}")))?,
        attempts: rows::count(row.int(7, OP)?),
        last_error: row.opt_text(8, OP)?,
        payment_id: rows::opt_id(row.opt_text(9, OP)?, "events.payment_id")?,
        body_len: u64::try_from(body_len).unwrap_or(0),
        account: account
            .map(|a| {
                a.parse()
                    .map_err(|e: malipo_core::AccountNameError| corrupt("events.account", e.to_string()))
            })
            .transpose()?,
    })
}

/// Decodes a summary's columns followed by the body (column 12).
pub(crate) fn record(row: &impl Columns) -> Result<EventRecord, StoreError> {
    let body = row.blob(12, OP)?;
    Ok(EventRecord {
        summary: summary(row)?,
        raw_body: Bytes::from(body),
    })
}
