//! The processing queue: claim, complete, fail.
//!
//! A claim is one `UPDATE` over a `FOR UPDATE SKIP LOCKED` pick of due jobs, so instances
//! claiming at once each get other jobs and none waits for another; moving `run_at` to the end
//! of the lease is the lease, so a crashed instance's jobs become due again by themselves.

use std::collections::{HashMap, HashSet};

use malipo_core::{EventStatus, JobId};
use tokio::sync::OnceCell;

use super::db::{Db, Wake};
use super::rows::col;
use super::{deliveries, events, payments};
use crate::convert as rows;
use crate::error::Context;
use crate::{Job, JobCompletion, JobOutcome, PaymentKey, StoreError};

/// Leases up to `limit` due jobs to `worker`, oldest first.
pub(crate) async fn claim(
    db: &Db<'_>,
    worker: &str,
    limit: usize,
    lease_ms: i64,
    now: i64,
) -> Result<Vec<Job>, StoreError> {
    const OP: &str = "claiming jobs";
    let lease_until = now.saturating_add(lease_ms);
    let claimed = db
        .query(
            "WITH due AS ( \
                 SELECT id AS due_id, run_at AS due_at FROM jobs WHERE run_at <= $3 \
                 ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs SET run_at = $1, lease_owner = $2, attempts = attempts + 1 \
             FROM due WHERE id = due_id \
             RETURNING id, event_id, attempts, due_at",
            &[&lease_until, &worker, &now, &rows::page(limit)],
            OP,
        )
        .await?;
    let mut claimed = claimed
        .iter()
        .map(|r| {
            Ok((
                col::<String>(r, 0, OP)?,
                col::<String>(r, 1, OP)?,
                col::<i64>(r, 2, OP)?,
                col::<i64>(r, 3, OP)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    claimed.sort_by(|a, b| (a.3, &a.0).cmp(&(b.3, &b.0)));
    let ids: Vec<String> = claimed.iter().map(|c| c.1.clone()).collect();
    let mut found: HashMap<String, _> = events::get_many(db, &ids)
        .await?
        .into_iter()
        .map(|e| (e.id.to_string(), e))
        .collect();
    let lease_until = rows::from_ms(lease_until, "jobs.run_at")?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for (id, event_id, attempts, _) in claimed {
        match found.remove(&event_id) {
            Some(event) => jobs.push(Job {
                id: rows::id(&id, "jobs.id")?,
                event,
                attempts: rows::count(attempts),
                lease_until,
            }),
            None => {
                // Only possible if someone pruned events by hand; the job can never run.
                tracing::warn!(job = %id, event = %event_id, "dropping a job whose event is gone");
                db.execute("DELETE FROM jobs WHERE id = $1", &[&id], OP).await?;
            }
        }
    }
    Ok(jobs)
}

/// Takes `jobs` off the queue in one statement; returns each one's event id, in order.
async fn take_jobs(
    db: &Db<'_>,
    jobs: &[(JobId, JobOutcome)],
    op: &'static str,
) -> Result<Vec<String>, StoreError> {
    take(db, jobs.iter().map(|(job, _)| job.to_string()).collect(), op).await
}

/// Takes the job `job` off the queue; returns its event id.
async fn take_job(db: &Db<'_>, job: JobId, op: &'static str) -> Result<String, StoreError> {
    let mut events = take(db, vec![job.to_string()], op).await?;
    events.pop().ok_or_else(|| StoreError::NotFound {
        what: "job",
        id: job.to_string(),
    })
}

async fn take(db: &Db<'_>, ids: Vec<String>, op: &'static str) -> Result<Vec<String>, StoreError> {
    let rows = db
        .query(
            "DELETE FROM jobs WHERE id = ANY($1) RETURNING id, event_id",
            &[&ids],
            op,
        )
        .await?;
    let mut taken: HashMap<String, String> = HashMap::with_capacity(rows.len());
    for row in &rows {
        taken.insert(col(row, 0, op)?, col(row, 1, op)?);
    }
    ids.into_iter()
        .map(|id| taken.remove(&id).ok_or(StoreError::NotFound { what: "job", id }))
        .collect()
}

/// Completes a job with its outcome (in the caller's transaction).
pub(crate) async fn complete(
    db: &Db<'_>,
    job: &(JobId, JobOutcome),
    now: i64,
) -> Result<JobCompletion, StoreError> {
    let mut done = complete_all(db, std::slice::from_ref(job), now, &Locked::new()).await?;
    done.pop()
        .ok_or_else(|| StoreError::Task("a completed job has no result".into()))
}

/// Completes `jobs` in order (in the caller's transaction), or fails at the first that cannot
/// be, leaving the transaction to be rolled back. The writes are those of completing them one
/// after the other, in a few statements for the batch where they do not depend on each other:
/// the jobs are taken off the queue in one, their events updated in one (the endpoints are
/// read once when `db` caches them, as [`complete_each`]'s does). Payment changes that cannot
/// see each other (see [`runs`]; `locked` is what [`lock_payments`] read) are sent together;
/// the others wait for the ones before them, since a later job may see an earlier one's (a
/// refund after the charge it refunds).
async fn complete_all(
    db: &Db<'_>,
    jobs: &[(JobId, JobOutcome)],
    now: i64,
    locked: &Locked,
) -> Result<Vec<JobCompletion>, StoreError> {
    const OP: &str = "completing a job";
    let events = take_jobs(db, jobs, OP).await?;
    let mut payments = Vec::with_capacity(jobs.len());
    let mut notes = Vec::with_capacity(jobs.len());
    let mut statuses = Vec::with_capacity(jobs.len());
    for run in runs(jobs, locked) {
        // All in flight at once: tokio-postgres pipelines them on the connection, and
        // `try_join_all` polls in order, so each statement reaches PostgreSQL in job order.
        let run = &jobs[run];
        let effects = futures::future::try_join_all(run.iter().map(|(_, outcome)| async move {
            match &outcome.payment {
                Some(change) => payments::apply(db, change, now).await.map(Some),
                None => Ok(None),
            }
        }))
        .await?;
        for ((_, outcome), payment) in run.iter().zip(effects) {
            let note = outcome.note_after(payment.as_ref());
            statuses.push(outcome.status_after(payment.as_ref()));
            notes.push(note.as_deref().map(rows::clip).map(str::to_owned));
            payments.push(payment);
        }
    }
    let payment_ids: Vec<Option<String>> = payments
        .iter()
        .map(|p| p.as_ref().map(|p| p.payment().id.to_string()))
        .collect();
    let codes: Vec<i64> = statuses.iter().map(|s| s.code()).collect();
    db.execute(
        "UPDATE events SET status = u.status, attempts = attempts + 1, last_error = u.note, \
         payment_id = COALESCE(events.payment_id, u.payment_id), updated_at = $5 \
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[]) AS u(id, status, note, payment_id) \
         WHERE events.id = u.id",
        &[&events, &codes, &notes, &payment_ids, &now],
        OP,
    )
    .await?;
    let mut done = Vec::with_capacity(jobs.len());
    for (((((_, outcome), event), payment), payment_id), (status, note)) in jobs
        .iter()
        .zip(&events)
        .zip(payments)
        .zip(&payment_ids)
        .zip(statuses.into_iter().zip(notes))
    {
        super::outbox::event_completed(db, event, status, note, payment_id.as_deref(), now).await?;
        let delivery = match outcome.delivery_after(payment.as_ref()) {
            Some(d) => Some(deliveries::enqueue(db, d, now).await?),
            None => None,
        };
        done.push(JobCompletion { payment, delivery });
    }
    Ok(done)
}

const OP_BATCH: &str = "completing a batch of jobs";

/// Completes `jobs` in order, each all-or-nothing, in one transaction of `client`.
///
/// Jobs almost never fail, so the batch first runs without savepoints; only if a job fails
/// (which in PostgreSQL aborts the transaction) is it rolled back and run again with a
/// savepoint per job, undoing a failing one alone. The answer is the same as with a savepoint
/// per job from the start, at a fraction of the round trips. The outer error is for a failure of
/// the transaction itself (the connection lost, the commit refused).
pub(crate) async fn complete_each(
    client: &mut deadpool_postgres::Client,
    jobs: &[(JobId, JobOutcome)],
    now: i64,
) -> Result<Vec<Result<JobCompletion, StoreError>>, StoreError> {
    if jobs.len() > 1 {
        let tx = client.transaction().await.during(OP_BATCH)?;
        let wake = Wake::default();
        let endpoints = OnceCell::new();
        let done = {
            let db = Db::tx(&tx, &wake).with_endpoints(&endpoints);
            let locked = lock_payments(&db, jobs).await?;
            complete_all(&db, jobs, now, &locked).await
        };
        match done {
            Ok(done) => {
                wake.notify(&tx).await?;
                tx.commit().await.during(OP_BATCH)?;
                return Ok(done.into_iter().map(Ok).collect());
            }
            Err(e) if super::errors::is_gone(&e) => return Err(e),
            Err(_) => {
                let _ = tx.rollback().await;
            }
        }
    }
    if let [job] = jobs {
        // One job: its transaction is its all-or-nothing, no savepoint needed.
        let tx = client.transaction().await.during(OP_BATCH)?;
        let wake = Wake::default();
        let result = complete(&Db::tx(&tx, &wake), job, now).await;
        return match result {
            Ok(done) => {
                wake.notify(&tx).await?;
                tx.commit().await.during(OP_BATCH)?;
                Ok(vec![Ok(done)])
            }
            Err(e) if super::errors::is_gone(&e) => Err(e),
            Err(e) => {
                let _ = tx.rollback().await;
                Ok(vec![Err(e)])
            }
        };
    }
    let mut tx = client.transaction().await.during(OP_BATCH)?;
    let wake = Wake::default();
    let endpoints = OnceCell::new();
    // Run one by one (each in its savepoint): what was read is not needed.
    lock_payments(&Db::tx(&tx, &wake), jobs).await?;
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        let savepoint = tx.savepoint("job").await.during(OP_BATCH)?;
        let result = {
            let db = Db::tx(&savepoint, &wake).with_endpoints(&endpoints);
            complete(&db, job, now).await
        };
        match &result {
            Ok(_) => savepoint.commit().await.during(OP_BATCH)?,
            Err(e) if super::errors::is_gone(e) => return Err(e.clone()),
            Err(_) => savepoint.rollback().await.during(OP_BATCH)?,
        }
        done.push(result);
    }
    wake.notify(&tx).await?;
    tx.commit().await.during(OP_BATCH)?;
    Ok(done)
}

/// What [`lock_payments`] read of each payment it locked, by id: the keys it can be found by
/// besides its id, and whether it has a parent (whose refund state its success may move).
type Locked = HashMap<String, (Option<PaymentKey>, bool)>;

/// Locks every payment the batch's outcomes change, in id order, before any is changed.
///
/// Two instances' batches may move the same payments in different orders (one has the
/// `succeeded` of payment A first, the other that of B); locking each as its job comes would
/// deadlock them, which PostgreSQL breaks only after `deadlock_timeout` by failing one. Taken
/// all at once in one order, the second batch simply waits for the first.
async fn lock_payments(db: &Db<'_>, jobs: &[(JobId, JobOutcome)]) -> Result<Locked, StoreError> {
    use crate::PaymentChange;
    let mut ids: Vec<String> = jobs
        .iter()
        .filter_map(|(_, outcome)| match outcome.payment.as_ref()? {
            PaymentChange::Transition { id, .. }
            | PaymentChange::Refund { id, .. }
            | PaymentChange::Confirm { id, .. } => Some(id.to_string()),
            PaymentChange::Record(_) => None,
        })
        .collect();
    if ids.len() < 2 {
        return Ok(Locked::new());
    }
    ids.sort();
    ids.dedup();
    let rows = db
        .query(
            "SELECT id, provider, provider_reference, parent_id IS NOT NULL FROM payments \
             WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
            OP_BATCH,
        )
        .await?;
    let mut locked = Locked::with_capacity(rows.len());
    for row in &rows {
        let provider: String = col(row, 1, OP_BATCH)?;
        let reference: Option<String> = col(row, 2, OP_BATCH)?;
        let key = match reference {
            Some(r) => Some(PaymentKey::ProviderRef(rows::provider(&provider)?, r)),
            None => None,
        };
        locked.insert(col(row, 0, OP_BATCH)?, (key, col(row, 3, OP_BATCH)?));
    }
    Ok(locked)
}

/// Splits `jobs` into runs, in order, whose payment changes cannot see each other's effects,
/// so that a run's changes may be sent together: each run's changes touch payments (by id and
/// by provider reference) that no other change of the run touches. Only recording a payment
/// and moving one read at [`lock_payments`] without a parent join runs; any other change
/// (a refund, a confirmation, the move of a refund, which moves its parent too) is a run alone.
fn runs(jobs: &[(JobId, JobOutcome)], locked: &Locked) -> Vec<std::ops::Range<usize>> {
    use crate::PaymentChange;
    let mut runs = Vec::new();
    let mut start = 0;
    let mut touched: HashSet<PaymentKey> = HashSet::new();
    for (i, (_, outcome)) in jobs.iter().enumerate() {
        let keys = match &outcome.payment {
            None => Some(Vec::new()),
            Some(PaymentChange::Record(p)) => Some(p.keys()),
            Some(PaymentChange::Transition { id, .. }) => match locked.get(&id.to_string()) {
                Some((reference, false)) => Some(
                    std::iter::once(PaymentKey::Id(*id))
                        .chain(reference.clone())
                        .collect(),
                ),
                _ => None,
            },
            Some(PaymentChange::Refund { .. } | PaymentChange::Confirm { .. }) => None,
        };
        match keys {
            Some(keys) if keys.iter().all(|k| !touched.contains(k)) => touched.extend(keys),
            Some(keys) => {
                runs.push(start..i);
                start = i;
                touched = keys.into_iter().collect();
            }
            None => {
                if start < i {
                    runs.push(start..i);
                }
                runs.push(i..i + 1);
                start = i + 1;
                touched.clear();
            }
        }
    }
    if start < jobs.len() {
        runs.push(start..jobs.len());
    }
    runs
}

/// Records a failed attempt: retry later, or give up and mark the event failed.
pub(crate) async fn fail(
    db: &Db<'_>,
    job: JobId,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    const OP: &str = "recording a failed job";
    let error = rows::clip(error);
    let (event, status) = match retry_at {
        Some(at) => {
            let row = db
                .opt(
                    "UPDATE jobs SET run_at = $1, lease_owner = NULL, last_error = $2 \
                     WHERE id = $3 RETURNING event_id",
                    &[&at, &error, &job.to_string()],
                    OP,
                )
                .await?;
            let row = row.ok_or_else(|| StoreError::NotFound {
                what: "job",
                id: job.to_string(),
            })?;
            (col::<String>(&row, 0, OP)?, EventStatus::Received)
        }
        None => (take_job(db, job, OP).await?, EventStatus::Failed),
    };
    db.execute(
        "UPDATE events SET status = $1, attempts = attempts + 1, last_error = $2, \
         updated_at = $3 WHERE id = $4",
        &[&status.code(), &error, &now, &event],
        OP,
    )
    .await?;
    Ok(())
}
