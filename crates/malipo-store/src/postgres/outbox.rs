//! The delivery outbox: a payment change's delivery rows are written in the transaction that
//! makes the change (see the SQLite adapter's `outbox.rs`; the payload is built by the same
//! code, so both adapters announce identically).

use malipo_core::{PaymentId, PaymentState};

use super::db::Db;
use super::{deliveries, endpoints, payments};
use crate::model::endpoint::EVENT_SUSPICIOUS;
use crate::sqlite::outbox::{envelope, event_type, is_suspicious, PaymentView, SuspiciousView};
use crate::sqlite::rows;
use crate::{EndpointId, JobOutcome, StoreError};

/// Announces that payment `id` went from `previous` (`None`: just recorded) to `to`.
pub(crate) async fn payment_changed(
    db: &Db<'_>,
    id: PaymentId,
    previous: Option<PaymentState>,
    to: PaymentState,
    now: i64,
) -> Result<(), StoreError> {
    if previous == Some(to) || to == PaymentState::Pending {
        return Ok(());
    }
    let endpoints = endpoints::enabled(db).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let Some(payment) = payments::get(db, id).await? else {
        return Ok(());
    };
    let Some(event_type) = event_type(&payment.kind, to) else {
        return Ok(());
    };
    let targets: Vec<_> = endpoints
        .into_iter()
        .filter(|e| e.subscribes(&event_type))
        .map(|e| e.id)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let payload = envelope(&event_type, now, &PaymentView::from(&payment))?;
    for endpoint in targets {
        deliveries::insert(
            db,
            &event_type,
            &payload,
            Some(id),
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
    outcome: &JobOutcome,
    payment_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    if !is_suspicious(outcome.event_status) {
        return Ok(());
    }
    let targets = subscribers(db, EVENT_SUSPICIOUS).await?;
    if targets.is_empty() {
        return Ok(());
    }
    let event_id: malipo_core::EventId = rows::id(event_id, "jobs.event_id")?;
    let payment_id: Option<PaymentId> = rows::opt_id(payment_id.map(str::to_owned), "events.payment_id")?;
    let summary = super::events::get(db, event_id).await?;
    let data = SuspiciousView {
        event_id,
        provider: summary.as_ref().map(|e| e.provider.as_str()),
        kind: summary.as_ref().map(|e| e.kind.clone()),
        payment_id,
        reason: outcome.note.clone(),
    };
    let payload = envelope(EVENT_SUSPICIOUS, now, &data)?;
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
    Ok(endpoints::enabled(db)
        .await?
        .into_iter()
        .filter(|e| e.subscribes(event_type))
        .map(|e| e.id)
        .collect())
}
