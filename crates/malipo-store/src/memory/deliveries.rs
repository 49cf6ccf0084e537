//! The delivery role without endpoints: a delivery is queued addressed to no endpoint (as the
//! SQLite adapter queues one when no endpoint exists), and its attempts are recorded.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::DeliveryId;

use super::{not_found, page, MemoryStore, State};
use crate::port::DeliveryStore;
use crate::sqlite::clip;
use crate::{DeliveryFilter, DeliveryRecord, DeliveryStatus, NewDelivery, StoreError};

/// Queues one delivery, addressed to no endpoint.
pub(super) fn enqueue(s: &mut State, d: &NewDelivery, now: DateTime<Utc>) -> DeliveryId {
    let id = DeliveryId::new();
    s.deliveries.insert(
        id,
        DeliveryRecord {
            id,
            event_type: d.event_type.clone(),
            payload: d.payload.clone(),
            payment_id: d.payment_id,
            event_id: d.event_id,
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: d.first_attempt_at.unwrap_or(now),
            last_status: None,
            last_error: None,
            created_at: now,
            updated_at: now,
            endpoint_id: None,
        },
    );
    id
}

impl MemoryStore {
    fn update_delivery(
        &self,
        id: DeliveryId,
        change: impl FnOnce(&mut DeliveryRecord, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        self.write(|s, now| {
            let d = s
                .deliveries
                .get_mut(&id)
                .ok_or_else(|| not_found("delivery", id))?;
            change(d, now);
            d.updated_at = now;
            Ok(())
        })
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn enqueue_delivery(&self, delivery: NewDelivery) -> Result<DeliveryId, StoreError> {
        self.write(|s, now| Ok(enqueue(s, &delivery, now)))
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let _ = worker;
        self.write(|s, now| {
            let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
            let mut due: Vec<_> = s
                .deliveries
                .values()
                .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at <= now)
                .map(|d| (d.next_attempt_at, d.id))
                .collect();
            due.sort();
            let mut claimed = Vec::new();
            for (_, id) in page(due.into_iter(), limit) {
                if let Some(d) = s.deliveries.get_mut(&id) {
                    d.next_attempt_at = until;
                    d.attempts += 1;
                    d.updated_at = now;
                    claimed.push(d.clone());
                }
            }
            Ok(claimed)
        })
    }

    async fn complete_delivery(&self, id: DeliveryId, http_status: u16) -> Result<(), StoreError> {
        self.update_delivery(id, |d, _| {
            d.status = DeliveryStatus::Delivered;
            d.last_status = Some(http_status);
        })
    }

    async fn fail_delivery(
        &self,
        id: DeliveryId,
        http_status: Option<u16>,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<DeliveryStatus, StoreError> {
        let status = match next_attempt_at {
            Some(_) => DeliveryStatus::Pending,
            None => DeliveryStatus::DeadLetter,
        };
        self.update_delivery(id, |d, _| {
            d.status = status;
            d.last_status = http_status;
            d.last_error = Some(clip(error).to_owned());
            if let Some(at) = next_attempt_at {
                d.next_attempt_at = at;
            }
        })?;
        Ok(status)
    }

    async fn redeliver(&self, id: DeliveryId) -> Result<(), StoreError> {
        self.update_delivery(id, |d, now| {
            d.status = DeliveryStatus::Pending;
            d.next_attempt_at = now;
            d.attempts = 0;
        })
    }

    async fn get_delivery(&self, id: DeliveryId) -> Result<Option<DeliveryRecord>, StoreError> {
        Ok(self.read(|s| s.deliveries.get(&id).cloned()))
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, StoreError> {
        Ok(self.read(|s| {
            page(
                s.deliveries
                    .values()
                    .rev()
                    .filter(|d| filter.status.is_none_or(|x| d.status == x))
                    .filter(|d| filter.payment_id.is_none_or(|p| d.payment_id == Some(p)))
                    .filter(|d| filter.endpoint_id.is_none_or(|e| d.endpoint_id == Some(e)))
                    .filter(|d| filter.before.is_none_or(|b| d.id < b))
                    .cloned(),
                filter.limit,
            )
        }))
    }
}
