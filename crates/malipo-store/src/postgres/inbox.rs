//! The inbox: where an event and its processing job are written, in one statement.
//!
//! The invariant is the SQLite adapter's (see its `inbox.rs`): an event is `received` exactly
//! when one processing job for it is queued, and the two are written in the same transaction.

use malipo_core::{EventId, EventStatus, JobId};

use super::db::Db;
use super::rows::col;
use crate::convert as rows;
use crate::port::Replayed;
use crate::{Ingested, NewEvent, StoreError};

/// The only job kind so far: apply an event.
pub(crate) const JOB_PROCESS_EVENT: i64 = 0;

const OP_INGEST: &str = "storing an event";

/// Refuses, before it takes a place in a batch, what PostgreSQL's text columns cannot hold (a
/// NUL character; SQLite keeps it): one such event would otherwise fail its whole batch's
/// first attempt.
pub(crate) fn check(ev: &NewEvent) -> Result<(), StoreError> {
    crate::model::event::check(ev)?;
    let texts = [
        Some(ev.kind.as_str()),
        Some(ev.dedup_key.as_str()),
        ev.last_error.as_deref(),
    ];
    if texts.iter().flatten().any(|t| t.contains('\0')) {
        return Err(StoreError::Invalid(format!(
            "a {} event's kind, dedup key or error holds a NUL character",
            ev.provider
        )));
    }
    Ok(())
}

/// Stores an event and, when it is received, its job, or finds the one already stored under its
/// dedup key. One statement writes both rows, so it is all-or-nothing without a savepoint.
///
/// Racing inserts of one key (from other connections or instances) are settled by the unique
/// index: `ON CONFLICT DO NOTHING` waits for the other transaction and, once it committed,
/// inserts nothing; the id is then read in a new statement, which sees that commit.
pub(crate) async fn ingest(db: &Db<'_>, ev: &NewEvent, now: i64) -> Result<Ingested, StoreError> {
    let id = EventId::new();
    let key = id.to_string();
    let job = JobId::new().to_string();
    let source_ip = ev.source_ip.map(|ip| ip.to_string());
    let payment_id = ev.payment_id.map(|p| p.to_string());
    let last_error = ev.last_error.as_deref().map(rows::clip);
    let account = ev.account.as_ref().map(|a| a.as_str());
    let inserted = db
        .opt(
            "WITH ev AS ( \
                 INSERT INTO events (id, provider, kind, dedup_key, body, received_at, source_ip, \
                 status, attempts, last_error, payment_id, updated_at, account) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $6, $11) \
                 ON CONFLICT (provider, dedup_key) DO NOTHING RETURNING id, status), \
             job AS ( \
                 INSERT INTO jobs (id, event_id, kind, run_at, attempts, created_at) \
                 SELECT $12, id, $13, $6, 0, $6 FROM ev WHERE status = $14) \
             SELECT id FROM ev",
            &[
                &key,
                &ev.provider.as_str(),
                &ev.kind,
                &ev.dedup_key,
                &&ev.raw_body[..],
                &now,
                &source_ip,
                &ev.status.code(),
                &last_error,
                &payment_id,
                &account,
                &job,
                &JOB_PROCESS_EVENT,
                &EventStatus::Received.code(),
            ],
            OP_INGEST,
        )
        .await?;
    if inserted.is_some() {
        if ev.status == EventStatus::Received {
            db.wake().job();
        }
        return Ok(Ingested::New(id));
    }
    let existing = db
        .opt(
            "SELECT id FROM events WHERE provider = $1 AND dedup_key = $2",
            &[&ev.provider.as_str(), &ev.dedup_key],
            OP_INGEST,
        )
        .await?
        .ok_or_else(|| StoreError::Database {
            op: OP_INGEST,
            source: crate::error::Reason::cause(
                "the event holding this dedup key was deleted while this one was stored",
            ),
        })?;
    let existing: String = col(&existing, 0, OP_INGEST)?;
    Ok(Ingested::Duplicate(rows::id(&existing, "events.id")?))
}

/// Queues the processing job of the event whose id is `event`.
async fn insert_job(db: &Db<'_>, event: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO jobs (id, event_id, kind, run_at, attempts, created_at) \
         VALUES ($1, $2, $3, $4, 0, $4)",
        &[&JobId::new().to_string(), &event, &JOB_PROCESS_EVENT, &now],
        "queueing a processing job",
    )
    .await?;
    db.wake().job();
    Ok(())
}

/// Puts an event back in the processing queue (in a transaction: it may write two rows). The
/// event row is locked first, so two replays of one event queue one job.
pub(crate) async fn replay(db: &Db<'_>, id: EventId, now: i64) -> Result<Replayed, StoreError> {
    const OP: &str = "replaying an event";
    let key = id.to_string();
    let row = db
        .opt("SELECT status FROM events WHERE id = $1 FOR UPDATE", &[&key], OP)
        .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound {
            what: "event",
            id: key,
        });
    };
    let status: i64 = col(&row, 0, OP)?;
    if status == EventStatus::Received.code() {
        let queued: bool = col(
            &db.one(
                "SELECT EXISTS (SELECT 1 FROM jobs WHERE event_id = $1)",
                &[&key],
                OP,
            )
            .await?,
            0,
            OP,
        )?;
        if queued {
            return Ok(Replayed::AlreadyQueued);
        }
    } else {
        db.execute(
            "UPDATE events SET status = $1, updated_at = $2 WHERE id = $3",
            &[&EventStatus::Received.code(), &now, &key],
            OP,
        )
        .await?;
    }
    insert_job(db, &key, now).await?;
    Ok(Replayed::Queued)
}
