//! The inbox: the inbound half of the outbox, where an event and its processing job are written.
//!
//! **Invariant: an event is `received` exactly when one processing job for it is queued, and the
//! two are written in the same transaction.** [`ingest`] writes a received event together with
//! its job, [`replay`] puts an event back to `received` together with a new job, and the jobs
//! module removes the job in the transaction that gives the event its final status. Nothing
//! else writes events or jobs, so a committed event is never left without its job (the worker
//! would never see it) and a job never outlives its event's processing. `stats` relies on it to
//! count received events from the short jobs queue instead of the events table.
//!
//! The pair is written here, in Rust, rather than by a trigger (as before migration 6), so the
//! job's id, kind and status codes come from the same code as everything else that reads them.

use malipo_core::{EventId, EventStatus, JobId};
use rusqlite::{params, Connection};

use super::rows::{self, col};
use crate::error::Context;
use crate::port::Replayed;
use crate::{Ingested, NewEvent, StoreError};

/// The only job kind so far: apply an event.
pub(crate) const JOB_PROCESS_EVENT: i64 = 0;

const OP_INGEST: &str = "storing an event";

/// Stores an event and, when it is received, its job.
///
/// The writer runs this without a savepoint (one costs a sub-journal write of every page the
/// request touches): the duplicate check is the INSERT's own `ON CONFLICT DO NOTHING`, and if
/// queueing the job fails after the event went in, the event is deleted again before the error
/// is returned, or, should even that fail, the whole transaction is rolled back, which the
/// writer answers as a failed batch. Either way nothing of a failed ingest is committed.
pub(crate) fn ingest(conn: &Connection, ev: &NewEvent, now: i64) -> Result<Ingested, StoreError> {
    crate::model::event::check(ev)?;
    let id = EventId::new();
    let key = id.to_string();
    let source_ip = ev.source_ip.map(|ip| ip.to_string());
    let payment_id = ev.payment_id.map(|p| p.to_string());
    let inserted = conn
        .prepare_cached(
            "INSERT INTO events (id, provider, kind, dedup_key, body, received_at, source_ip, \
             status, attempts, last_error, payment_id, updated_at, account) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?6, ?11) \
             ON CONFLICT (provider, dedup_key) DO NOTHING",
        )
        .during(OP_INGEST)?
        .execute(params![
            key,
            ev.provider.as_str(),
            ev.kind,
            ev.dedup_key,
            &ev.raw_body[..],
            now,
            source_ip,
            ev.status.code(),
            ev.last_error.as_deref().map(rows::clip),
            payment_id,
            ev.account.as_ref().map(|a| a.as_str()),
        ])
        .during(OP_INGEST)?;
    if inserted == 0 {
        let existing: String = conn
            .prepare_cached("SELECT id FROM events WHERE provider = ?1 AND dedup_key = ?2")
            .during(OP_INGEST)?
            .query_row(params![ev.provider.as_str(), ev.dedup_key], |r| r.get(0))
            .during(OP_INGEST)?;
        return Ok(Ingested::Duplicate(rows::id(&existing, "events.id")?));
    }
    if ev.status == EventStatus::Received {
        if let Err(e) = insert_job(conn, &key, now) {
            return Err(undo_event(conn, &key, e));
        }
    }
    Ok(Ingested::New(id))
}

/// Takes back an event whose job could not be queued; returns `cause` for the caller.
fn undo_event(conn: &Connection, key: &str, cause: StoreError) -> StoreError {
    // SQLite may already have abandoned the transaction (I/O error, disk full): nothing stands.
    if conn.is_autocommit() {
        return cause;
    }
    let deleted = conn
        .prepare_cached("DELETE FROM events WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([key]));
    if let Err(e) = deleted {
        tracing::error!(error = %e, "cannot take back an event without its job: rolling the batch back");
        let _ = conn.execute_batch("ROLLBACK");
    }
    cause
}

/// Queues the processing job of the event whose id is `event`.
fn insert_job(conn: &Connection, event: &str, now: i64) -> Result<(), StoreError> {
    const OP: &str = "queueing a processing job";
    conn.prepare_cached(
        "INSERT INTO jobs (id, event_id, kind, run_at, attempts, created_at) \
         VALUES (?1, ?2, ?3, ?4, 0, ?4)",
    )
    .during(OP)?
    .execute(params![JobId::new().to_string(), event, JOB_PROCESS_EVENT, now])
    .during(OP)?;
    Ok(())
}

/// Puts an event back in the processing queue (run in a savepoint: it may write two rows).
pub(crate) fn replay(conn: &Connection, id: EventId, now: i64) -> Result<Replayed, StoreError> {
    const OP: &str = "replaying an event";
    let key = id.to_string();
    let mut stmt = conn
        .prepare_cached("SELECT status FROM events WHERE id = ?1")
        .during(OP)?;
    let status: Option<i64> = rows::first(&mut stmt, [&key], OP, |r| col(r, 0, OP))?;
    let Some(status) = status else {
        return Err(StoreError::NotFound {
            what: "event",
            id: key,
        });
    };
    if status == EventStatus::Received.code() {
        // By the invariant a received event has its job queued; replay is rare, so a scan of
        // the (short) job queue is cheaper than indexing every job by event.
        let queued: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM jobs WHERE event_id = ?1)")
            .during(OP)?
            .query_row([&key], |r| r.get(0))
            .during(OP)?;
        if queued {
            return Ok(Replayed::AlreadyQueued);
        }
    } else {
        conn.prepare_cached("UPDATE events SET status = ?1, updated_at = ?2 WHERE id = ?3")
            .during(OP)?
            .execute(params![EventStatus::Received.code(), now, key])
            .during(OP)?;
    }
    insert_job(conn, &key, now)?;
    Ok(Replayed::Queued)
}

#[cfg(test)]
mod tests {
    use malipo_core::Provider;

    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate::run(&mut conn).unwrap();
        conn
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn event(key: &str) -> NewEvent {
        NewEvent::received(Provider::Paystack, "charge.success", key, &b"{}"[..])
    }

    #[test]
    fn an_event_whose_job_cannot_be_queued_is_taken_back_and_the_transaction_goes_on() {
        let conn = migrated();
        conn.execute_batch("BEGIN").unwrap();
        assert!(ingest(&conn, &event("a"), 1).unwrap().is_new());
        conn.execute_batch(
            "CREATE TEMP TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'no'); END",
        )
        .unwrap();
        assert!(ingest(&conn, &event("b"), 2).is_err());
        // The other request's event and job stand; the failed one left nothing.
        assert!(!conn.is_autocommit(), "the batch's transaction is still open");
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!((count(&conn, "events"), count(&conn, "jobs")), (1, 1));
        conn.execute_batch("DROP TRIGGER no_jobs").unwrap();
        assert!(
            ingest(&conn, &event("b"), 3).unwrap().is_new(),
            "b was never stored"
        );
    }

    #[test]
    fn only_a_received_event_gets_a_job_and_a_duplicate_gets_none() {
        let conn = migrated();
        let mut failed = event("f");
        failed.status = EventStatus::Failed;
        ingest(&conn, &failed, 1).unwrap();
        let first = ingest(&conn, &event("r"), 1).unwrap();
        assert_eq!(
            ingest(&conn, &event("r"), 2).unwrap(),
            Ingested::Duplicate(first.id())
        );
        assert_eq!((count(&conn, "events"), count(&conn, "jobs")), (2, 1));
    }

    #[test]
    fn when_the_event_cannot_be_taken_back_either_the_whole_transaction_is_rolled_back() {
        let conn = migrated();
        conn.execute_batch(
            "CREATE TEMP TRIGGER no_jobs BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'no'); END; \
             CREATE TEMP TRIGGER keep_events BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'no'); END; \
             BEGIN",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (-2, 'other', 0)",
            [],
        )
        .unwrap();
        assert!(ingest(&conn, &event("c"), 1).is_err());
        // The writer sees the transaction gone and answers every request of the batch with an error.
        assert!(conn.is_autocommit());
        assert_eq!(count(&conn, "events"), 0);
        let other: i64 = conn
            .query_row(
                "SELECT count(*) FROM schema_migrations WHERE version = -2",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(other, 0, "nothing of the batch was committed");
    }
}
