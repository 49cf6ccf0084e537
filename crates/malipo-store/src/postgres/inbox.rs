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

/// Stores events and, for each received one, its job, or finds the one already stored under its
/// dedup key; the answers are in the order of `events`. One statement writes every row, so it is
/// all-or-nothing without a savepoint, and PostgreSQL plans and runs one statement per batch
/// instead of one per event. Rows are inserted in the order given (the group commit sorts them,
/// so batches of several instances take the unique index's locks in one order).
///
/// Racing inserts of one key (from other connections or instances, or twice in `events`) are
/// settled by the unique index: `ON CONFLICT DO NOTHING` waits for the other transaction and,
/// once it committed, inserts nothing; the id is then read in a new statement, which sees that
/// commit (and the first of two in one batch).
pub(crate) async fn ingest_many(
    db: &Db<'_>,
    events: &[&NewEvent],
    now: i64,
) -> Result<Vec<Ingested>, StoreError> {
    let ids: Vec<EventId> = events.iter().map(|_| EventId::new()).collect();
    let keys: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let jobs: Vec<String> = events.iter().map(|_| JobId::new().to_string()).collect();
    let providers: Vec<&str> = events.iter().map(|ev| ev.provider.as_str()).collect();
    let kinds: Vec<&str> = events.iter().map(|ev| ev.kind.as_str()).collect();
    let dedup_keys: Vec<&str> = events.iter().map(|ev| ev.dedup_key.as_str()).collect();
    let bodies: Vec<&[u8]> = events.iter().map(|ev| &ev.raw_body[..]).collect();
    let source_ips: Vec<Option<String>> = events
        .iter()
        .map(|ev| ev.source_ip.map(|ip| ip.to_string()))
        .collect();
    let statuses: Vec<i64> = events.iter().map(|ev| ev.status.code()).collect();
    let last_errors: Vec<Option<&str>> = events
        .iter()
        .map(|ev| ev.last_error.as_deref().map(rows::clip))
        .collect();
    let payment_ids: Vec<Option<String>> = events
        .iter()
        .map(|ev| ev.payment_id.map(|p| p.to_string()))
        .collect();
    let accounts: Vec<Option<&str>> = events
        .iter()
        .map(|ev| ev.account.as_ref().map(|a| a.as_str()))
        .collect();
    let inserted = db
        .query(
            "WITH input AS ( \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
                 $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[]) \
                 WITH ORDINALITY AS t(id, provider, kind, dedup_key, body, source_ip, status, \
                 last_error, payment_id, account, job, ord)), \
             ev AS ( \
                 INSERT INTO events (id, provider, kind, dedup_key, body, received_at, source_ip, \
                 status, attempts, last_error, payment_id, updated_at, account) \
                 SELECT id, provider, kind, dedup_key, body, $12, source_ip, status, 0, last_error, \
                 payment_id, $12, account FROM input ORDER BY ord \
                 ON CONFLICT (provider, dedup_key) DO NOTHING RETURNING id, status), \
             job AS ( \
                 INSERT INTO jobs (id, event_id, kind, run_at, attempts, created_at) \
                 SELECT input.job, ev.id, $13, $12, 0, $12 FROM ev JOIN input ON input.id = ev.id \
                 WHERE ev.status = $14) \
             SELECT id, status FROM ev",
            &[
                &keys,
                &providers,
                &kinds,
                &dedup_keys,
                &bodies,
                &source_ips,
                &statuses,
                &last_errors,
                &payment_ids,
                &accounts,
                &jobs,
                &now,
                &JOB_PROCESS_EVENT,
                &EventStatus::Received.code(),
            ],
            OP_INGEST,
        )
        .await?;
    let mut new = std::collections::HashSet::with_capacity(inserted.len());
    for row in &inserted {
        let id: String = col(row, 0, OP_INGEST)?;
        let status: i64 = col(row, 1, OP_INGEST)?;
        if status == EventStatus::Received.code() {
            db.wake().job();
        }
        new.insert(id);
    }
    let mut answers: Vec<Option<Ingested>> = ids
        .iter()
        .zip(&keys)
        .map(|(id, key)| new.contains(key).then_some(Ingested::New(*id)))
        .collect();
    let missing: Vec<usize> = (0..events.len()).filter(|&i| answers[i].is_none()).collect();
    if !missing.is_empty() {
        let providers: Vec<&str> = missing.iter().map(|&i| providers[i]).collect();
        let dedup_keys: Vec<&str> = missing.iter().map(|&i| dedup_keys[i]).collect();
        let found = db
            .query(
                "SELECT t.ord, e.id FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY \
                 AS t(provider, dedup_key, ord) \
                 JOIN events e ON e.provider = t.provider AND e.dedup_key = t.dedup_key",
                &[&providers, &dedup_keys],
                OP_INGEST,
            )
            .await?;
        for row in &found {
            let ord: i64 = col(row, 0, OP_INGEST)?;
            let existing: String = col(row, 1, OP_INGEST)?;
            let Some(&i) = usize::try_from(ord - 1).ok().and_then(|o| missing.get(o)) else {
                continue;
            };
            answers[i] = Some(Ingested::Duplicate(rows::id(&existing, "events.id")?));
        }
    }
    answers
        .into_iter()
        .map(|answer| {
            answer.ok_or_else(|| StoreError::Database {
                op: OP_INGEST,
                source: crate::error::Reason::cause(
                    "the event holding this dedup key was deleted while this one was stored",
                ),
            })
        })
        .collect()
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
