//! The delivery outbox: every change of a payment's state is announced to the merchant's
//! endpoints by delivery rows written in the **same transaction** as the change. A change that
//! commits is always announced (the sender finds its rows), and one that rolls back announces
//! nothing (its rows roll back with it). Written here, in the store, so every caller that moves
//! a payment (worker, reconciler, merchant API) announces it without doing anything.
//!
//! What is announced (the event type, the payload, the endpoints) is [`crate::outbox`]'s.

use malipo_core::{PaymentId, PaymentState};
use rusqlite::Connection;

use super::{deliveries, endpoints, rows};
use crate::model::endpoint::EVENT_SUSPICIOUS;
use crate::outbox::{announce_payment, is_announced, is_suspicious, suspicious_payload};
use crate::{PaymentRecord, StoreError};
use malipo_core::EventStatus;

/// Announces that `payment` (as changed) went from `previous` (`None`: it was just recorded) to
/// `to`. Called in the transaction that made the change; nothing happens when the state did not
/// move or is `pending`, or when no enabled endpoint subscribes to the event type.
pub(crate) fn payment_changed(
    conn: &Connection,
    payment: &PaymentRecord,
    previous: Option<PaymentState>,
    to: PaymentState,
    now: i64,
) -> Result<(), StoreError> {
    if !is_announced(previous, to) {
        return Ok(());
    }
    let endpoints = endpoints::enabled(conn)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let Some(a) = announce_payment(endpoints, payment, to, now)? else {
        return Ok(());
    };
    for endpoint in a.targets {
        deliveries::insert(
            conn,
            &a.event_type,
            &a.payload,
            Some(payment.id),
            None,
            Some(endpoint),
            now,
            now,
        )?;
    }
    Ok(())
}

/// Announces `event.suspicious` to the endpoints that asked for it, when a job completed its
/// event as suspicious (authentic, but inconsistent with the payment it names).
pub(crate) fn event_completed(
    conn: &Connection,
    event_id: &str,
    status: EventStatus,
    note: Option<String>,
    payment_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    if !is_suspicious(status) {
        return Ok(());
    }
    let targets = subscribers(conn, EVENT_SUSPICIOUS)?;
    if targets.is_empty() {
        return Ok(());
    }
    let event_id: malipo_core::EventId = rows::id(event_id, "jobs.event_id")?;
    let payment_id: Option<PaymentId> = rows::opt_id(payment_id.map(str::to_owned), "events.payment_id")?;
    let summary = super::events::get(conn, event_id)?;
    let payload = suspicious_payload(
        event_id,
        summary.as_ref().map(|e| &e.summary),
        payment_id,
        note,
        now,
    )?;
    for endpoint in targets {
        deliveries::insert(
            conn,
            EVENT_SUSPICIOUS,
            &payload,
            payment_id,
            Some(event_id),
            Some(endpoint),
            now,
            now,
        )?;
    }
    Ok(())
}
/// The enabled endpoints that receive `event_type`.
pub(crate) fn subscribers(conn: &Connection, event_type: &str) -> Result<Vec<crate::EndpointId>, StoreError> {
    Ok(endpoints::enabled(conn)?
        .into_iter()
        .filter(|e| e.subscribes(event_type))
        .map(|e| e.id)
        .collect())
}
