//! Outbound deliveries to the merchant: queue, lease, retry, dead-letter.

use malipo_core::{DeliveryId, EventId, PaymentId};
use rusqlite::{params, Connection, Row};

use super::rows;
use crate::decode::delivery::{delivery, COLUMNS};
use crate::error::Context;
use crate::listing;
use crate::{DeliveryFilter, DeliveryRecord, DeliveryStatus, EndpointId, NewDelivery, StoreError};

fn decode(row: &Row<'_>) -> Result<DeliveryRecord, StoreError> {
    delivery(row)
}

/// Queues a delivery: one row per enabled endpoint subscribed to its type (the first one's id is
/// returned); with none, one row addressed to no endpoint, kept for the record and never sent.
pub(crate) fn enqueue(conn: &Connection, d: &NewDelivery, now: i64) -> Result<DeliveryId, StoreError> {
    let due = d.first_attempt_at.map_or(now, rows::to_ms);
    let targets = super::outbox::subscribers(conn, &d.event_type)?;
    let mut first = None;
    for endpoint in NewDelivery::recipients(targets) {
        let id = insert(
            conn,
            &d.event_type,
            &d.payload,
            d.payment_id,
            d.event_id,
            endpoint,
            due,
            now,
        )?;
        first.get_or_insert(id);
    }
    first.ok_or_else(|| StoreError::Invalid("no delivery was queued".into()))
}

/// Writes one delivery row, due at `due`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert(
    conn: &Connection,
    event_type: &str,
    payload: &[u8],
    payment_id: Option<PaymentId>,
    event_id: Option<EventId>,
    endpoint: Option<EndpointId>,
    due: i64,
    now: i64,
) -> Result<DeliveryId, StoreError> {
    const OP: &str = "queueing a delivery";
    let id = DeliveryId::new();
    conn.prepare_cached(
        "INSERT INTO deliveries (id, event_type, payload, payment_id, event_id, status, attempts, \
         next_attempt_at, created_at, updated_at, endpoint_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?8, ?9)",
    )
    .during(OP)?
    .execute(params![
        id.to_string(),
        event_type,
        payload,
        payment_id.map(|p| p.to_string()),
        event_id.map(|e| e.to_string()),
        DeliveryStatus::Pending.code(),
        due,
        now,
        endpoint.map(|e| e.to_string()),
    ])
    .during(OP)?;
    Ok(id)
}

/// Leases up to `limit` due deliveries of one endpoint to `worker`, oldest due first, holding
/// back any whose payment has an earlier delivery to the same endpoint still pending (leased or
/// waiting to retry): a payment's deliveries reach an endpoint in the order they were queued.
/// A disabled endpoint's deliveries are not claimed (they wait for it to be enabled again).
pub(crate) fn claim_for_endpoint(
    conn: &Connection,
    endpoint: EndpointId,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    const OP: &str = "claiming an endpoint's deliveries";
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = ?2, \
             attempts = attempts + 1, updated_at = ?3 \
             WHERE id IN (SELECT d.id FROM deliveries d \
                 WHERE d.endpoint_id = ?5 AND d.status = 0 AND d.next_attempt_at <= ?3 \
                   AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = ?5 AND e.enabled = 1) \
                   AND (d.payment_id IS NULL OR NOT EXISTS ( \
                       SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
                       AND p.payment_id = d.payment_id AND p.status = 0 AND p.rowid < d.rowid)) \
                 ORDER BY d.next_attempt_at, d.rowid LIMIT ?4) \
             RETURNING {COLUMNS}"
        ))
        .during(OP)?;
    let mut claimed = rows::all(
        &mut stmt,
        params![
            now.saturating_add(lease_ms),
            worker,
            now,
            rows::page(limit),
            endpoint.to_string()
        ],
        OP,
        decode,
    )?;
    // RETURNING gives no order; the sender starts them oldest first.
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

/// Leases up to `limit` due deliveries to `worker`.
pub(crate) fn claim(
    conn: &Connection,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    const OP: &str = "claiming deliveries";
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = ?2, \
             attempts = attempts + 1, updated_at = ?3 \
             WHERE id IN (SELECT id FROM deliveries WHERE status = 0 AND next_attempt_at <= ?3 \
                          ORDER BY next_attempt_at LIMIT ?4) \
             RETURNING {COLUMNS}"
        ))
        .during(OP)?;
    rows::all(
        &mut stmt,
        params![now.saturating_add(lease_ms), worker, now, rows::page(limit)],
        OP,
        decode,
    )
}

fn update(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    id: DeliveryId,
    op: &'static str,
) -> Result<(), StoreError> {
    let n = conn.prepare_cached(sql).during(op)?.execute(args).during(op)?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "delivery",
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Marks a delivery delivered.
pub(crate) fn complete(
    conn: &Connection,
    id: DeliveryId,
    http_status: u16,
    now: i64,
) -> Result<(), StoreError> {
    update(
        conn,
        "UPDATE deliveries SET status = ?1, last_status = ?2, lease_owner = NULL, \
         updated_at = ?3 WHERE id = ?4",
        params![DeliveryStatus::Delivered.code(), http_status, now, id.to_string()],
        id,
        "completing a delivery",
    )
}

/// Records a failed attempt; `None` dead-letters.
pub(crate) fn fail(
    conn: &Connection,
    id: DeliveryId,
    http_status: Option<u16>,
    error: &str,
    next_attempt_at: Option<i64>,
    now: i64,
) -> Result<DeliveryStatus, StoreError> {
    let status = match next_attempt_at {
        Some(_) => DeliveryStatus::Pending,
        None => DeliveryStatus::DeadLetter,
    };
    update(
        conn,
        "UPDATE deliveries SET status = ?1, last_status = ?2, last_error = ?3, \
         next_attempt_at = COALESCE(?4, next_attempt_at), lease_owner = NULL, updated_at = ?5 \
         WHERE id = ?6",
        params![
            status.code(),
            http_status,
            rows::clip(error),
            next_attempt_at,
            now,
            id.to_string()
        ],
        id,
        "recording a failed delivery",
    )?;
    Ok(status)
}

/// Queues a finished delivery again, due now, with its retry schedule started over (an operator
/// retries after fixing the endpoint; one more blip should not dead-letter it at once).
pub(crate) fn redeliver(conn: &Connection, id: DeliveryId, now: i64) -> Result<(), StoreError> {
    update(
        conn,
        "UPDATE deliveries SET status = ?1, next_attempt_at = ?2, lease_owner = NULL, \
         attempts = 0, updated_at = ?2 WHERE id = ?3",
        params![DeliveryStatus::Pending.code(), now, id.to_string()],
        id,
        "queueing a delivery again",
    )
}

/// One delivery.
pub(crate) fn get(conn: &Connection, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
    const OP: &str = "reading a delivery";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1"))
        .during(OP)?;
    rows::first(&mut stmt, [id.to_string()], OP, decode)
}

/// Deliveries matching `filter`, newest first.
pub(crate) fn list(conn: &Connection, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
    let q = listing::deliveries::<rows::Sqlite>(filter);
    rows::fetch(conn, q, filter.limit, "listing deliveries", decode)
}
