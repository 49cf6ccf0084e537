//! Counts for metrics, read on a read connection: nothing is written for them.
//!
//! Events by status without counting the events table per scrape: received events are the jobs
//! queue (the inbox's invariant: a received event has exactly one queued job), failed, rejected
//! and suspicious ones come from the `events_attention` partial index (they are few), and
//! processed ones are the rest of the total. The total is counted in full once, then only the
//! rows added since (a range of the rowid `seq`, which only grows), and counted in full again
//! after [`RECOUNT`] in case rows were deleted by hand.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use malipo_core::EventStatus;
use rusqlite::Connection;

use super::rows::col;
use crate::error::Context;
use crate::{StoreError, StoreStats};

const OP: &str = "counting queues for metrics";

/// How long an incrementally kept total is trusted before a full count.
const RECOUNT: Duration = Duration::from_secs(60);

/// The events table's row count as last seen, shared by the read connections.
#[derive(Default)]
pub(crate) struct EventTotal(Mutex<Option<Seen>>);

#[derive(Clone, Copy)]
struct Seen {
    /// Rows with `seq <= high`.
    total: u64,
    high: i64,
    counted_at: Instant,
}

impl EventTotal {
    fn read(&self, conn: &Connection) -> Result<u64, StoreError> {
        let last = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        let seen = match last {
            Some(seen) if seen.counted_at.elapsed() < RECOUNT => {
                let (added, high) = new_rows(conn, seen.high)?;
                Seen {
                    total: seen.total + added,
                    high: high.max(seen.high),
                    counted_at: seen.counted_at,
                }
            }
            _ => {
                let (total, high) = new_rows(conn, i64::MIN)?;
                Seen {
                    total,
                    high,
                    counted_at: Instant::now(),
                }
            }
        };
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Two scrapes at once: the one that saw more rows is kept.
        if kept.is_none_or(|k| k.high <= seen.high || seen.counted_at > k.counted_at) {
            *kept = Some(seen);
        }
        Ok(seen.total)
    }
}

/// How many events have `seq > after`, and the highest `seq` (one read, one snapshot).
fn new_rows(conn: &Connection, after: i64) -> Result<(u64, i64), StoreError> {
    // A full count without a WHERE lets SQLite count the smallest index instead of walking the
    // table, whose pages hold every body (a third of a second per million events otherwise).
    let sql = if after == i64::MIN {
        "SELECT count(*), coalesce((SELECT max(seq) FROM events), ?1) FROM events"
    } else {
        "SELECT count(*), coalesce(max(seq), ?1) FROM events WHERE seq > ?1"
    };
    let mut stmt = conn.prepare_cached(sql).during(OP)?;
    let (n, high): (i64, i64) = stmt
        .query_row([after], |r| Ok((r.get(0)?, r.get(1)?)))
        .during(OP)?;
    Ok((u64::try_from(n).unwrap_or(0), high.max(0)))
}

fn count(conn: &Connection, sql: &str, now: Option<i64>) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql).during(OP)?;
    let n: i64 = match now {
        Some(now) => stmt.query_row([now], |r| r.get(0)),
        None => stmt.query_row([], |r| r.get(0)),
    }
    .during(OP)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn read(conn: &Connection, total: &EventTotal, now: i64) -> Result<StoreStats, StoreError> {
    // One snapshot for all counts, so processed (the difference) is never off by a commit.
    super::readers::in_one_snapshot(conn, |conn| read_in_snapshot(conn, total, now))
}

fn read_in_snapshot(conn: &Connection, total: &EventTotal, now: i64) -> Result<StoreStats, StoreError> {
    let jobs_queued = count(conn, "SELECT count(*) FROM jobs", None)?;
    let mut events: Vec<(EventStatus, u64)> = EventStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut stmt = conn
        .prepare_cached("SELECT status, count(*) FROM events WHERE status >= 2 GROUP BY status")
        .during(OP)?;
    let mut rows = stmt.query([]).during(OP)?;
    let mut settled_otherwise = 0;
    while let Some(row) = rows.next().during(OP)? {
        let code: i64 = col(row, 0, OP)?;
        let n = u64::try_from(col::<i64>(row, 1, OP)?).unwrap_or(0);
        if let Some(slot) = events.iter_mut().find(|(s, _)| s.code() == code) {
            slot.1 = n;
            settled_otherwise += n;
        }
    }
    drop(rows);
    let all = total.read(conn)?;
    for (status, n) in events.iter_mut() {
        match status {
            EventStatus::Received => *n = jobs_queued,
            EventStatus::Processed => *n = all.saturating_sub(jobs_queued + settled_otherwise),
            _ => {}
        }
    }
    Ok(StoreStats {
        jobs_queued,
        jobs_due: count(conn, "SELECT count(*) FROM jobs WHERE run_at <= ?1", Some(now))?,
        events,
        payments_pending: count(conn, "SELECT count(*) FROM payments WHERE state = 0", None)?,
        deliveries_pending: count(conn, "SELECT count(*) FROM deliveries WHERE status = 0", None)?,
        deliveries_dead: count(conn, "SELECT count(*) FROM deliveries WHERE status = 2", None)?,
        // Filled in by the store, which holds the writer.
        group_commits: None,
    })
}
