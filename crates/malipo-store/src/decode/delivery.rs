//! Deliveries.

use bytes::Bytes;

use super::{corrupt, Columns};
use crate::convert as rows;
use crate::{DeliveryRecord, DeliveryStatus, StoreError};

/// The columns [`delivery`] decodes, in order.
pub(crate) const COLUMNS: &str = "id, event_type, payload, payment_id, event_id, status, attempts, \
     next_attempt_at, last_status, last_error, created_at, updated_at, endpoint_id";

/// Decodes the [`COLUMNS`] starting at column 0.
pub(crate) fn delivery(row: &impl Columns) -> Result<DeliveryRecord, StoreError> {
    const OP: &str = "reading a delivery";
    let id = row.text(0, OP)?;
    let payload = row.blob(2, OP)?;
    let status = row.int(5, OP)?;
    let last_status = row.opt_int(8, OP)?;
    Ok(DeliveryRecord {
        id: rows::id(&id, "deliveries.id")?,
        event_type: row.text(1, OP)?,
        payload: Bytes::from(payload),
        payment_id: rows::opt_id(row.opt_text(3, OP)?, "deliveries.payment_id")?,
        event_id: rows::opt_id(row.opt_text(4, OP)?, "deliveries.event_id")?,
        status: DeliveryStatus::from_code(status)
            .ok_or_else(|| corrupt("deliveries.status", format!("unknown status code {status}")))?,
        attempts: rows::count(row.int(6, OP)?),
        next_attempt_at: rows::from_ms(row.int(7, OP)?, "deliveries.next_attempt_at")?,
        last_status: last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: row.opt_text(9, OP)?,
        created_at: rows::from_ms(row.int(10, OP)?, "deliveries.created_at")?,
        updated_at: rows::from_ms(row.int(11, OP)?, "deliveries.updated_at")?,
        endpoint_id: rows::opt_id(row.opt_text(12, OP)?, "deliveries.endpoint_id")?,
    })
}
