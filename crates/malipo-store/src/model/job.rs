use chrono::{DateTime, Utc};
use malipo_core::{DeliveryId, EventStatus, JobId};

use super::delivery::NewDelivery;
use super::event::EventRecord;
use super::payment::{PaymentChange, PaymentEffect};

/// A processing job claimed by a worker, with the event it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id, to complete or fail it.
    pub id: JobId,
    /// The event to apply.
    pub event: EventRecord,
    /// How many times it has been claimed, this claim included.
    pub attempts: u32,
    /// The claim is the worker's until then; after it, another worker may claim the job again
    /// (a worker that crashed mid-job loses nothing).
    pub lease_until: DateTime<Utc>,
}

/// What a worker decided about a job's event, written in one transaction with the job's
/// completion so a crash can never apply a payment change without its delivery or the other
/// way round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The event's new status, usually [`EventStatus::Processed`].
    pub event_status: EventStatus,
    /// Why, when the status is not `Processed` (kept as the event's `last_error`).
    pub note: Option<String>,
    /// The payment change the event causes.
    pub payment: Option<PaymentChange>,
    /// The merchant notification to queue: only when [`JobOutcome::payment`] is `None` or the
    /// change took effect ([`PaymentEffect::Changed`]), so a replayed or repeated event never
    /// notifies twice.
    pub delivery: Option<NewDelivery>,
}

impl JobOutcome {
    /// The note the event keeps once its payment change had `effect`: the outcome's own, else
    /// why a refused change was refused. Every adapter completes a job by it.
    pub(crate) fn note_after(&self, effect: Option<&PaymentEffect>) -> Option<String> {
        match (&self.note, effect) {
            (None, Some(PaymentEffect::Refused { error, .. })) => Some(error.to_string()),
            (note, _) => note.clone(),
        }
    }

    /// The event's status once its payment change had `effect`: a change the store refused
    /// (the payment moved since the worker looked: the reconciler settled it, another event
    /// did) makes a processed event suspicious, as the same event arriving after that move is.
    /// Every adapter completes a job by it.
    pub(crate) fn status_after(&self, effect: Option<&PaymentEffect>) -> EventStatus {
        match (self.event_status, effect) {
            (EventStatus::Processed, Some(PaymentEffect::Refused { .. })) => EventStatus::Suspicious,
            (status, _) => status,
        }
    }

    /// The delivery to queue once its payment change had `effect`: only with no change to make
    /// or one that took effect (see [`JobOutcome::delivery`]).
    pub(crate) fn delivery_after(&self, effect: Option<&PaymentEffect>) -> Option<&NewDelivery> {
        match effect {
            None | Some(PaymentEffect::Changed { .. }) => self.delivery.as_ref(),
            Some(_) => None,
        }
    }

    /// Processed, with no payment change and nothing to deliver.
    pub fn processed() -> Self {
        JobOutcome {
            event_status: EventStatus::Processed,
            note: None,
            payment: None,
            delivery: None,
        }
    }

    /// Processed, applying `change` and queueing `delivery` if the change took effect.
    pub fn apply(change: PaymentChange, delivery: Option<NewDelivery>) -> Self {
        JobOutcome {
            payment: Some(change),
            delivery,
            ..JobOutcome::processed()
        }
    }
}

/// What [`EventStore::complete_job`](crate::EventStore::complete_job) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCompletion {
    /// What happened to the payment, if the outcome carried a change.
    pub payment: Option<PaymentEffect>,
    /// The delivery queued, if any.
    pub delivery: Option<DeliveryId>,
}
