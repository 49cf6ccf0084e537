//! Outbound deliveries to the merchant: queue, lease, retry, dead-letter.

use malipo_core::{DeliveryId, EventId, PaymentId};

use super::db::{Db, Params};
use super::rows::{col, fetch, Postgres};
use crate::convert as rows;
use crate::decode::delivery::{delivery as decode, COLUMNS};
use crate::listing;
use crate::{DeliveryFilter, DeliveryRecord, DeliveryStatus, EndpointId, NewDelivery, StoreError};

/// Queues a delivery: one row per enabled endpoint subscribed to its type (the first one's id is
/// returned); with none, one row addressed to no endpoint, kept for the record and never sent.
pub(crate) async fn enqueue(db: &Db<'_>, d: &NewDelivery, now: i64) -> Result<DeliveryId, StoreError> {
    let targets = super::outbox::subscribers(db, &d.event_type).await?;
    enqueue_to(db, d, targets, now).await
}

/// Queues `d` for `targets`, the endpoints subscribed to its type (as [`enqueue`] finds them).
async fn enqueue_to(
    db: &Db<'_>,
    d: &NewDelivery,
    targets: Vec<EndpointId>,
    now: i64,
) -> Result<DeliveryId, StoreError> {
    let due = d.first_attempt_at.map_or(now, rows::to_ms);
    let mut first = None;
    for endpoint in NewDelivery::recipients(targets) {
        let id = insert(
            db,
            &d.event_type,
            &d.payload,
            d.payment_id,
            d.event_id,
            endpoint,
            due,
            now,
        )
        .await?;
        first.get_or_insert(id);
    }
    first.ok_or_else(|| StoreError::Invalid("no delivery was queued".into()))
}

/// Writes one delivery row, due at `due`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    db: &Db<'_>,
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
    db.execute(
        "INSERT INTO deliveries (id, event_type, payload, payment_id, event_id, status, attempts, \
         next_attempt_at, created_at, updated_at, endpoint_id) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $8, $9)",
        &[
            &id.to_string(),
            &event_type,
            &payload,
            &payment_id.map(|p| p.to_string()),
            &event_id.map(|e| e.to_string()),
            &DeliveryStatus::Pending.code(),
            &due,
            &now,
            &endpoint.map(|e| e.to_string()),
        ],
        OP,
    )
    .await?;
    if endpoint.is_some() && due <= now {
        db.wake().delivery();
    }
    Ok(id)
}

/// Leases up to `limit` due deliveries of one endpoint to `worker`, oldest first, holding back
/// any whose payment has an earlier delivery to the same endpoint still pending (leased or
/// waiting to retry), and none of a disabled endpoint. `SKIP LOCKED` lets instances claim side
/// by side; a delivery another instance is claiming is still `pending`, so it holds the later
/// ones of its payment back here too.
pub(crate) async fn claim_for_endpoint(
    db: &Db<'_>,
    endpoint: EndpointId,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    const OP: &str = "claiming an endpoint's deliveries";
    let sql = format!(
        "WITH due AS ( \
             SELECT d.id AS due_id FROM deliveries d \
             WHERE d.endpoint_id = $5 AND d.status = 0 AND d.next_attempt_at <= $3 \
               AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = $5 AND e.enabled) \
               AND (d.payment_id IS NULL OR NOT EXISTS ( \
                   SELECT 1 FROM deliveries p WHERE p.endpoint_id = d.endpoint_id \
                   AND p.payment_id = d.payment_id AND p.status = 0 AND p.seq < d.seq)) \
             ORDER BY d.next_attempt_at, d.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED) \
         UPDATE deliveries SET next_attempt_at = $1, lease_owner = $2, \
             attempts = attempts + 1, updated_at = $3 \
         FROM due WHERE id = due_id RETURNING {COLUMNS}, seq"
    );
    claim_with(
        db,
        &sql,
        &[
            &now.saturating_add(lease_ms),
            &worker,
            &now,
            &rows::page(limit),
            &endpoint.to_string(),
        ],
        OP,
    )
    .await
}

/// Leases up to `limit` due deliveries to `worker`.
pub(crate) async fn claim(
    db: &Db<'_>,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    const OP: &str = "claiming deliveries";
    let sql = format!(
        "WITH due AS ( \
             SELECT id AS due_id FROM deliveries WHERE status = 0 AND next_attempt_at <= $3 \
             ORDER BY next_attempt_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED) \
         UPDATE deliveries SET next_attempt_at = $1, lease_owner = $2, \
             attempts = attempts + 1, updated_at = $3 \
         FROM due WHERE id = due_id RETURNING {COLUMNS}, seq"
    );
    claim_with(
        db,
        &sql,
        &[&now.saturating_add(lease_ms), &worker, &now, &rows::page(limit)],
        OP,
    )
    .await
}

async fn claim_with(
    db: &Db<'_>,
    sql: &str,
    params: &Params<'_>,
    op: &'static str,
) -> Result<Vec<DeliveryRecord>, StoreError> {
    let rows = db.query(sql, params, op).await?;
    let mut claimed = rows
        .iter()
        .map(|r| Ok((col::<i64>(r, 13, op)?, decode(r)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING gives no order; the sender starts them in the order they were queued.
    claimed.sort_by_key(|(seq, _)| *seq);
    Ok(claimed.into_iter().map(|(_, d)| d).collect())
}

async fn update(
    db: &Db<'_>,
    sql: &str,
    params: &Params<'_>,
    id: DeliveryId,
    op: &'static str,
) -> Result<(), StoreError> {
    if db.execute(sql, params, op).await? == 0 {
        return Err(StoreError::NotFound {
            what: "delivery",
            id: id.to_string(),
        });
    }
    Ok(())
}

/// Marks a delivery delivered.
pub(crate) async fn complete(
    db: &Db<'_>,
    id: DeliveryId,
    http_status: u16,
    now: i64,
) -> Result<(), StoreError> {
    update(
        db,
        "UPDATE deliveries SET status = $1, last_status = $2, lease_owner = NULL, \
         updated_at = $3 WHERE id = $4",
        &[
            &DeliveryStatus::Delivered.code(),
            &i64::from(http_status),
            &now,
            &id.to_string(),
        ],
        id,
        "completing a delivery",
    )
    .await
}

/// Records a failed attempt; `None` dead-letters.
pub(crate) async fn fail(
    db: &Db<'_>,
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
        db,
        "UPDATE deliveries SET status = $1, last_status = $2, last_error = $3, \
         next_attempt_at = COALESCE($4, next_attempt_at), lease_owner = NULL, updated_at = $5 \
         WHERE id = $6",
        &[
            &status.code(),
            &http_status.map(i64::from),
            &rows::clip(error),
            &next_attempt_at,
            &now,
            &id.to_string(),
        ],
        id,
        "recording a failed delivery",
    )
    .await?;
    Ok(status)
}

/// Queues a finished delivery again, due now, with its retry schedule started over.
pub(crate) async fn redeliver(db: &Db<'_>, id: DeliveryId, now: i64) -> Result<(), StoreError> {
    update(
        db,
        "UPDATE deliveries SET status = $1, next_attempt_at = $2, lease_owner = NULL, \
         attempts = 0, updated_at = $2 WHERE id = $3",
        &[&DeliveryStatus::Pending.code(), &now, &id.to_string()],
        id,
        "queueing a delivery again",
    )
    .await?;
    db.wake().delivery();
    Ok(())
}

/// One delivery.
pub(crate) async fn get(db: &Db<'_>, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
    const OP: &str = "reading a delivery";
    let sql = format!("SELECT {COLUMNS} FROM deliveries WHERE id = $1");
    db.opt(&sql, &[&id.to_string()], OP)
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Deliveries matching `filter`, newest first.
pub(crate) async fn list(db: &Db<'_>, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
    let q = listing::deliveries::<Postgres>(filter);
    fetch(db, q, filter.limit, "listing deliveries", decode).await
}
