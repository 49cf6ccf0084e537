//! Counts for metrics, read in one snapshot.
//!
//! As in the SQLite adapter, nothing counts the whole events table per scrape: received events
//! are the jobs queue (the inbox's invariant), failed, rejected and suspicious ones come from
//! the `events_attention` partial index (they are few), and processed ones are the rest of the
//! total. The total is counted in full once, then as a settled part plus the rows above it (a
//! range of the identity `seq` on its primary key), and in full again after [`RECOUNT`] in case
//! rows were deleted by hand. The other counts read partial indexes or small queues.
//!
//! Unlike SQLite's single writer, transactions here take `seq` values when they insert and may
//! commit out of order, so a row below the highest `seq` seen can still appear. A `seq` only
//! joins the settled part once it was seen as the highest at least [`SETTLE`] earlier, longer
//! than any ingest transaction stays open (its statements are bounded by the statement timeout),
//! and the rows above the settled part are counted at every scrape.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use malipo_core::EventStatus;

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;

use super::db::{Db, Wake};
use super::rows::col;
use crate::error::Context;
use crate::{StoreError, StoreStats};

const OP: &str = "counting queues for metrics";

/// How long the settled part of the total is trusted before a full count.
const RECOUNT: Duration = Duration::from_secs(600);

/// How long after a `seq` was the highest seen every transaction that took a lower one has
/// ended.
const SETTLE: Duration = Duration::from_secs(120);

/// The events table's row count as last settled, shared by the store's connections.
#[derive(Debug, Default)]
pub(crate) struct EventTotal(Mutex<Option<Kept>>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kept {
    /// Rows with `seq <= settled`.
    base: u64,
    settled: i64,
    /// When the settled part was last counted in full.
    counted_at: Instant,
    /// The highest `seq` seen, and when: settled once [`SETTLE`] has passed.
    seen: Option<(i64, Instant)>,
}

/// What one scrape counts: the rows above `after`, and among them those up to `upto` (the `seq`
/// that settles now, or `after` when none does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    base: u64,
    after: i64,
    upto: i64,
    full: bool,
}

/// What the scrape found above `after`: rows up to `upto`, all rows, and the highest `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    settling: u64,
    above: u64,
    high: i64,
}

impl EventTotal {
    fn plan(&self, now: Instant) -> Plan {
        let kept = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        plan(kept, now)
    }

    fn keep(&self, plan: Plan, found: Found, now: Instant) -> u64 {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (next, total) = next(*kept, plan, found, now);
        // Two scrapes at once: the one that settled more is kept (both are exact).
        if kept.is_none_or(|k| next.settled >= k.settled || next.counted_at > k.counted_at) {
            *kept = Some(next);
        }
        total
    }
}

fn plan(kept: Option<Kept>, now: Instant) -> Plan {
    let (base, after, full) = match kept {
        Some(k) if now.duration_since(k.counted_at) < RECOUNT => (k.base, k.settled, false),
        _ => (0, 0, true),
    };
    let upto = kept
        .and_then(|k| k.seen)
        .filter(|(seq, at)| *seq > after && now.duration_since(*at) >= SETTLE)
        .map_or(after, |(seq, _)| seq);
    Plan {
        base,
        after,
        upto,
        full,
    }
}

/// The state after a scrape that ran `plan` and found `found`, and the total it read.
fn next(kept: Option<Kept>, plan: Plan, found: Found, now: Instant) -> (Kept, u64) {
    let total = plan.base + found.above;
    let settled_now = plan.upto > plan.after;
    let seen = match kept.and_then(|k| k.seen) {
        // Still waiting to settle: keep the older mark, it settles sooner.
        Some(mark) if !settled_now && mark.0 > plan.after => Some(mark),
        _ if found.high > plan.upto => Some((found.high, now)),
        _ => None,
    };
    let counted_at = match kept {
        Some(k) if !plan.full => k.counted_at,
        _ => now,
    };
    let next = Kept {
        base: plan.base + found.settling,
        settled: plan.upto,
        counted_at,
        seen,
    };
    (next, total)
}

/// How long the statement that counts the events table in full may run. It is bounded by the
/// store's statement timeout otherwise, which a full count of a very large table (about a
/// quarter of a second per million events on a small server) could outlast.
const FULL_COUNT_TIMEOUT: &str = "SET LOCAL statement_timeout = '5min'";

const SQL: &str = "SELECT (SELECT count(*) FROM jobs), \
        (SELECT count(*) FROM jobs WHERE run_at <= $1), \
        e.settling, e.above, e.high, \
        (SELECT count(*) FROM payments WHERE state = 0), \
        (SELECT count(*) FROM deliveries WHERE status = 0), \
        (SELECT count(*) FROM deliveries WHERE status = 2), \
        c.statuses, c.counts \
    FROM (SELECT count(*) FILTER (WHERE seq <= $3) AS settling, count(*) AS above, \
                 coalesce(max(seq), $2) AS high \
          FROM events WHERE seq > $2) e, \
         (SELECT coalesce(array_agg(status ORDER BY status), '{}') AS statuses, \
                 coalesce(array_agg(n ORDER BY status), '{}') AS counts \
          FROM (SELECT status, count(*) AS n FROM events WHERE status >= 2 GROUP BY status) g) c";

/// Reads every count in one statement, hence one snapshot: processed (a difference) is never off
/// by a commit landing between two counts. A full count runs in a transaction of its own, only
/// to give it a longer statement timeout.
pub(crate) async fn read(
    client: &mut Client,
    total: &EventTotal,
    now: i64,
) -> Result<StoreStats, StoreError> {
    let plan = total.plan(Instant::now());
    let params: [&(dyn ToSql + Sync); 3] = [&now, &plan.after, &plan.upto];
    let row = if plan.full {
        let tx = client.transaction().await.during(OP)?;
        tx.batch_execute(FULL_COUNT_TIMEOUT).await.during(OP)?;
        let wake = Wake::default();
        let row = Db::tx(&tx, &wake).one(SQL, &params, OP).await?;
        // Nothing was written.
        tx.rollback().await.during(OP)?;
        row
    } else {
        Db::read(client).one(SQL, &params, OP).await?
    };
    let n =
        |i: usize| -> Result<u64, StoreError> { Ok(u64::try_from(col::<i64>(&row, i, OP)?).unwrap_or(0)) };
    let jobs_queued = n(0)?;
    let found = Found {
        settling: n(2)?,
        above: n(3)?,
        high: col(&row, 4, OP)?,
    };
    let all = total.keep(plan, found, Instant::now());
    let statuses: Vec<i64> = col(&row, 8, OP)?;
    let counts: Vec<i64> = col(&row, 9, OP)?;
    let mut events: Vec<(EventStatus, u64)> = EventStatus::ALL.iter().map(|s| (*s, 0)).collect();
    let mut settled_otherwise = 0;
    for (code, count) in statuses.into_iter().zip(counts) {
        let count = u64::try_from(count).unwrap_or(0);
        if let Some(slot) = events.iter_mut().find(|(s, _)| s.code() == code) {
            slot.1 = count;
            settled_otherwise += count;
        }
    }
    for (status, count) in events.iter_mut() {
        match status {
            EventStatus::Received => *count = jobs_queued,
            EventStatus::Processed => *count = all.saturating_sub(jobs_queued + settled_otherwise),
            _ => {}
        }
    }
    Ok(StoreStats {
        jobs_queued,
        jobs_due: n(1)?,
        events,
        payments_pending: n(5)?,
        deliveries_pending: n(6)?,
        deliveries_dead: n(7)?,
        group_commits: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs scrapes over a table whose rows are `seqs` at each step, as the query would count
    /// them, and returns the totals read.
    fn scrape(total: &EventTotal, seqs: &[i64], now: Instant) -> u64 {
        let plan = total.plan(now);
        let above: Vec<i64> = seqs.iter().copied().filter(|s| *s > plan.after).collect();
        let found = Found {
            settling: above.iter().filter(|s| **s <= plan.upto).count() as u64,
            above: above.len() as u64,
            high: above.iter().copied().max().unwrap_or(plan.after),
        };
        total.keep(plan, found, now)
    }

    #[test]
    fn the_total_stays_exact_as_rows_settle_and_late_commits_land() {
        let total = EventTotal::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // A first scrape counts everything.
        assert_eq!(scrape(&total, &[1, 2, 3], at(0)), 3);
        assert!(total.plan(at(1)).upto == 0, "nothing settles before SETTLE");
        // Seq 4 was taken by a transaction still open; 5 and 6 committed.
        assert_eq!(scrape(&total, &[1, 2, 3, 5, 6], at(60)), 5);
        // Past SETTLE the mark seen first (3) settles: only rows above it are counted again.
        let plan = total.plan(at(130));
        assert_eq!((plan.after, plan.upto, plan.full), (0, 3, false));
        assert_eq!(scrape(&total, &[1, 2, 3, 5, 6], at(130)), 5);
        assert_eq!(total.plan(at(131)).after, 3);
        // The late row 4 lands above the settled part, so it is counted.
        assert_eq!(scrape(&total, &[1, 2, 3, 4, 5, 6, 7], at(140)), 7);
        // Later marks settle in turn, and the total is still every row.
        assert_eq!(scrape(&total, &[1, 2, 3, 4, 5, 6, 7, 8], at(300)), 8);
        assert!(total.plan(at(301)).after > 3);
        assert_eq!(scrape(&total, &[1, 2, 3, 4, 5, 6, 7, 8, 9], at(500)), 9);
    }

    #[test]
    fn rows_deleted_by_hand_are_noticed_at_the_next_full_count() {
        let total = EventTotal::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let rows: Vec<i64> = (1..=10).collect();
        assert_eq!(scrape(&total, &rows, at(0)), 10);
        assert_eq!(scrape(&total, &rows, at(200)), 10);
        assert_eq!(total.plan(at(201)).after, 10, "everything settled");
        // Rows 1..=5 are deleted: the settled part still counts them until the recount.
        let rows: Vec<i64> = (6..=11).collect();
        assert_eq!(scrape(&total, &rows, at(300)), 11);
        assert!(total.plan(at(601)).full);
        assert_eq!(scrape(&total, &rows, at(601)), 6);
    }
}
