//! The delivery outbox: a payment change's delivery rows are written in the transaction that
//! makes the change (see the SQLite adapter's `outbox.rs`; what is announced is built by
//! [`crate::outbox`], so both adapters announce identically).

use malipo_core::{PaymentId, PaymentState};

use super::db::Db;
use super::{deliveries, endpoints};
use crate::convert as rows;
use crate::model::endpoint::EVENT_SUSPICIOUS;
use crate::outbox::{announce_payment, is_announced, is_suspicious, suspicious_payload};
use crate::{EndpointId, EndpointRecord, PaymentRecord, StoreError};
use malipo_core::EventStatus;

/// Announces that `payment` (as changed) went from `previous` (`None`: just recorded) to `to`.
pub(crate) async fn payment_changed(
    db: &Db<'_>,
    payment: &PaymentRecord,
    previous: Option<PaymentState>,
    to: PaymentState,
    now: i64,
) -> Result<(), StoreError> {
    if !is_announced(previous, to) {
        return Ok(());
    }
    let endpoints = endpoints::enabled(db).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let Some(a) = announce_payment(endpoints, payment, to, now)? else {
        return Ok(());
    };
    for endpoint in a.targets {
        deliveries::insert(
            db,
            &a.event_type,
            &a.payload,
            Some(payment.id),
            None,
            Some(endpoint),
            now,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Announces `event.suspicious` to the endpoints that asked for it.
pub(crate) async fn event_completed(
    db: &Db<'_>,
    event_id: &str,
    status: EventStatus,
    note: Option<String>,
    payment_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    if !is_suspicious(status) {
        return Ok(());
    }
    let targets = subscribers(db, EVENT_SUSPICIOUS).await?;
    if targets.is_empty() {
        return Ok(());
    }
    let event_id: malipo_core::EventId = rows::id(event_id, "jobs.event_id")?;
    let payment_id: Option<PaymentId> = rows::opt_id(payment_id.map(str::to_owned), "events.payment_id")?;
    let summary = super::events::get(db, event_id).await?;
    let payload = suspicious_payload(
        event_id,
        summary.as_ref().map(|e| &e.summary),
        payment_id,
        note,
        now,
    )?;
    for endpoint in targets {
        deliveries::insert(
            db,
            EVENT_SUSPICIOUS,
            &payload,
            payment_id,
            Some(event_id),
            Some(endpoint),
            now,
            now,
        )
        .await?;
    }
    Ok(())
}

/// The enabled endpoints that receive `event_type`.
pub(crate) async fn subscribers(db: &Db<'_>, event_type: &str) -> Result<Vec<EndpointId>, StoreError> {
    Ok(subscribed(&endpoints::enabled(db).await?, event_type))
}

/// Which of `enabled` receive `event_type`.
fn subscribed(enabled: &[EndpointRecord], event_type: &str) -> Vec<EndpointId> {
    enabled
        .iter()
        .filter(|e| e.subscribes(event_type))
        .map(|e| e.id)
        .collect()
}
