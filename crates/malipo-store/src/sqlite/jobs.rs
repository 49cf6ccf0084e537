//! The processing queue: claim, complete, fail.

use malipo_core::{EventId, EventStatus, JobId};
use rusqlite::{params, Connection};

use super::rows::{self, col};
use super::{deliveries, events, payments};
use crate::error::Context;
use crate::{Job, JobCompletion, JobOutcome, StoreError};

/// Leases up to `limit` due jobs to `worker`.
pub(crate) fn claim(
    conn: &Connection,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<Job>, StoreError> {
    const OP: &str = "claiming jobs";
    let lease_until = now.saturating_add(lease_ms);
    // Moving run_at to the lease's end is the lease: nobody else sees the job as due until then.
    let mut stmt = conn
        .prepare_cached(
            "UPDATE jobs SET run_at = ?1, lease_owner = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE run_at <= ?3 ORDER BY run_at LIMIT ?4) \
             RETURNING id, event_id, attempts",
        )
        .during(OP)?;
    let claimed = rows::all(
        &mut stmt,
        params![lease_until, worker, now, rows::page(limit)],
        OP,
        |r| {
            let id: String = col(r, 0, OP)?;
            let event: String = col(r, 1, OP)?;
            let attempts: i64 = col(r, 2, OP)?;
            Ok((id, event, attempts))
        },
    )?;
    let lease_until = rows::from_ms(lease_until, "jobs.run_at")?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for (id, event_id, attempts) in claimed {
        let event_id: EventId = rows::id(&event_id, "jobs.event_id")?;
        match events::get(conn, event_id)? {
            Some(event) => jobs.push(Job {
                id: rows::id(&id, "jobs.id")?,
                event,
                attempts: rows::count(attempts),
                lease_until,
            }),
            None => {
                // Only possible if someone pruned events by hand; the job can never run.
                tracing::warn!(job = %id, event = %event_id, "dropping a job whose event is gone");
                conn.prepare_cached("DELETE FROM jobs WHERE id = ?1")
                    .during(OP)?
                    .execute([&id])
                    .during(OP)?;
            }
        }
    }
    Ok(jobs)
}

fn take_job(conn: &Connection, job: JobId, op: &'static str) -> Result<String, StoreError> {
    let mut stmt = conn
        .prepare_cached("DELETE FROM jobs WHERE id = ?1 RETURNING event_id")
        .during(op)?;
    let event: Option<String> = rows::first(&mut stmt, [job.to_string()], op, |r| col(r, 0, op))?;
    event.ok_or_else(|| StoreError::NotFound {
        what: "job",
        id: job.to_string(),
    })
}

/// Completes a job with its outcome, atomically.
pub(crate) fn complete(
    conn: &Connection,
    job: JobId,
    outcome: &JobOutcome,
    now: i64,
) -> Result<JobCompletion, StoreError> {
    const OP: &str = "completing a job";
    let event = take_job(conn, job, OP)?;
    let payment = outcome
        .payment
        .as_ref()
        .map(|change| payments::apply(conn, change, now))
        .transpose()?;
    let note = outcome.note_after(payment.as_ref());
    let status = outcome.status_after(payment.as_ref());
    let payment_id = payment.as_ref().map(|p| p.payment().id.to_string());
    conn.prepare_cached(
        "UPDATE events SET status = ?1, attempts = attempts + 1, last_error = ?2, \
         payment_id = COALESCE(payment_id, ?3), updated_at = ?4 WHERE id = ?5",
    )
    .during(OP)?
    .execute(params![
        status.code(),
        note.as_deref().map(rows::clip),
        payment_id,
        now,
        event
    ])
    .during(OP)?;
    super::outbox::event_completed(conn, &event, status, note, payment_id.as_deref(), now)?;
    let delivery = outcome
        .delivery_after(payment.as_ref())
        .map(|d| deliveries::enqueue(conn, d, now))
        .transpose()?;
    Ok(JobCompletion { payment, delivery })
}

/// Completes `jobs` in order in the open transaction, each all-or-nothing: a failing one is
/// undone alone and later jobs see the effects of earlier ones. The outer error is for a failure
/// that leaves the transaction unusable: the writer then undoes the whole request.
///
/// Jobs almost never fail, so the batch first runs under one savepoint; only if a job fails is
/// that run undone and the batch run again with a savepoint per job. The answer is the same as
/// with a savepoint per job from the start, at a fraction of the savepoints.
pub(crate) fn complete_each(
    conn: &Connection,
    jobs: &[(JobId, JobOutcome)],
    now: i64,
) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
    if jobs.len() > 1 {
        savepoint(conn, "SAVEPOINT jobs")?;
        match complete_all(conn, jobs, now)? {
            Some(done) => {
                savepoint(conn, "RELEASE jobs")?;
                return Ok(done.into_iter().map(Ok).collect());
            }
            None => {
                savepoint(conn, "ROLLBACK TO jobs")?;
                savepoint(conn, "RELEASE jobs")?;
            }
        }
    }
    let mut done = Vec::with_capacity(jobs.len());
    for (job, outcome) in jobs {
        savepoint(conn, "SAVEPOINT job")?;
        let result = complete(conn, *job, outcome, now);
        usable(conn, &result)?;
        if result.is_err() {
            savepoint(conn, "ROLLBACK TO job")?;
        }
        savepoint(conn, "RELEASE job")?;
        done.push(result);
    }
    Ok(done)
}

/// Completes every job, or stops at the first that fails (`None`; the caller undoes the rest).
fn complete_all(
    conn: &Connection,
    jobs: &[(JobId, JobOutcome)],
    now: i64,
) -> Result<Option<Vec<JobCompletion>>, StoreError> {
    let mut done = Vec::with_capacity(jobs.len());
    for (job, outcome) in jobs {
        let result = complete(conn, *job, outcome, now);
        usable(conn, &result)?;
        match result {
            Ok(completion) => done.push(completion),
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(done))
}

const OP_BATCH: &str = "completing a batch of jobs";

fn savepoint(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)
        .during(OP_BATCH)?
        .execute([])
        .during(OP_BATCH)?;
    Ok(())
}

/// Fails when SQLite abandoned the transaction (I/O error, disk full): nothing of it stands.
fn usable<T>(conn: &Connection, result: &Result<T, StoreError>) -> Result<(), StoreError> {
    if !conn.is_autocommit() {
        return Ok(());
    }
    Err(match result {
        Err(e) => e.clone(),
        Ok(_) => StoreError::database(
            OP_BATCH,
            crate::error::Reason("SQLite rolled the transaction back".into()),
        ),
    })
}

/// Records a failed attempt: retry later, or give up and mark the event failed.
pub(crate) fn fail(
    conn: &Connection,
    job: JobId,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    const OP: &str = "recording a failed job";
    let error = rows::clip(error);
    let (event, status) = match retry_at {
        Some(at) => {
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE jobs SET run_at = ?1, lease_owner = NULL, last_error = ?2 \
                     WHERE id = ?3 RETURNING event_id",
                )
                .during(OP)?;
            let event: Option<String> =
                rows::first(&mut stmt, params![at, error, job.to_string()], OP, |r| {
                    col(r, 0, OP)
                })?;
            let event = event.ok_or_else(|| StoreError::NotFound {
                what: "job",
                id: job.to_string(),
            })?;
            (event, EventStatus::Received)
        }
        None => (take_job(conn, job, OP)?, EventStatus::Failed),
    };
    conn.prepare_cached(
        "UPDATE events SET status = ?1, attempts = attempts + 1, last_error = ?2, \
         updated_at = ?3 WHERE id = ?4",
    )
    .during(OP)?
    .execute(params![status.code(), error, now, event])
    .during(OP)?;
    Ok(())
}
