//! The event role: the inbox (event and job together), the job queue, and job completion.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use malipo_core::{EventId, EventStatus, JobId};

use super::{not_found, page, MemoryStore, QueuedJob, State};
use crate::port::{EventStore, Replayed};
use crate::sqlite::clip;
use crate::{
    EventFilter, EventRecord, EventSummary, Ingested, Job, JobCompletion, JobOutcome, NewEvent, StoreError,
};

#[async_trait]
impl EventStore for MemoryStore {
    async fn ingest(&self, event: NewEvent) -> Result<Ingested, StoreError> {
        crate::model::event::check(&event)?;
        self.write(|s, now| {
            let key = (event.provider.as_str().to_owned(), event.dedup_key.clone());
            if let Some(first) = s.dedup.get(&key) {
                return Ok(Ingested::Duplicate(*first));
            }
            let id = EventId::new();
            s.dedup.insert(key, id);
            let received = event.status == EventStatus::Received;
            s.events.insert(
                id,
                EventRecord {
                    summary: EventSummary {
                        id,
                        provider: event.provider,
                        kind: event.kind,
                        dedup_key: event.dedup_key,
                        received_at: now,
                        source_ip: event.source_ip,
                        status: event.status,
                        attempts: 0,
                        last_error: event.last_error.as_deref().map(|e| clip(e).to_owned()),
                        payment_id: event.payment_id,
                        body_len: event.raw_body.len() as u64,
                        account: event.account,
                    },
                    raw_body: event.raw_body,
                },
            );
            if received {
                queue(s, id, now);
            }
            Ok(Ingested::New(id))
        })
    }

    async fn get_event(&self, id: EventId) -> Result<Option<EventRecord>, StoreError> {
        Ok(self.read(|s| s.events.get(&id).cloned()))
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventSummary>, StoreError> {
        let since = filter
            .since
            .map(|t| EventId::from_parts(u128::try_from(t.timestamp_millis()).unwrap_or(0), 0));
        Ok(self.read(|s| {
            page(
                s.events
                    .values()
                    .rev()
                    .filter(|e| filter.provider.is_none_or(|p| e.provider == p))
                    .filter(|e| filter.status.is_none_or(|st| e.status == st))
                    .filter(|e| since.is_none_or(|since| e.id >= since))
                    .filter(|e| filter.before.is_none_or(|b| e.id < b))
                    .filter(|e| filter.payment_id.is_none_or(|p| e.payment_id == Some(p)))
                    .map(|e| e.summary.clone()),
                filter.limit,
            )
        }))
    }

    async fn replay(&self, id: EventId) -> Result<Replayed, StoreError> {
        self.write(|s, now| {
            let event = s.events.get_mut(&id).ok_or_else(|| not_found("event", id))?;
            if event.status == EventStatus::Received {
                if s.jobs.values().any(|j| j.event == id) {
                    return Ok(Replayed::AlreadyQueued);
                }
            } else {
                event.summary.status = EventStatus::Received;
            }
            queue(s, id, now);
            Ok(Replayed::Queued)
        })
    }

    async fn claim_jobs(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Job>, StoreError> {
        let _ = worker;
        self.write(|s, now| {
            let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
            let mut due: Vec<(JobId, DateTime<Utc>)> = s
                .jobs
                .iter()
                .filter(|(_, j)| j.run_at <= now)
                .map(|(id, j)| (*id, j.run_at))
                .collect();
            due.sort_by_key(|(id, at)| (*at, *id));
            due.truncate(limit.min(crate::sqlite::MAX_PAGE));
            let mut claimed = Vec::with_capacity(due.len());
            for (id, _) in due {
                let Some(job) = s.jobs.get_mut(&id) else { continue };
                job.run_at = lease_until;
                job.attempts += 1;
                let (event, attempts) = (job.event, job.attempts);
                match s.events.get(&event) {
                    Some(record) => claimed.push(Job {
                        id,
                        event: record.clone(),
                        attempts,
                        lease_until,
                    }),
                    None => {
                        s.jobs.remove(&id);
                    }
                }
            }
            Ok(claimed)
        })
    }

    async fn complete_job(&self, job: JobId, outcome: JobOutcome) -> Result<JobCompletion, StoreError> {
        self.write(|s, now| complete(s, job, &outcome, now))
    }

    async fn complete_jobs(
        &self,
        jobs: Vec<(JobId, JobOutcome)>,
    ) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
        // One lock for the batch, each job undone alone if it fails: what the SQLite adapter's
        // savepoints give.
        self.write(|s, now| {
            Ok(jobs
                .iter()
                .map(|(job, outcome)| {
                    let before = s.clone();
                    let result = complete(s, *job, outcome, now);
                    if result.is_err() {
                        *s = before;
                    }
                    result
                })
                .collect())
        })
    }

    async fn fail_job(
        &self,
        job: JobId,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write(|s, now| {
            let event = match retry_at {
                Some(at) => {
                    let queued = s.jobs.get_mut(&job).ok_or_else(|| not_found("job", job))?;
                    queued.run_at = at;
                    queued.event
                }
                None => s.jobs.remove(&job).ok_or_else(|| not_found("job", job))?.event,
            };
            if let Some(e) = s.events.get_mut(&event) {
                e.summary.status = if retry_at.is_some() {
                    EventStatus::Received
                } else {
                    EventStatus::Failed
                };
                e.summary.attempts += 1;
                e.summary.last_error = Some(clip(error).to_owned());
            }
            let _ = now;
            Ok(())
        })
    }
}

/// Queues the processing job of a received event (the inbox's invariant).
fn queue(s: &mut State, event: EventId, now: DateTime<Utc>) {
    s.jobs.insert(
        JobId::new(),
        QueuedJob {
            event,
            run_at: now,
            attempts: 0,
        },
    );
}

/// Completes a job as the SQLite adapter's `jobs::complete` does; the caller undoes a failure.
fn complete(
    s: &mut State,
    job: JobId,
    outcome: &JobOutcome,
    now: DateTime<Utc>,
) -> Result<JobCompletion, StoreError> {
    let event = s.jobs.remove(&job).ok_or_else(|| not_found("job", job))?.event;
    let payment = outcome
        .payment
        .as_ref()
        .map(|change| super::payments::apply(s, change, now))
        .transpose()?;
    let note = outcome.note_after(payment.as_ref());
    if let Some(e) = s.events.get_mut(&event) {
        e.summary.status = outcome.status_after(payment.as_ref());
        e.summary.attempts += 1;
        e.summary.last_error = note.as_deref().map(|n| clip(n).to_owned());
        if e.summary.payment_id.is_none() {
            e.summary.payment_id = payment.as_ref().map(|p| p.payment().id);
        }
    }
    let delivery = outcome
        .delivery_after(payment.as_ref())
        .map(|d| super::deliveries::enqueue(s, d, now));
    Ok(JobCompletion { payment, delivery })
}
