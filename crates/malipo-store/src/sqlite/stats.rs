//! Counts for metrics, all from indexes or the trigger-kept `event_counts`.

use malipo_core::EventStatus;
use rusqlite::Connection;

use super::rows::col;
use crate::error::Context;
use crate::{StoreError, StoreStats};

const OP: &str = "counting queues for metrics";

fn count(conn: &Connection, sql: &str, now: Option<i64>) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql).during(OP)?;
    let n: i64 = match now {
        Some(now) => stmt.query_row([now], |r| r.get(0)),
        None => stmt.query_row([], |r| r.get(0)),
    }
    .during(OP)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn read(conn: &Connection, now: i64) -> Result<StoreStats, StoreError> {
    let mut events: Vec<(EventStatus, u64)> = EventStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut stmt = conn
        .prepare_cached("SELECT status, n FROM event_counts")
        .during(OP)?;
    let mut rows = stmt.query([]).during(OP)?;
    while let Some(row) = rows.next().during(OP)? {
        let code: i64 = col(row, 0, OP)?;
        let n: i64 = col(row, 1, OP)?;
        if let Some(slot) = events.iter_mut().find(|(s, _)| s.code() == code) {
            slot.1 = u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(StoreStats {
        jobs_queued: count(conn, "SELECT count(*) FROM jobs", None)?,
        jobs_due: count(conn, "SELECT count(*) FROM jobs WHERE run_at <= ?1", Some(now))?,
        events,
        payments_pending: count(conn, "SELECT count(*) FROM payments WHERE state = 0", None)?,
        deliveries_pending: count(conn, "SELECT count(*) FROM deliveries WHERE status = 0", None)?,
        deliveries_dead: count(conn, "SELECT count(*) FROM deliveries WHERE status = 2", None)?,
    })
}
